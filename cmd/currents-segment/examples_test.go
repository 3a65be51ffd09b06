package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/spec"
)

// Each example pipeline in config-examples/ runs here through the binary,
// configured only through the environment variables its header documents,
// against the local Segment receiver.

const exampleWriteKey = "example-write-key"

func TestExampleStorageToSegment(t *testing.T) {
	root := repoRoot(t)
	rc := startReceiver(t)
	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	exportDir := filepath.Join(root, "testdata", "sample", "storage")
	want, types := storageEvents(t, exportDir)
	if len(types) != len(spec.AvroTypes()) || len(want) == 0 {
		t.Fatalf("bundled export holds %d of the %d types with a schema, %d events sent by default", len(types), len(spec.AvroTypes()), len(want))
	}
	r := run(t, root, exampleEnv(rc, dead, storageEnv(t, exportDir)...), "run", "config-examples/storage-to-segment.yaml")
	if r.code != 0 {
		t.Fatalf("storage-to-segment: %s%s", r.stdout, r.stderr)
	}
	if d := readDeadLetters(t, dead); len(d) > 0 {
		t.Fatalf("dead letters: %+v", d)
	}
	got := rc.Messages()
	if len(got) != len(want) || rc.Duplicates() != 0 {
		t.Fatalf("receiver has %d calls (%d duplicates), want %d", len(got), rc.Duplicates(), len(want))
	}
	for _, m := range got {
		ts, ok := want[m.ID]
		if !ok {
			t.Fatalf("unexpected call %s", m.Raw)
		}
		// Historical timestamps are kept: the event's own time, not now.
		if wantTS := time.Unix(ts, 0).UTC().Format(time.RFC3339); m.Timestamp != wantTS || m.WriteKey != exampleWriteKey {
			t.Fatalf("call %s: timestamp %s, want %s", m.ID, m.Timestamp, wantTS)
		}
	}
	logs := r.stdout + r.stderr
	if !strings.Contains(logs, "no_external_user_id") {
		t.Fatalf("skipped anonymous events are not logged:\n%s", logs)
	}
	if !strings.Contains(logs, fmt.Sprintf("%d objects done (0 damaged", len(types))) {
		t.Fatalf("the backfill summary does not count the %d objects:\n%s", len(types), tail(logs, 3000))
	}
}

// storageEnv points storage-to-segment.yaml at a local export directory, with
// a checkpoint of the test's own.
func storageEnv(t *testing.T, exportDir string) []string {
	return []string{
		"CURRENTS_STORAGE_URL=file://" + filepath.ToSlash(exportDir),
		"CURRENTS_CHECKPOINT=" + filepath.Join(t.TempDir(), "checkpoint.db"),
	}
}

func TestExampleJSONLines(t *testing.T) {
	root := repoRoot(t)
	rc := startReceiver(t)
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.jsonl")
	// Warehouse rows of one type without event_type, one per line, and a
	// line that is not an event.
	lines := []string{
		`{"id":"w-1","user_id":"5f8b3c2a1d4e6f7a8b9c0d1e","external_user_id":"user-1","time":1700000000,"app_id":"a","platform":"android","device_model":"Pixel 8"}`,
		`{"id":"w-2","user_id":"5f8b3c2a1d4e6f7a8b9c0d1f","external_user_id":"user-2","time":1700000060,"app_id":"a","platform":"ios"}`,
		`not an event`,
		`{"id":"w-3","user_id":"5f8b3c2a1d4e6f7a8b9c0d20","time":1700000120,"app_id":"a","platform":"web"}`,
	}
	in := filepath.Join(dir, "rows.jsonl")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, root, exampleEnv(rc, dead, "CURRENTS_JSONL="+in, "CURRENTS_EVENT_TYPE=users.messages.pushnotification.Open", "CURRENTS_ANONYMOUS_USERS=send"),
		"run", "config-examples/jsonl-to-segment.yaml")
	if r.code != 0 {
		t.Fatalf("jsonl-to-segment: %s%s", r.stdout, r.stderr)
	}
	ids := map[string]string{}
	for _, m := range rc.Messages() {
		ids[m.ID] = m.Event + "|" + m.UserID + "|" + m.AnonymousID
	}
	want := map[string]string{
		"w-1": "Push Notification Tapped|user-1|5f8b3c2a1d4e6f7a8b9c0d1e",
		"w-2": "Push Notification Tapped|user-2|5f8b3c2a1d4e6f7a8b9c0d1f",
		"w-3": "Push Notification Tapped||5f8b3c2a1d4e6f7a8b9c0d20",
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("received %v, want %v", ids, want)
	}
	d := readDeadLetters(t, dead)
	if len(d) != 1 || d[0].Stage != "mapping" || !strings.Contains(d[0].Reason, "message is not a Currents event") || string(d[0].Event) != `"not an event"` {
		t.Fatalf("dead letters: %+v", d)
	}
}

