package segment

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// keyForms are the forms of a write key that must never leave the process.
func keyForms(key string) map[string]string {
	return map[string]string{
		"plain":             key,
		"basic auth":        base64.StdEncoding.EncodeToString([]byte(key + ":")),
		"base64":            base64.StdEncoding.EncodeToString([]byte(key)),
		"url-encoded":       url.QueryEscape(key),
		"first 16":          key[:16],
		"last 10":           key[len(key)-10:],
		"basic auth prefix": base64.StdEncoding.EncodeToString([]byte(key + ":"))[:12],
	}
}

func TestRedactorRemovesEveryFormOfTheKey(t *testing.T) {
	const key = "wk_live/9f8e+7d6c5b4a3210=ZZ"
	red := newRedactor(key)
	for name, form := range keyForms(key) {
		text := `401 {"error":"invalid key ` + form + `", "hint":"check it"}`
		got := red.redact(text)
		if strings.Contains(got, form) || !strings.Contains(got, redactedKey) || !strings.Contains(got, `"hint":"check it"`) {
			t.Errorf("%s: %q", name, got)
		}
	}
	if got := red.redact("nothing secret here, 2026-11-28T13:00:00Z"); got != "nothing secret here, 2026-11-28T13:00:00Z" {
		t.Errorf("an ordinary text changed: %q", got)
	}
	if got := newRedactor("").redact("keep me"); got != "keep me" {
		t.Errorf("no key: %q", got)
	}
}
