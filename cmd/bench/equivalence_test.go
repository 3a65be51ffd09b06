package main

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/currents-segment/currents-segment/internal/samples"
)

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

// A mapping that differs from the processor is caught, with the event.
func TestCheckEquivalentFindsDifference(t *testing.T) {
	var buf bytes.Buffer
	if err := samples.New(42).WriteJSONLines(&buf, 50, samples.ShapeHTTPEvent); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	wrong := connectorBlobl + "\nroot.event = if this != null { \"Something else\" }\n"
	if _, err := checkEquivalent(wrong, lines); err == nil {
		t.Fatal("a mapping with another event name passed the check")
	}
}

// The storage baseline makes the same calls as currents_to_segment from the
// same Avro files: an export of every storage type, read as the peer
// pipeline's avro-ocf codec reads it.
func TestConnectorStorageBloblEquivalent(t *testing.T) {
	dir := t.TempDir()
	fx, err := writeStorageFixture(dir, 20000, 42)
	if err != nil {
		t.Fatal(err)
	}
	n, err := checkStorageEquivalent(connectorStorageBlobl, dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if n != 20000 {
		t.Fatalf("compared %d of 20000 records (%d mapped)", n, fx.expected)
	}
	wrong := connectorStorageBlobl + "\nroot.event = if this != null { \"Something else\" }\n"
	if _, err := checkStorageEquivalent(wrong, dir, 10); err == nil {
		t.Fatal("a mapping with another event name passed the check")
	}
}
