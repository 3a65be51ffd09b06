package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstart runs the README's first command (with the built binary) and
// checks that every sample event of an identified user comes out as a call.
func TestQuickstart(t *testing.T) {
	root := repoRoot(t)
	f, err := os.Open(filepath.Join(root, "testdata", "sample", "currents-http-batches.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]bool{}
	types := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var batch struct {
			Events []struct {
				ID        string `json:"id"`
				EventType string `json:"event_type"`
				User      struct {
					External string `json:"external_user_id"`
				} `json:"user"`
			} `json:"events"`
		}
		if err := json.Unmarshal(sc.Bytes(), &batch); err != nil {
			t.Fatal(err)
		}
		for _, e := range batch.Events {
			types[e.EventType] = true
			if e.User.External != "" {
				want[e.ID] = true
			}
		}
	}
	if len(types) != 48 {
		t.Fatalf("the sample covers %d types, want the 48 with an HTTP shape", len(types))
	}

	r := run(t, root, nil, "run", "config-examples/quickstart.yaml")
	if r.code != 0 || strings.Contains(r.stderr, "dead_letter_reason") {
		t.Fatalf("quickstart: exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d calls printed, want %d", len(lines), len(want))
	}
	for _, line := range lines {
		var call struct {
			Type, Event, MessageID, UserID string
		}
		if err := json.Unmarshal([]byte(line), &call); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		if call.Type != "track" || call.Event == "" || call.UserID == "" || !want[call.MessageID] {
			t.Fatalf("unexpected call %s", line)
		}
	}
}
