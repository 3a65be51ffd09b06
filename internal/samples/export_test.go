package samples

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
)

var exportPathRE = regexp.MustCompile(`^currents/dataexport\.prod-01\.S3\.integration\.[0-9a-f]{24}/event_type=([A-Za-z.]+)/date=(\d{4}-\d{2}-\d{2}-\d{2})/[0-9a-f]{32}\.avro$`)

// readExport returns every file of an export tree, keyed by slash path.
func readExport(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestWriteStorageExport(t *testing.T) {
	start := time.Date(2026, 11, 28, 13, 55, 0, 0, time.UTC)
	dir := t.TempDir()
	if err := New(4).WriteStorageExport(dir, 4, start, WithCompression(CompressionDeflate)); err != nil {
		t.Fatal(err)
	}
	files := readExport(t, dir)
	if len(files) != len(Types(ShapeStorage)) {
		t.Fatalf("%d files, want one per type (%d)", len(files), len(Types(ShapeStorage)))
	}
	seen := map[string]bool{}
	for path, b := range files {
		m := exportPathRE.FindStringSubmatch(path)
		if m == nil {
			t.Fatalf("path %s is not laid out like a Braze export", path)
		}
		typ, date := m[1], m[2]
		seen[typ] = true
		if date != "2026-11-28-13" {
			t.Errorf("%s: date folder %s", path, date)
		}
		r, err := goavro.NewOCFReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var schema struct{ Name, Namespace string }
		json.Unmarshal([]byte(r.Codec().Schema()), &schema)
		if got := schema.Namespace[len("dataexport.S3.inner."):] + "." + schema.Name; got != typ {
			t.Errorf("%s: file schema is %s", path, got)
		}
		n := 0
		for r.Scan() {
			v, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			rec, _ := FromAvroNative(typ, v.(map[string]any))
			if ts := rec["time"].(int64); ts < start.Unix() || ts >= start.Add(5*time.Minute).Unix() {
				t.Errorf("%s: time %d outside the file's five minutes", path, ts)
			}
			n++
		}
		if n != 4 {
			t.Errorf("%s: %d records, want 4", path, n)
		}
	}
	if _, ok := seen["users.campaigns.Abort"]; !ok {
		t.Error("legacy users.campaigns.Abort not exported")
	}

	// The same seed writes the same tree.
	again := t.TempDir()
	if err := New(4).WriteStorageExport(again, 4, start, WithCompression(CompressionDeflate)); err != nil {
		t.Fatal(err)
	}
	second := readExport(t, again)
	for path, b := range files {
		if string(second[path]) != string(b) {
			t.Fatalf("%s differs between two runs of the same seed", path)
		}
	}
}
