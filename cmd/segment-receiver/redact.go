package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
)

// redactedKey stands for a write key in what the receiver prints, as in the
// segment output's own errors and logs (internal/segment/redact.go).
const redactedKey = "<write key>"

// fingerprint names a key without showing it: the first 4 bytes of its
// SHA-256, enough to tell a handful of keys apart (printf %s KEY | sha256sum
// gives it for a key one holds), and useless for recovering it.
func fingerprint(key string) string {
	if key == "" {
		return "-"
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// keyRedactor removes every write key the receiver was given or has seen
// from a text, in each form a client or a body may carry it: plain, base64
// of the Basic-auth credentials "key:" (and of the key alone), and URL
// encoded. A client may put its key in a batch body ("writeKey"), and a
// pipeline pointed here by mistake may carry a real key.
type keyRedactor struct {
	mu    sync.Mutex
	seen  map[string]bool
	forms []string // longest first, so a form containing another goes whole
}

func newKeyRedactor(keys []string) *keyRedactor {
	r := &keyRedactor{seen: map[string]bool{}}
	for _, k := range keys {
		r.see(k)
	}
	return r
}

// see adds key to the keys to remove.
func (r *keyRedactor) see(key string) {
	if key == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	r.forms = append(r.forms,
		key,
		base64.StdEncoding.EncodeToString([]byte(key+":")),
		base64.RawStdEncoding.EncodeToString([]byte(key+":")),
		base64.StdEncoding.EncodeToString([]byte(key)),
		base64.RawStdEncoding.EncodeToString([]byte(key)),
		base64.URLEncoding.EncodeToString([]byte(key+":")),
		url.QueryEscape(key),
		url.PathEscape(key),
		jsonEscaped(key),
	)
	sort.Slice(r.forms, func(i, j int) bool { return len(r.forms[i]) > len(r.forms[j]) })
}

// redact returns s without any form of a known key.
func (r *keyRedactor) redact(s string) string {
	r.mu.Lock()
	forms := r.forms
	r.mu.Unlock()
	for _, f := range forms {
		s = strings.ReplaceAll(s, f, redactedKey)
	}
	return s
}

// message renders m as the JSON line -print and GET /received show: its
// writeKey as a fingerprint, and every form of a key removed from the rest,
// the raw message included.
func (r *keyRedactor) message(m segmenttest.Message) (string, error) {
	r.see(m.WriteKey)
	m.WriteKey = fingerprint(m.WriteKey)
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return r.redact(string(b)), nil
}

// jsonEscaped is key as it appears inside a JSON string that json.Marshal
// wrote (a key with <, > or & in it is escaped there).
func jsonEscaped(key string) string {
	b, _ := json.Marshal(key)
	return string(b[1 : len(b)-1])
}
