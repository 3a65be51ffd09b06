package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/currents-segment/currents-segment/internal/backlog"
)

// TestBacklogSalvageCommand follows the runbook a damaged buffer file
// prints, with nothing but the binary: the error names
// `currents-segment backlog salvage -from … -to …`; moving the file aside and
// running exactly that copies its events into a new backlog, which opens.
func TestBacklogSalvageCommand(t *testing.T) {
	dir := t.TempDir()
	q, err := backlog.Open(dir, backlog.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		batch := make([]backlog.Record, 100)
		for j := range batch {
			batch[j] = backlog.Record{Body: []byte(strings.Repeat("e", 400)), Meta: []backlog.Meta{{Key: "n", Kind: 's', Value: []byte{byte(i), byte(j)}}}}
		}
		if err := q.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	path := filepath.Join(dir, backlog.FileName)
	info, _ := os.Stat(path)
	os.Truncate(path, info.Size()/3)
	_, err = backlog.Open(dir, backlog.Options{MaxBytes: 1 << 30})
	if !backlog.IsCorrupt(err) {
		t.Fatalf("want a damaged-file error, got %v", err)
	}
	if strings.Contains(err.Error(), "go run") || strings.Contains(err.Error(), "checkout") {
		t.Fatalf("the runbook needs a Go toolchain: %v", err)
	}
	cmd := regexp.MustCompile("`currents-segment (backlog salvage -from [^`]+ -to [^`]+)`").FindStringSubmatch(err.Error())
	if cmd == nil {
		t.Fatalf("the error does not name the salvage command: %v", err)
	}
	if err := os.Rename(path, path+".damaged"); err != nil {
		t.Fatal(err)
	}
	r := run(t, ".", nil, strings.Fields(cmd[1])...)
	t.Logf("%s%s", r.stdout, r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, "copied") || !strings.Contains(r.stdout, "scanning its pages") {
		t.Fatalf("backlog salvage exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	q, err = backlog.Open(dir, backlog.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if st, _ := q.Stats(); st.Records < 1500 {
		t.Fatalf("only %d events salvaged", st.Records)
	}

	// Salvaging the target's own file, or into a locked buffer, is refused
	// with what to do.
	r = run(t, ".", nil, "backlog", "salvage", "-from", filepath.Join(dir, backlog.FileName), "-to", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "move it aside first") {
		t.Fatalf("salvaging a buffer's own file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, ".", nil, "backlog", "salvage", "-from", path+".damaged", "-to", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "stop currents-segment before salvaging") {
		t.Fatalf("salvaging into a buffer in use: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
