package main

import (
	"testing"
)

// The committed mappings are what the generator makes of the catalog.
func TestConnectorBloblUpToDate(t *testing.T) {
	if err := checkConnectorBloblCurrent(); err != nil {
		t.Fatal(err)
	}
}
