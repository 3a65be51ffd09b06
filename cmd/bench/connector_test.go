package main

import (
	"testing"

	"github.com/currents-segment/currents-segment/internal/currents"
)

// The committed connector.blobl is what the generator makes of the catalog.
func TestConnectorBloblUpToDate(t *testing.T) {
	if generateBlobl(currents.DefaultCatalog()) != connectorBlobl {
		t.Fatal("cmd/bench/connector.blobl is stale: run go run ./cmd/bench -write-blobl")
	}
}
