package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/currents-segment/currents-segment/internal/spec"
)

// demoResultLine is the demo's last line, e.g. "200 read, 170 sent, 30
// skipped (no_external_user_id 17, not_selected 13)".
var demoResultLine = regexp.MustCompile(`^(\d+) read, (\d+) sent, (\d+) skipped( \((\w+ \d+)(, \w+ \d+)*\))?(, \d+ dead-lettered)?(, \d+ not delivered)?$`)

// TestQuickstart runs the README's first command (with the built binary): the
// bundled sample through the quickstart pipeline into the local receiver. Every
// sample event of an identified user must arrive as a call, once.
func TestQuickstart(t *testing.T) {
	root := repoRoot(t)
	want, types := sampleEvents(t, root)
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	withHTTP := 0
	for _, typ := range spec.TypeNames(events) {
		if _, ok := spec.Example(typ, "http"); ok {
			withHTTP++
			if !types[typ] {
				t.Errorf("the sample has no %s event, a type with an HTTP shape", typ)
			}
		}
	}
	if len(types) != withHTTP {
		t.Fatalf("the sample covers %d types, want the %d with an HTTP shape", len(types), withHTTP)
	}

	r := run(t, root, nil, "demo", "--all")
	if r.code != 0 || strings.Contains(r.stderr, `"reason"`) || !strings.Contains(r.stderr, "(0 duplicates)") {
		t.Fatalf("quickstart: exit %d\n%s", r.code, r.stderr)
	}
	// The demo's last line is the run in one glance.
	errLines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := errLines[len(errLines)-1]
	if m := demoResultLine.FindStringSubmatch(last); m == nil || m[2] != strconv.Itoa(len(want)) {
		t.Errorf("the demo's last line %q is not \"N read, %d sent, K skipped (reasons)\"", last, len(want))
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d calls received, want %d", len(lines), len(want))
	}
	seen := map[string]bool{}
	for _, line := range lines {
		var call struct {
			Type, Event, MessageID, UserID string
		}
		if err := json.Unmarshal([]byte(line), &call); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		if call.Type != "track" || call.Event == "" || call.UserID == "" || !want[call.MessageID] || seen[call.MessageID] {
			t.Fatalf("unexpected call %s", line)
		}
		seen[call.MessageID] = true
	}
}
