package plugin

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/segment"
	"github.com/currents-segment/currents-segment/internal/spec"
)

// processAll runs the processor over one message and returns what it
// emits.
func processAll(t *testing.T, p *currentsToSegment, raw []byte) service.MessageBatch {
	t.Helper()
	out, err := p.Process(context.Background(), service.NewMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every call marked as conforming passes segment.Validate: over every
// example of the contract, in Braze's HTTP envelope (where the calls are
// marked) and as flat records (where they are not: see Result.InEnvelope),
// in both property modes.
func TestConformingCallsPassValidate(t *testing.T) {
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	var httpEvents [][]byte
	var flat [][]byte
	for _, typ := range spec.TypeNames(events) {
		if raw, ok := spec.Example(typ, "http"); ok {
			httpEvents = append(httpEvents, raw)
		}
		if raw, ok := spec.Example(typ, "storage"); ok {
			flat = append(flat, raw)
		}
	}
	if len(httpEvents) < 90 {
		t.Fatalf("only %d HTTP examples", len(httpEvents))
	}
	envelope := append(append([]byte(`{"events":[`), bytes.Join(httpEvents, []byte(","))...), "]}"...)
	for _, conf := range []string{`{ anonymous_users: send }`, `{ anonymous_users: send, properties: all }`} {
		p, err := parseProcessor(t, conf)
		if err != nil {
			t.Fatal(err)
		}
		marked := 0
		out := processAll(t, p, envelope)
		for _, m := range out {
			raw, _ := m.AsBytes()
			if m.GetError() != nil {
				t.Fatalf("%s: an example failed to map: %v", conf, m.GetError())
			}
			if !isConformingCall(m, raw) {
				t.Errorf("%s: the call of %s in an envelope is not marked: %s", conf, metaOf(m, metaEventType), raw)
				continue
			}
			marked++
			if _, err := segment.Validate(raw); err != nil {
				t.Errorf("%s: a marked call fails Validate: %v\n%s", conf, err, raw)
			}
		}
		// Some examples are skipped (no identity): 78 of them map.
		if marked != len(out) || marked < 70 {
			t.Fatalf("%s: %d of %d calls marked", conf, marked, len(out))
		}
		for i, rec := range flat {
			p.defaultType = "" // the storage examples name their type
			for _, m := range processAll(t, p, rec) {
				if raw, _ := m.AsBytes(); isConformingCall(m, raw) {
					t.Fatalf("%s: flat record %d marked: %s", conf, i, raw)
				}
			}
		}
	}
}

func metaOf(m *service.Message, key string) string {
	v, _ := m.MetaGet(key)
	return v
}

// What the mapper does not bound is checked before marking, and a call
// that is not marked is validated by the output as any message is.
func TestConformingCallLimits(t *testing.T) {
	event := func(id, props string) string {
		return fmt.Sprintf(`{"event_type":"users.messages.email.Send","id":%q,"time":1764334800,"user":{"user_id":"u1","external_user_id":"x1"},"properties":{"email_address":"a@example.com"%s}}`, id, props)
	}
	longID := strings.Repeat("m", segment.MaxMessageIDLength+1)
	wideID := strings.Repeat("é", segment.MaxMessageIDLength) // 100 runes in 200 bytes: within the rule
	big := `,"send_id":"` + strings.Repeat("p", segment.MaxMessageBytes) + `"`
	body := `{"events":[` + strings.Join([]string{event("ok", ""), event(longID, ""), event(wideID, ""), event("big", big)}, ",") + `]}`

	p, err := parseProcessor(t, `{ properties: all }`)
	if err != nil {
		t.Fatal(err)
	}
	out := processAll(t, p, []byte(body))
	if len(out) != 4 {
		t.Fatalf("got %d calls, want 4", len(out))
	}
	wantMarked := []bool{true, false, true, false}
	for i, m := range out {
		if raw, _ := m.AsBytes(); isConformingCall(m, raw) != wantMarked[i] {
			t.Errorf("call %d: marked %v, want %v", i, !wantMarked[i], wantMarked[i])
		}
	}

	api := newSegFakeAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	o := segNewOutput(t, "write_key: k\nendpoint: "+srv.URL+segTestFastRetry, nil)
	failed, _ := segWrite(t, context.Background(), o, out)
	if len(failed) != 2 || failed[1] == nil || failed[3] == nil ||
		!strings.Contains(failed[1].Error(), segment.RuleMessageIDLen) || !strings.Contains(failed[3].Error(), segment.RuleMessageSize) {
		t.Fatalf("want calls 1 (messageId) and 3 (size) refused, got %v", failed)
	}
	if got := api.accepted(t); len(got) != 2 {
		t.Fatalf("server saw %d calls, want 2", len(got))
	}
}

// A marked call that a later processor changes is validated again: the mark
// holds only while the message's bytes are the call's.
func TestChangedConformingCallIsValidated(t *testing.T) {
	p, err := parseProcessor(t, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	out := processAll(t, p, []byte(`{"events":[`+evSend+`]}`))
	if len(out) != 1 {
		t.Fatalf("got %d calls", len(out))
	}
	call := out[0]
	raw, _ := call.AsBytes()
	if !isConformingCall(call, raw) {
		t.Fatal("the call is not marked")
	}
	if c := call.Copy(); !isConformingCall(c, raw) {
		t.Fatal("a copy with the same bytes lost the mark")
	}
	same := call.Copy()
	same.SetBytes(bytes.Clone(raw))
	if b, _ := same.AsBytes(); isConformingCall(same, b) {
		t.Fatal("other bytes, even equal ones, kept the mark")
	}
	prefix := call.Copy()
	prefix.SetBytes(raw[:len(raw)-1])
	if b, _ := prefix.AsBytes(); isConformingCall(prefix, b) {
		t.Fatal("a prefix of the call kept the mark")
	}
	// The mark is one message's: a call of another request is not in it.
	other := processAll(t, p, []byte(`{"events":[`+evSend+`]}`))
	otherRaw, _ := other[0].AsBytes()
	moved := call.Copy()
	moved.SetBytes(otherRaw)
	if isConformingCall(moved, otherRaw) {
		t.Fatal("the call of another request was trusted under this one's mark")
	}

	// A mapping that drops the identity, as a user's processor could.
	exe, err := bloblang.Parse(`root = this.without("userId", "anonymousId")`)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := call.BloblangQuery(exe)
	if err != nil {
		t.Fatal(err)
	}
	api := newSegFakeAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	o := segNewOutput(t, "write_key: k\nendpoint: "+srv.URL+segTestFastRetry, nil)
	failed, _ := segWrite(t, context.Background(), o, service.MessageBatch{changed, call})
	if len(failed) != 1 || failed[0] == nil || !strings.Contains(failed[0].Error(), segment.RuleIdentity) {
		t.Fatalf("the changed call must be refused for its identity, got %v", failed)
	}
	if got := api.accepted(t); len(got) != 1 {
		t.Fatalf("server saw %d calls, want the unchanged one", len(got))
	}
}
