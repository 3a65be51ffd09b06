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
// prints, with nothing but the binary: a pipeline on the file stops at start
// and logs `currents-segment backlog salvage -from … -to …` once; moving the
// file aside and running exactly that copies its events into a new backlog,
// which opens.
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
	// The pipeline refuses to start on the damaged file, and says how to go
	// on once, beside the error.
	conf := filepath.Join(t.TempDir(), "buffered.yaml")
	if err := os.WriteFile(conf, []byte("input:\n  generate: {count: 1, interval: \"\", mapping: 'root = {}'}\n"+
		"buffer:\n  disk:\n    path: "+dir+"\noutput:\n  drop: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	started := run(t, ".", nil, "run", conf)
	out := started.stdout + started.stderr
	if started.code == 0 || !strings.Contains(out, path+" is damaged") {
		t.Fatalf("a damaged buffer file must stop the start, with what is wrong: exit %d\n%s", started.code, out)
	}
	if strings.Contains(out, "go run") || strings.Contains(out, "checkout") {
		t.Fatalf("the runbook needs a Go toolchain:\n%s", out)
	}
	salvage := regexp.MustCompile("`currents-segment (backlog salvage -from [^`]+ -to [^`]+)`")
	if n := len(salvage.FindAllString(out, -1)); n != 1 {
		t.Fatalf("want the salvage command said once, said %d times:\n%s", n, out)
	}
	cmd := salvage.FindStringSubmatch(out)
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
