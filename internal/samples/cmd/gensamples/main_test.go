package main

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// generateArgs returns the flags of the go:generate line of the samples
// package, the command that made the bundled quickstart data.
func generateArgs(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../doc.go")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "//go:generate go run ./cmd/gensamples "
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.Fields(strings.TrimPrefix(line, prefix))
		}
	}
	t.Fatal("no go:generate line for gensamples in internal/samples/doc.go")
	return nil
}

// TestBundledSamplesAreReproducible regenerates the bundled quickstart data
// into a temporary folder, with the go:generate flags, and compares it byte
// for byte with testdata/sample: the committed files must be what the
// documented command makes.
func TestBundledSamplesAreReproducible(t *testing.T) {
	const bundled = "../../../../testdata/sample"
	if _, err := os.Stat(bundled); err != nil {
		t.Skip("no bundled samples:", err)
	}
	tmp := t.TempDir()
	args := generateArgs(t)
	// The line's paths are relative to internal/samples; point them at tmp.
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-out", "-avro-dir":
			args[i+1] = filepath.Join(tmp, strings.TrimPrefix(args[i+1], "../../testdata/sample/"))
		}
	}
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	want, got := tree(t, bundled), tree(t, tmp)
	if len(want) != len(got) {
		t.Errorf("bundled data has %d files, the command makes %d", len(want), len(got))
	}
	for path, b := range got {
		if w, ok := want[path]; !ok {
			t.Errorf("%s is made but not bundled", path)
		} else if !bytes.Equal(w, b) {
			t.Errorf("%s differs from the bundled file: rerun go generate ./internal/samples", path)
		}
	}
}

func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRunWritesEachShape(t *testing.T) {
	for _, shape := range []string{"storage", "http", "batch"} {
		var out bytes.Buffer
		if err := run([]string{"-n", "60", "-shape", shape, "-batch", "25"}, &out); err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(out.String(), "\n")
		want := 60
		if shape == "batch" {
			want = 3
		}
		if lines != want {
			t.Errorf("%s: %d lines, want %d", shape, lines, want)
		}
	}
	if err := run([]string{"-shape", "xml"}, io.Discard); err == nil {
		t.Error("unknown shape accepted")
	}
}
