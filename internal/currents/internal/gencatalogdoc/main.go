// Command gencatalogdoc rewrites the README's generated reference of the
// catalog (the table of event types and the event_names block for colliding
// names) from currents.DefaultCatalog().
//
// Run it with `go generate ./internal/currents`, after gencatalog.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/currents/internal/catalogdoc"
)

func main() {
	readme := flag.String("readme", "README.md", "file to update")
	flag.Parse()
	old, err := os.ReadFile(*readme)
	if err != nil {
		log.Fatal(err)
	}
	updated, err := catalogdoc.Update(old, currents.DefaultCatalog())
	if err != nil {
		log.Fatalf("%s: %v", *readme, err)
	}
	if bytes.Equal(old, updated) {
		return
	}
	if err := os.WriteFile(*readme, updated, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "updated %s\n", *readme)
}
