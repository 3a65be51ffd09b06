package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every shipped pipeline, and the production pipeline of docs/operations.md,
// through a Segment outage (503) followed by a rejected write key (401):
// every event is delivered and none is dead-lettered.

// TestExamplesThroughAnOutage runs the file-input examples.
func TestExamplesThroughAnOutage(t *testing.T) {
	skipIfShort(t)
	root := repoRoot(t)
	dir := t.TempDir()

	var lines []string
	jsonl := map[string]bool{}
	for i := range 600 {
		id := fmt.Sprintf("jl-%03d", i)
		jsonl[id] = true
		lines = append(lines, fmt.Sprintf(`{"event_type":"users.messages.email.Open","id":%q,"time":1764334800,"user":{"user_id":"u-%d","external_user_id":"x-%d"},"properties":{"email_address":"a@example.com"}}`, id, i, i))
	}
	events := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(events, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exportDir := filepath.Join(root, "testdata", "sample", "storage")
	storage, _ := storageEvents(t, exportDir)
	storageIDs := map[string]bool{}
	for id := range storage {
		storageIDs[id] = true
	}

	for _, c := range []struct {
		config string
		env    []string
		want   map[string]bool
		keys   []string
	}{
		{"quickstart.yaml", nil, sampleIdentified(t, root), nil},
		{"jsonl-to-segment.yaml", []string{"CURRENTS_JSONL=" + events}, jsonl, nil},
		{"storage-to-segment.yaml", storageEnv(t, exportDir), storageIDs, nil},
		{"multi-workspace.yaml", []string{"CURRENTS_JSONL=" + events, "SEGMENT_WRITE_KEY_DEFAULT=" + exampleWriteKey}, jsonl, nil},
	} {
		t.Run(c.config, func(t *testing.T) {
			rc := startReceiver(t)
			dead := filepath.Join(t.TempDir(), "dead.jsonl")
			env := append(exampleEnv(rc, dead, "HTTP_ADDRESS=127.0.0.1:0"), c.env...)
			done := outage(t, rc)
			r := run(t, root, env, "run", "config-examples/"+c.config)
			<-done
			logs := r.stdout + r.stderr
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, tail(logs, 4000))
			}
			if d := readDeadLetters(t, dead); len(d) > 0 || strings.Contains(logs, `"stage":`) {
				t.Fatalf("%d events dead-lettered through an outage: %+v", len(d), d)
			}
			checkOutageRequests(t, rc)
			checkDelivered(t, rc, c.want)
			if _, _, _, delivered, dead, notDelivered := summary(t, logs); delivered != len(c.want) || dead != 0 || notDelivered != 0 {
				t.Fatalf("summary: delivered %d, dead-lettered %d, not delivered %d", delivered, dead, notDelivered)
			}
		})
	}
}

// TestBrazePipelinesThroughAnOutage runs the Braze example and the
// production pipeline of docs/operations.md (braze_currents, disk buffer,
// prometheus, dead letter) as written, with Braze's batches posted during
// the outage.
func TestBrazePipelinesThroughAnOutage(t *testing.T) {
	skipIfShort(t)
	root := repoRoot(t)
	want := sampleIdentified(t, root)
	const token = "outage-braze-token-51ab"
	docPipeline := filepath.Join(t.TempDir(), "operations-production.yaml")
	if err := os.WriteFile(docPipeline, []byte(docsConfig(t, filepath.Join(root, "docs", "operations.md"), "<!-- config-test: outage -->")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, config := range []string{filepath.Join(root, "config-examples", "braze-http-to-segment.yaml"), docPipeline} {
		t.Run(filepath.Base(config), func(t *testing.T) {
			rc := startReceiver(t)
			dir := t.TempDir()
			dead := filepath.Join(dir, "dead.jsonl")
			p := startBrazePipeline(t, root, config, exampleEnv(rc, dead,
				"BRAZE_CURRENTS_TOKEN="+token, "BRAZE_LISTEN_ADDRESS=127.0.0.1:0", "HTTP_ADDRESS=127.0.0.1:0",
				"BUFFER_PATH="+filepath.Join(dir, "buffer")))
			done := outage(t, rc)
			retried := 0
			for _, body := range sampleBatches(t, root) {
				retried += postLikeBraze(t, "http://"+p.input+"/currents", token, body) - 1
			}
			<-done
			for deadline := time.Now().Add(time.Minute); rc.Count() < len(want) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-p.done:
			case <-time.After(time.Minute):
				t.Fatal("the binary did not stop on SIGINT")
			}
			logs := p.logs.String()
			if err != nil {
				t.Fatalf("exit: %v\n%s", err, tail(logs, 4000))
			}
			if d := readDeadLetters(t, dead); len(d) > 0 {
				t.Fatalf("%d events dead-lettered through an outage: %+v", len(d), d)
			}
			checkOutageRequests(t, rc)
			got := map[string]bool{}
			for _, m := range rc.Messages() {
				got[m.ID] = true
			}
			for id := range want {
				if !got[id] {
					t.Fatalf("event %s never delivered (%d of %d)", id, len(got), len(want))
				}
			}
			// A Braze retry after a 503 can deliver an event twice, which
			// Segment drops on messageId; without retries there are none.
			if retried == 0 && rc.Duplicates() != 0 {
				t.Fatalf("%d duplicates without a single Braze retry", rc.Duplicates())
			}
			t.Logf("%d events delivered, %d Braze retries, %d duplicates", len(got), retried, rc.Duplicates())
		})
	}
}
