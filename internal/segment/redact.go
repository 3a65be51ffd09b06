package segment

import (
	"encoding/base64"
	"net/url"
	"strings"
	"sync"
)

// redactedKey replaces a write key, in any form, in texts that leave the
// process: errors, logs, dead letters.
const redactedKey = "<write key>"

// minKeyRun is the shortest run of a key's characters treated as a leak: a
// key cut short by someone's truncation ("the first 16 characters") is
// still a key. Eight characters of a random key never occur by chance.
const minKeyRun = 8

// redactor removes every form of one write key from a text: the key itself,
// the Basic-auth header's base64 of "key:" (and of the key alone), its
// URL-encoded forms, and any run of at least minKeyRun characters of one of
// those. A receiver's error body may echo the Authorization header, and an
// error may quote a URL that holds the key.
type redactor struct {
	forms []string
	runs  map[string]struct{} // every minKeyRun-long substring of a form
}

func newRedactor(key string) *redactor {
	r := &redactor{}
	if key == "" {
		return r
	}
	seen := map[string]bool{}
	for _, f := range []string{
		key,
		base64.StdEncoding.EncodeToString([]byte(key + ":")),
		base64.StdEncoding.EncodeToString([]byte(key)),
		base64.RawStdEncoding.EncodeToString([]byte(key + ":")),
		base64.URLEncoding.EncodeToString([]byte(key + ":")),
		url.QueryEscape(key),
		url.PathEscape(key),
	} {
		if !seen[f] {
			seen[f] = true
			r.forms = append(r.forms, f)
		}
	}
	r.runs = map[string]struct{}{}
	for _, f := range r.forms {
		for i := 0; i+minKeyRun <= len(f); i++ {
			r.runs[f[i:i+minKeyRun]] = struct{}{}
		}
	}
	return r
}

// redact returns s with every form of the key, and every run of its
// characters, replaced by redactedKey.
func (r *redactor) redact(s string) string {
	if len(r.forms) == 0 || s == "" {
		return s
	}
	for _, f := range r.forms {
		s = strings.ReplaceAll(s, f, redactedKey)
	}
	if len(r.runs) == 0 || len(s) < minKeyRun {
		return s
	}
	// Mark every byte covered by a run of the key, then replace each marked
	// stretch once.
	var mark []bool
	for i := 0; i+minKeyRun <= len(s); i++ {
		if _, ok := r.runs[s[i:i+minKeyRun]]; ok {
			if mark == nil {
				mark = make([]bool, len(s))
			}
			for j := i; j < i+minKeyRun; j++ {
				mark[j] = true
			}
		}
	}
	if mark == nil {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !mark[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString(redactedKey)
		for i < len(s) && mark[i] {
			i++
		}
	}
	return b.String()
}

// redactErr returns err with its text redacted, keeping it as the cause
// when nothing had to change.
func (r *redactor) redactErr(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if red := r.redact(text); red != text {
		return &redactedError{text: red}
	}
	return err
}

// redactedError is an error whose text had to lose a write key. Its cause
// is not kept: the cause's text holds the key.
type redactedError struct{ text string }

func (e *redactedError) Error() string { return e.text }

// keyRedactor builds the redactor of a key the first time a text needs it:
// most requests never fail, and never pay for it.
type keyRedactor struct {
	key  string
	once sync.Once
	r    *redactor
}

func (k *keyRedactor) get() *redactor {
	k.once.Do(func() { k.r = newRedactor(k.key) })
	return k.r
}

func (k *keyRedactor) redact(s string) string    { return k.get().redact(s) }
func (k *keyRedactor) redactErr(err error) error { return k.get().redactErr(err) }
