package segment

import (
	"errors"
	"strings"
	"testing"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// nested is n objects inside one another, the outermost included.
func nested(n int) string {
	return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1)
}

func TestSegmentValidateTrack(t *testing.T) {
	big := `{"type":"track","event":"e","userId":"u","properties":{"p":"` + strings.Repeat("x", MaxMessageBytes) + `"}}`
	cases := []struct {
		name, raw, rule string
	}{
		{"ok user", `{"type":"track","event":"Email Sent","userId":"u-1","messageId":"m"}`, ""},
		{"ok anon", `{"type":"track","event":"Email Sent","anonymousId":"a"}`, ""},
		{"not json", `{"type":`, RuleJSONObject},
		{"array", `[1,2]`, RuleJSONObject},
		{"empty", ``, RuleJSONObject},
		{"wrong type", `{"type":"identify","event":"e","userId":"u"}`, RuleTypeTrack},
		{"no type", `{"event":"e","userId":"u"}`, RuleTypeTrack},
		{"no event", `{"type":"track","userId":"u"}`, RuleEventRequired},
		{"no identity", `{"type":"track","event":"e","messageId":"m1"}`, RuleIdentity},
		{"numeric userId", `{"type":"track","event":"e","userId":5}`, RuleFieldType},
		{"long messageId", `{"type":"track","event":"e","userId":"u","messageId":"` + strings.Repeat("é", MaxMessageIDLength+1) + `"}`, RuleMessageIDLen},
		{"100 char messageId", `{"type":"track","event":"e","userId":"u","messageId":"` + strings.Repeat("é", MaxMessageIDLength) + `"}`, ""},
		{"oversize", big, RuleMessageSize},

		// Segment reads exact keys: encoding/json would have filled UserID
		// from "UserID" case-insensitively, Segment finds no identity.
		{"keys are case-sensitive", `{"type":"track","event":"e","UserID":"u"}`, RuleIdentity},
		{"key case in type", `{"Type":"track","event":"e","userId":"u"}`, RuleTypeTrack},
		// A repeated key: the last value wins, a null included.
		{"duplicate, last wins", `{"type":"identify","type":"track","event":"e","userId":"u"}`, ""},
		{"duplicate, last is empty", `{"type":"track","event":"e","event":"","userId":"u"}`, RuleEventRequired},
		{"duplicate, last is null", `{"type":"track","event":"e","userId":"u","userId":null}`, RuleIdentity},
		{"duplicate, first has a bad type", `{"type":"track","event":"e","userId":5,"userId":"u"}`, RuleFieldType},
		{"null is absent", `{"type":"track","event":"e","userId":null,"anonymousId":"a","messageId":null}`, ""},
		{"escaped key", `{"type":"track","event":"e","user\u0049d":"u"}`, ""},
		{"escaped type", `{"type":"tr\u0061ck","event":"e","userId":"u"}`, ""},
		// Nested objects may hold the same names; only the top level counts.
		{"nested names do not count", `{"type":"track","event":"e","properties":{"userId":"u","type":"x"},"context":{"anonymousId":"a"}}`, RuleIdentity},
		{"nested bad types do not count", `{"type":"track","event":"e","userId":"u","properties":{"userId":5,"event":[]}}`, ""},
		{"bool userId", `{"type":"track","event":"e","userId":true}`, RuleFieldType},
		{"object event", `{"type":"track","event":{},"userId":"u"}`, RuleFieldType},
		{"array messageId", `{"type":"track","event":"e","userId":"u","messageId":[]}`, RuleFieldType},
		// Invalid JSON anywhere is refused before any field rule.
		{"invalid after a bad type", `{"type":"track","event":5,"userId":"u",}`, RuleJSONObject},
		{"invalid UTF-8", "{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\",\"properties\":{\"p\":\"\xff\"}}", RuleJSONObject},
		{"trailing garbage", `{"type":"track","event":"e","userId":"u"} x`, RuleJSONObject},
		{"two objects", `{"type":"track","event":"e","userId":"u"}{}`, RuleJSONObject},
		{"trailing white space", "\t{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\"}\r\n ", ""},
		{"not JSON white space", "\v{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\"}", RuleJSONObject},
		{"deepest nesting", `{"type":"track","event":"e","userId":"u","p":` + nested(jsonscan.MaxDepth) + `}`, ""},
		{"too deep", `{"type":"track","event":"e","userId":"u","p":` + nested(jsonscan.MaxDepth+1) + `}`, RuleJSONObject},
		{"bad number", `{"type":"track","event":"e","userId":"u","n":01}`, RuleJSONObject},
		{"unterminated", `{"type":"track","event":"e","userId":"u"`, RuleJSONObject},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := Validate([]byte(c.raw))
			if c.rule == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if string(tr.Raw) != c.raw {
					t.Fatal("Raw must be the input, untouched")
				}
				return
			}
			var v *ValidationError
			if !errors.As(err, &v) || v.Rule != c.rule {
				t.Fatalf("want rule %s, got %v", c.rule, err)
			}
			if ClassOf(err) != ClassInvalid || StatusClassOf(err) != StatusInvalid {
				t.Fatalf("validation errors must classify as invalid")
			}
		})
	}
}

