package segment

import (
	"errors"
	"strings"
	"testing"
)

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
