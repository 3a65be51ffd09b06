// Command gencatalog writes currents/catalog_table.go from the embedded
// Currents contract (internal/spec/events.json), so that the mapping rules are
// plain Go that a reviewer can read and the hot path never consults JSON.
//
// Run it with `go generate ./internal/currents`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"

	"github.com/currents-segment/currents-segment/internal/currents/internal/catalogsrc"
)

func main() {
	out := flag.String("out", "catalog_table.go", "file to write")
	flag.Parse()
	src, err := catalogsrc.Render()
	if err != nil {
		log.Fatal(err)
	}
	formatted, err := format.Source(src)
	if err != nil {
		log.Fatalf("generated code does not parse: %v\n%s", err, src)
	}
	if err := os.WriteFile(*out, formatted, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d bytes)\n", *out, len(bytes.TrimSpace(formatted)))
}