func TestSegmentValidationErrorNamesMessage(t *testing.T) {
	_, err := Validate([]byte(`{"type":"track","event":"Email Sent","messageId":"abc"}`))
	if err == nil || !strings.Contains(err.Error(), `"abc"`) || !strings.Contains(err.Error(), `"Email Sent"`) || !strings.Contains(err.Error(), RuleIdentity) {
		t.Fatalf("error must name messageId, event and rule: %v", err)
	}
}

// The fields come back decoded, escapes included, whatever key order or
// white space the message has.
func TestSegmentValidateFields(t *testing.T) {
	raw := []byte(` { "anonymousId" : "a\u00e9" , "userId":"u\"1", "messageId":"m\uD83D\uDE00",
		"event":"Email\tSent", "context":{"event":"no"}, "type":"track" } `)
	tr, err := Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := Track{Type: "track", Event: "Email\tSent", MessageID: "m😀", UserID: `u"1`, AnonymousID: "aé"}
	if tr.Type != want.Type || tr.Event != want.Event || tr.MessageID != want.MessageID || tr.UserID != want.UserID || tr.AnonymousID != want.AnonymousID {
		t.Fatalf("got %+v", tr)
	}
	// The strings are copies: the caller may reuse raw afterwards.
	for i := range raw {
		raw[i] = 'x'
	}
	if tr.Event != want.Event || tr.UserID != want.UserID {
		t.Fatalf("strings changed with raw: %+v", tr)
	}
}

// An escaped messageId counts decoded characters, as Segment does.
func TestSegmentValidateEscapedMessageID(t *testing.T) {
	id := strings.Repeat(`\u00e9`, MaxMessageIDLength)
	if _, err := Validate([]byte(`{"type":"track","event":"e","userId":"u","messageId":"` + id + `"}`)); err != nil {
		t.Fatalf("100 escaped characters: %v", err)
	}
	_, err := Validate([]byte(`{"type":"track","event":"e","userId":"u","messageId":"` + id + `\n"}`))
	var v *ValidationError
	if !errors.As(err, &v) || v.Rule != RuleMessageIDLen || v.Detail != `"messageId" is 101 characters, over 100` {
		t.Fatalf("101 escaped characters: %v", err)
	}
}

// Details an operator reads in a dead letter.
func TestSegmentValidateDetails(t *testing.T) {
	cases := []struct{ raw, detail string }{
		{`[1,2]`, "the message is not a JSON object"},
		{`{"type":`, "the message is not valid JSON: invalid JSON at byte 8: unexpected end of input"},
		{`{"type":"track","event":"e","userId":"u"} x`, "the message is not valid JSON: invalid JSON at byte 42: unexpected data after the JSON value"},
		{`{"type":"track","event":"e","userId":5}`, "field userId must be a string, not number"},
		{`{"type":"track","event":"e","anonymousId":false}`, "field anonymousId must be a string, not bool"},
		{`{"type":"track","event":{"a":1},"userId":"u"}`, "field event must be a string, not object"},
		{`{"type":[],"event":"e","userId":"u","messageId":1}`, "field type must be a string, not array"},
		{`{"type":"identify","event":"e","userId":"u"}`, `"type" must be "track", got "identify"`},
	}
	for _, c := range cases {
		_, err := Validate([]byte(c.raw))
		var v *ValidationError
		if !errors.As(err, &v) || v.Detail != c.detail {
			t.Errorf("%s:\n got %v\nwant detail %s", c.raw, err, c.detail)
		}
	}
	_, err := Validate([]byte(`{"type":"track","event":"Email Sent","messageId":"m","userId":5}`))
	var v *ValidationError
	if !errors.As(err, &v) || v.Event != "Email Sent" || v.MessageID != "m" {
		t.Fatalf("a field_type error still names the message: %v", err)
	}
}

// A valid message costs one allocation, for the strings returned.
func TestSegmentValidateAllocs(t *testing.T) {
	raw := []byte(`{"type":"track","event":"Email Sent","userId":"u-1","anonymousId":"a","messageId":"m",` +
		`"properties":{"a":[1,2,{"b":"c\n"}],"userId":"x"},"timestamp":"2024-01-01T00:00:00Z"}`)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Validate(raw); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Fatalf("%v allocations per message", n)
	}
}

// TestValidationErrorKeepsItsCause: a message that is not JSON fails with
// the scanner's error as its cause, which errors.As reaches.
func TestValidationErrorKeepsItsCause(t *testing.T) {
	_, err := Validate([]byte(`{"type":"track",`))
	var ve *ValidationError
	var se *jsonscan.SyntaxError
	if !errors.As(err, &ve) || ve.Rule != RuleJSONObject || !errors.As(err, &se) {
		t.Fatalf("want a ValidationError caused by a jsonscan.SyntaxError, got %T: %v", err, err)
	}
}
