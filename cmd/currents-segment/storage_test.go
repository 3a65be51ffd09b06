package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/samples"
	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
	"github.com/currents-segment/currents-segment/internal/storageexport"
)

// The braze_storage backfill through the binary: killed with SIGKILL in the
// middle, then run again on the same checkpoint. Every event is delivered,
// and the only duplicates are events of objects that were not recorded done
// when the process died.
func TestStorageBackfillResumesAfterSIGKILL(t *testing.T) {
	skipIfShort(t)
	root := repoRoot(t)
	dir := t.TempDir()
	exportDir := filepath.Join(dir, "export")
	g := samples.New(404)
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for h := range 3 {
		if err := g.WriteStorageExport(exportDir, 60, start.Add(time.Duration(h)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	identified, _ := storageEvents(t, exportDir)
	want := map[string]bool{}
	for id := range identified {
		want[id] = true
	}
	rc := startReceiver(t)
	// A slow Segment, so that the kill lands in the middle of the run.
	rc.SetFault(segmenttest.Fault{Delay: 40 * time.Millisecond})
	checkpoint := filepath.Join(dir, "checkpoint.db")
	dead := filepath.Join(dir, "dead.jsonl")
	env := exampleEnv(rc, dead, "CURRENTS_STORAGE_URL=file://"+filepath.ToSlash(exportDir), "CURRENTS_CHECKPOINT="+checkpoint, "HTTP_ADDRESS=127.0.0.1:0")

	cmd, out := startBinary(t, root, env, "run", "config-examples/storage-to-segment.yaml")
	for deadline := time.Now().Add(2 * time.Minute); rc.Count() < len(want)/3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered before the deadline:\n%s", rc.Count(), len(want), tail(out.String(), 3000))
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	atKill := rc.Count()
	if atKill >= len(want) {
		t.Fatalf("the run had finished (%d of %d) before the kill: nothing tested", atKill, len(want))
	}

	// What the checkpoint says was done bounds what may be sent twice.
	cp, err := storageexport.OpenCheckpoint(checkpoint, storageexport.Settings{URL: "file://" + filepath.ToSlash(exportDir), Prefix: "currents", Shard: storageexport.Shard{Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var objects, done, undoneEvents int
	err = filepath.WalkDir(exportDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".avro") {
			return err
		}
		objects++
		key, _ := filepath.Rel(exportDir, p)
		ok, err := cp.IsDone(filepath.ToSlash(key))
		if err != nil {
			return err
		}
		if ok {
			done++
			return nil
		}
		// One file per date folder and type here: its folder's events are its own.
		ids, _ := storageEvents(t, filepath.Dir(p))
		undoneEvents += len(ids)
		return nil
	})
	cp.Close()
	if err != nil {
		t.Fatal(err)
	}
	if done == 0 || done == objects {
		t.Fatalf("%d of %d objects done at the kill: not the middle of a run", done, objects)
	}

	rc.ClearFault()
	began := time.Now()
	r := run(t, root, env, "run", "config-examples/storage-to-segment.yaml")
	resumed := time.Since(began)
	if r.code != 0 {
		t.Fatalf("the resumed run exited %d:\n%s", r.code, tail(r.stdout+r.stderr, 4000))
	}
	got, missing := deliveredIDs(rc, want)
	if missing > 0 || len(got) != len(want) {
		t.Fatalf("delivered %d of %d after the resume (%d missing)", len(got), len(want), missing)
	}
	if dups := rc.Duplicates(); dups > undoneEvents {
		t.Fatalf("%d duplicates, more than the %d events of the objects not done at the kill", dups, undoneEvents)
	}
	if d := readDeadLetters(t, dead); len(d) > 0 {
		t.Fatalf("dead letters: %+v", d)
	}
	logs := r.stdout + r.stderr
	if !strings.Contains(logs, fmt.Sprintf("%d more were done by earlier runs", done)) {
		t.Errorf("the resumed run does not say it skipped the %d objects done:\n%s", done, tail(logs, 3000))
	}
	t.Logf("SIGKILL after %d of %d events delivered, %d of %d objects recorded done; the resumed run took %s, delivered the rest, and sent %d duplicates (bound: %d events in the objects not done)",
		atKill, len(want), done, objects, resumed.Round(time.Millisecond), rc.Duplicates(), undoneEvents)
}

// A backfill that matches nothing, and one stopped before its end, exit 2
// and say why; a follow run stopped by SIGTERM exits 0.
func TestStorageBackfillExitCodes(t *testing.T) {
	skipIfShort(t)
	root := repoRoot(t)
	exportDir := filepath.Join(root, "testdata", "sample", "storage")
	rc := startReceiver(t)
	dead := filepath.Join(t.TempDir(), "dead.jsonl")

	r := run(t, root, exampleEnv(rc, dead, append(storageEnv(t, exportDir), "CURRENTS_SINCE=2030-01-01", "HTTP_ADDRESS=127.0.0.1:0")...), "run", "config-examples/storage-to-segment.yaml")
	if logs := r.stdout + r.stderr; r.code != exitInputFailed || !strings.Contains(logs, "no export object") || !strings.Contains(logs, "2030-01-01-00") {
		t.Fatalf("a selection matching nothing exited %d:\n%s", r.code, tail(logs, 3000))
	}

	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) {
			rc := startReceiver(t)
			rc.SetFault(segmenttest.Fault{Delay: 200 * time.Millisecond})
			env := exampleEnv(rc, dead, append(storageEnv(t, exportDir), fmt.Sprintf("CURRENTS_FOLLOW=%v", follow), "HTTP_ADDRESS=127.0.0.1:0")...)
			cmd, out := startBinary(t, root, env, "run", "config-examples/storage-to-segment.yaml")
			for deadline := time.Now().Add(time.Minute); rc.Count() == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("nothing delivered:\n%s", tail(out.String(), 3000))
				}
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			code := exitCode(cmd.Wait())
			logs := out.String()
			// Bounded: 2, or 3 when shutdown also interrupted calls in flight
			// (the summary then names both).
			ok := code == exitInputFailed || code == exitNotDelivered
			if follow {
				ok = code == 0
			}
			if !ok || !strings.Contains(logs, "objects listed and not done") {
				t.Fatalf("stopped by SIGTERM (follow %v): exit %d:\n%s", follow, code, tail(logs, 3000))
			}
		})
	}
}
