// Command gensamples writes generated Braze Currents events: JSON lines in the
// storage, HTTP event or HTTP batch shape, and optionally a storage export
// tree of Avro files. The same flags and seed always give the same bytes; see
// the package documentation of internal/samples for the command that
// reproduces the bundled quickstart data.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/currents-segment/currents-segment/internal/samples"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gensamples:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gensamples", flag.ContinueOnError)
	n := fs.Int("n", 1000, "number of JSON events to write (0 for none)")
	shapeName := fs.String("shape", "batch", "JSON lines shape: storage, http or batch")
	batch := fs.Int("batch", samples.DefaultBatchSize, "events per {\"events\":[...]} line of the batch shape")
	seed := fs.Int64("seed", 1, "random seed; the same seed and flags give the same bytes")
	out := fs.String("out", "-", "JSON lines output file, - for standard output")
	avroDir := fs.String("avro-dir", "", "if set, also write a storage export tree of Avro files under this folder")
	perType := fs.Int("per-type", 3, "events per event type in the storage export")
	startFlag := fs.String("start", "2026-11-28T13:00:00Z", "start of the storage export's five-minute window (RFC 3339)")
	compression := fs.String("compression", samples.CompressionNull, "Avro block compression: null, deflate or snappy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	shape, err := samples.ParseShape(*shapeName)
	if err != nil {
		return err
	}
	start, err := time.Parse(time.RFC3339, *startFlag)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}

	g := samples.New(*seed)
	if *n > 0 {
		w := stdout
		if *out != "-" {
			if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
				return err
			}
			f, err := os.Create(*out)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		if shape == samples.ShapeHTTPBatch {
			err = g.WriteHTTPBatches(w, *n, *batch)
		} else {
			err = g.WriteJSONLines(w, *n, shape)
		}
		if err != nil {
			return err
		}
		if f, ok := w.(*os.File); ok && f != os.Stdout {
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
	if *avroDir != "" {
		return g.WriteStorageExport(*avroDir, *perType, start, samples.WithCompression(*compression))
	}
	return nil
}