func TestExampleMultiWorkspace(t *testing.T) {
	root := repoRoot(t)
	rc := startReceiver(t, "key-eu", "key-us", "key-default")
	dir := t.TempDir()
	in := filepath.Join(dir, "events.jsonl")
	ev := func(id, appGroup string) string {
		return fmt.Sprintf(`{"event_type":"users.messages.email.Delivery","id":%q,"time":1764334800,"user":{"user_id":"u","external_user_id":"x"},"properties":{"app_group_id":%q,"email_address":"a@example.com"}}`, id, appGroup)
	}
	body := ev("e-eu", "ag-eu") + "\n" + ev("e-us", "ag-us") + "\n" + ev("e-other", "ag-other") + "\n"
	if err := os.WriteFile(in, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, root, []string{
		"CURRENTS_JSONL=" + in, "SEGMENT_ENDPOINT=" + rc.URL(), "DEAD_LETTER_PATH=" + filepath.Join(dir, "dead.jsonl"),
		"BRAZE_APP_GROUP_EU=ag-eu", "SEGMENT_WRITE_KEY_EU=key-eu",
		"BRAZE_APP_GROUP_US=ag-us", "SEGMENT_WRITE_KEY_US=key-us",
		"SEGMENT_WRITE_KEY_DEFAULT=key-default",
	}, "run", "config-examples/multi-workspace.yaml")
	if r.code != 0 {
		t.Fatalf("multi-workspace: %s%s", r.stdout, r.stderr)
	}
	got := map[string]string{}
	for _, m := range rc.Messages() {
		got[m.ID] = m.WriteKey
	}
	want := map[string]string{"e-eu": "key-eu", "e-us": "key-us", "e-other": "key-default"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("routed %v, want %v", got, want)
	}
	for _, k := range []string{"key-eu", "key-us", "key-default"} {
		if strings.Contains(r.stdout+r.stderr, k) {
			t.Fatalf("write key %s appears in the logs", k)
		}
	}
}

func TestExampleBrazeHTTP(t *testing.T) {
	skipIfShort(t)
	root := repoRoot(t)
	rc := startReceiver(t)
	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	const token = "example-braze-token-3c9d"
	cmd := exec.Command(binary, "run", "config-examples/braze-http-to-segment.yaml")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), exampleEnv(rc, dead, "BRAZE_CURRENTS_TOKEN="+token, "BRAZE_LISTEN_ADDRESS=127.0.0.1:0", "HTTP_ADDRESS=127.0.0.1:0")...)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill(); <-exited }()

	input, _ := childAddrs(t, cmd.Process.Pid, 2, logs.String)
	url := "http://" + input + "/currents"
	post := func(tok string, body []byte) int {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Braze-Currents-Version", "1")
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}

	f, err := os.Open(filepath.Join(root, "testdata", "sample", "currents-http-batches.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	want := len(sampleIdentified(t, root)) // what the defaults send
	for sc.Scan() {
		body := append([]byte(nil), sc.Bytes()...)
		if status := post("wrong-token", body); status != http.StatusUnauthorized {
			t.Fatalf("wrong token answered %d", status)
		}
		if status := post(token, body); status != http.StatusOK {
			t.Fatalf("batch answered %d:\n%s", status, logs.String())
		}
	}
	// Once answered 200, the batch is in Segment already: no waiting needed.
	if got := rc.Count(); got != want {
		t.Fatalf("after the 200s the receiver has %d calls, want %d", got, want)
	}
	bad := []byte(`{"events":[{"event_type":"users.messages.email.Open","id":"bad-1","user":{"user_id":"u","external_user_id":"x"}}]}`)
	if status := post(token, bad); status != http.StatusOK {
		t.Fatalf("a batch with a bad event answered %d", status)
	}
	if d := readDeadLetters(t, dead); len(d) != 1 || !strings.Contains(d[0].Reason, `field "time": is missing`) {
		t.Fatalf("dead letters: %+v", d)
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), exampleWriteKey) {
		t.Fatalf("a secret appears in the logs:\n%s", logs.String())
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the binary did not stop on SIGINT")
	}
}
