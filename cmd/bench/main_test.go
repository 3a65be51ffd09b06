package main

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/samples"
)

// The committed connector.blobl is what the generator makes of the catalog.
func TestConnectorBloblUpToDate(t *testing.T) {
	if generateBlobl(currents.DefaultCatalog()) != connectorBlobl {
		t.Fatal("cmd/bench/connector.blobl is stale: run go run ./cmd/bench -write-blobl")
	}
}

// The Bloblang baseline makes the same calls as currents_to_segment
// (anonymous_users: send), so the benchmark compares equal work: 20,000
// generated events of every type, including the users with no id at all,
// which both drop.
func TestConnectorBloblEquivalent(t *testing.T) {
	var buf bytes.Buffer
	if err := samples.New(42).WriteJSONLines(&buf, 20000, samples.ShapeHTTPEvent); err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	n, err := checkEquivalent(connectorBlobl, lines)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(lines) {
		t.Fatalf("compared %d of %d events", n, len(lines))
	}
}
