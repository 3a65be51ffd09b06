package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The delivery guarantee through the binary: finite inputs lose nothing
// through an outage, a rejected key makes a stopped run say what it did not
// deliver, and a missing per-source key dead-letters that source's events.

// TestQuickstartThroughAnOutageDeliversEverything: the quickstart (a file
// input, which Benthos never replays nacks to) through a 503 window and a
// 401 window ends with every event delivered, none dead-lettered, a summary
// and exit code 0.
func TestQuickstartThroughAnOutageDeliversEverything(t *testing.T) {
	root := repoRoot(t)
	want := sampleIdentified(t, root)
	rc := startReceiver(t)
	done := outage(t, rc)
	r := run(t, root, []string{"SEGMENT_ENDPOINT=" + rc.URL(), "SEGMENT_WRITE_KEY=" + exampleWriteKey, "HTTP_ADDRESS=127.0.0.1:0"},
		"run", "config-examples/quickstart.yaml")
	<-done
	logs := r.stdout + r.stderr
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, tail(logs, 4000))
	}
	if strings.Contains(logs, `"stage":`) {
		t.Fatalf("something was dead-lettered:\n%s", tail(logs, 4000))
	}
	checkOutageRequests(t, rc)
	checkDelivered(t, rc, want)
	read, mapped, skipped, delivered, dead, notDelivered := summary(t, logs)
	// Every sample event is mapped or skipped (anonymous, or of a type
	// outside the default selection); none fails.
	if read != 200 || mapped != len(want) || skipped != read-len(want) || delivered != len(want) || dead != 0 || notDelivered != 0 {
		t.Fatalf("summary: read %d mapped %d skipped %d delivered %d dead-lettered %d not delivered %d",
			read, mapped, skipped, delivered, dead, notDelivered)
	}
}

// TestQuickstartWithAWrongKeyStoppedExits3: a key Segment never accepts holds
// the events (loud, retried); SIGTERM then ends the run with exit code 3 and
// the count of events not delivered, and nothing in the dead letter.
func TestQuickstartWithAWrongKeyStoppedExits3(t *testing.T) {
	skipIfShort(t)
	root := repoRoot(t)
	want := sampleIdentified(t, root)
	rc := startReceiver(t) // accepts only exampleWriteKey
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "run", "--set", "shutdown_timeout=4s", "config-examples/quickstart.yaml")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "SEGMENT_ENDPOINT="+rc.URL(), "SEGMENT_WRITE_KEY=wrong-key-9d8c7b", "HTTP_ADDRESS=127.0.0.1:0")
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Let it retry a while, long enough for several rejected attempts.
	for deadline := time.Now().Add(30 * time.Second); len(rc.Requests()) < 6 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	code := exitCode(err)
	out := logs.String()
	if code != exitNotDelivered {
		t.Fatalf("exit %d (%v), want %d:\n%s", code, err, exitNotDelivered, tail(out, 4000))
	}
	if !strings.Contains(out, "write key of source") || !strings.Contains(out, "level=error") {
		t.Fatalf("the rejected key is not logged at ERROR:\n%s", tail(out, 4000))
	}
	if strings.Contains(out, `"stage":`) {
		t.Fatalf("a rejected key dead-lettered events:\n%s", tail(out, 4000))
	}
	if strings.Contains(out, "wrong-key-9d8c7b") {
		t.Fatal("the write key appears in the logs")
	}
	_, mapped, _, delivered, dead, notDelivered := summary(t, out)
	if mapped != len(want) || delivered != 0 || dead != 0 || notDelivered != len(want) {
		t.Fatalf("summary: mapped %d delivered %d dead-lettered %d not delivered %d, want %d not delivered",
			mapped, delivered, dead, notDelivered, len(want))
	}
	if !strings.Contains(out, fmt.Sprintf("%d calls were not delivered", len(want))) {
		t.Fatalf("the summary does not say what to do:\n%s", tail(out, 2000))
	}
	if rc.Count() != 0 {
		t.Fatalf("the receiver accepted %d calls under a wrong key", rc.Count())
	}
}

// TestMultiWorkspaceUnsetKeyIsDeadLetteredNamingTheSource: a source whose
// key variable is unset is never sent with the key "null": its events go to
// the dead letter naming the source, the others are delivered.
func TestMultiWorkspaceUnsetKeyIsDeadLetteredNamingTheSource(t *testing.T) {
	root := repoRoot(t)
	rc := startReceiver(t, "key-eu", "key-us", "null")
	dir := t.TempDir()
	in := filepath.Join(dir, "events.jsonl")
	var lines []string
	for i := range 30 {
		group := []string{"ag-eu", "ag-us", "ag-elsewhere"}[i%3]
		lines = append(lines, fmt.Sprintf(`{"event_type":"users.messages.email.Delivery","id":"mw-%02d","time":1764334800,"user":{"user_id":"u","external_user_id":"x"},"properties":{"app_group_id":%q,"email_address":"a@example.com"}}`, i, group))
	}
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "dead.jsonl")
	env := []string{
		"CURRENTS_JSONL=" + in, "SEGMENT_ENDPOINT=" + rc.URL(), "DEAD_LETTER_PATH=" + dead, "HTTP_ADDRESS=127.0.0.1:0",
		"BRAZE_APP_GROUP_EU=ag-eu", "SEGMENT_WRITE_KEY_EU=key-eu",
		"BRAZE_APP_GROUP_US=ag-us", "SEGMENT_WRITE_KEY_US=key-us",
	}
	cmd := exec.Command(binary, "run", "config-examples/multi-workspace.yaml")
	cmd.Dir = root
	cmd.Env = append(withoutSecrets(), env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v:\n%s", err, logs.String())
	}
	for _, r := range rc.Requests() {
		if r.WriteKey == "null" || r.WriteKey == "" {
			t.Fatalf("a request was sent with the write key %q", r.WriteKey)
		}
	}
	if rc.Count() != 20 {
		t.Fatalf("%d calls delivered, want the 20 of the two sources with keys", rc.Count())
	}
	d := readDeadLetters(t, dead)
	if len(d) != 10 {
		t.Fatalf("%d dead letters, want the 10 events of the source without a key: %+v", len(d), d)
	}
	for _, l := range d {
		if l.Stage != "delivery" || !strings.Contains(l.Reason, `no write key for source "DEFAULT"`) || !strings.Contains(l.Reason, "null") {
			t.Fatalf("dead letter reason: %q", l.Reason)
		}
	}
	_, _, _, delivered, deadLettered, notDelivered := summary(t, logs.String())
	if delivered != 20 || deadLettered != 10 || notDelivered != 0 {
		t.Fatalf("summary: delivered %d, dead-lettered %d, not delivered %d", delivered, deadLettered, notDelivered)
	}
}
