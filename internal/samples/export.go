package samples

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// IntegrationID is the made-up Currents integration id in the paths of
// WriteStorageExport, shaped like Braze's (a 24-hex object id).
const IntegrationID = "6470f1a3c2b9d8001f4e2a57"

// ExportPrefix is the folder under the export root that holds one integration's
// files: Braze writes "currents/dataexport.<cluster>.<storage>.integration.<id>".
const ExportPrefix = "currents/dataexport.prod-01.S3.integration." + IntegrationID

// flushWindow is how far apart the events of one exported file lie: Braze
// writes a file every five minutes (or every 15,000 events).
const flushWindow = 5 * time.Minute

// WriteStorageExport writes, under dir, one Avro object container file of
// perType events for each of the 96 event types, laid out as a Braze storage
// export:
//
//	<dir>/currents/dataexport.prod-01.S3.integration.<IntegrationID>/
//	    event_type=<type>/date=<YYYY-MM-DD-HH>/<32 hex>.avro
//
// The events' times lie in the five minutes from start, and the date folder is
// start's UTC hour. opts apply to every file (for example WithCompression).
// The generator's own time window is left as it was. Files are named from the
// generator's random stream, so a rerun with the same seed and calls rewrites
// the same files rather than adding new ones.
func (g *Generator) WriteStorageExport(dir string, perType int, start time.Time, opts ...OCFOption) error {
	if perType < 1 {
		return fmt.Errorf("samples: %d events per type is not positive", perType)
	}
	date := start.UTC().Format("2006-01-02-15")
	span := int64(flushWindow / time.Second)
	for _, t := range Types(ShapeStorage) {
		s := mustSchema(t)
		recs := make([]map[string]any, perType)
		for i := range recs {
			recs[i] = g.record(s, start.Unix(), span)
		}
		var buf bytes.Buffer
		if err := WriteOCF(&buf, t, recs, opts...); err != nil {
			return err
		}
		folder := filepath.Join(dir, filepath.FromSlash(ExportPrefix), "event_type="+t, "date="+date)
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return err
		}
		name := filepath.Join(folder, randHex(g.rng, 32)+".avro")
		if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
