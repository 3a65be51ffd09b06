package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/currents-segment/currents-segment/internal/backlog"
)

// TestSalvageCommand damages a backlog file as a truncation would, checks
// that Open refuses it, and runs the command the error names to copy its
// events into a fresh backlog.
func TestSalvageCommand(t *testing.T) {
	dir := t.TempDir()
	q, err := backlog.Open(dir, backlog.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		batch := make([]backlog.Record, 100)
		for j := range batch {
			batch[j] = backlog.Record{Body: []byte(strings.Repeat("e", 400))}
		}
		if err := q.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	path := filepath.Join(dir, backlog.FileName)
	info, _ := os.Stat(path)
	os.Truncate(path, info.Size()/3)
	if _, err := backlog.Open(dir, backlog.Options{MaxBytes: 1 << 30}); !backlog.IsCorrupt(err) {
		t.Fatalf("want a damaged-file error, got %v", err)
	}
	os.Rename(path, path+".damaged")

	os.Args = []string{"backlog-salvage", "-from", path + ".damaged", "-to", dir}
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	main()
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	t.Logf("%s", out)
	if !strings.Contains(string(out), "copied") || !strings.Contains(string(out), "scanning its pages") {
		t.Fatalf("output: %s", out)
	}
	q, err = backlog.Open(dir, backlog.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if st, _ := q.Stats(); st.Records < 2000 {
		t.Fatalf("only %d events salvaged", st.Records)
	}
}
