package brazehttp

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBearer(t *testing.T) {
	b := newBearer("s3cret")
	for header, want := range map[string]string{
		"Bearer s3cret":   "",
		"bearer  s3cret ": "",
		"":                "no Authorization header",
		"s3cret":          "not a Bearer token",
		"Basic s3cret":    "not a Bearer token",
		"Bearer s3cre":    "wrong bearer token",
		"Bearer s3cretx":  "wrong bearer token",
		"Bearer ":         "not a Bearer token",
		"Bearer  ":        "not a Bearer token",
	} {
		got := b.check(header)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", header, got, want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("%q: the reason quotes the token", header)
		}
	}
	if newBearer("").check("") != "" {
		t.Error("no token configured accepts everything")
	}
}

// The Authorization header is checked before a byte of the body is read:
// a body that never ends still gets its 401.
func TestHandler401BeforeTheBodyIsRead(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`{"events":[`)) }()
	a := do(t, f.srv, request{token: "wrong", bodyReader: pr})
	if a.status != 401 {
		t.Fatalf("answer %s", a)
	}
}

// Every form of a wrong or missing credential gets 401 with
// WWW-Authenticate and a request id, never reaches the consumer, and never
// has the token quoted back; the first refusal is logged at WARN, the
// others at DEBUG (one line per interval), none with the token.
func TestHandlerRefusesBadTokens(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	for name, hdr := range map[string]string{
		"missing":      "",
		"wrong":        "Bearer not-the-token",
		"prefix":       "Bearer " + testToken[:10],
		"longer":       "Bearer " + testToken + "x",
		"basic scheme": "Basic " + testToken,
		"bare token":   testToken,
	} {
		t.Run(name, func(t *testing.T) {
			r := request{body: envelope("a-1"), header: map[string]string{}}
			if hdr != "" {
				r.header["Authorization"] = hdr
			}
			a := do(t, f.srv, r)
			if a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") == "" || a.header.Get(HeaderRequestID) == "" {
				t.Errorf("answer %s", a)
			}
			if strings.Contains(a.raw, testToken[:10]) {
				t.Errorf("the answer quotes the token: %s", a)
			}
		})
	}
	select {
	case d := <-f.c.taken:
		t.Fatalf("the consumer took an unauthenticated request: %s", d.Body)
	case <-time.After(50 * time.Millisecond):
	}
	if n := f.obs.count("401"); n != 6 {
		t.Errorf("%d answers of 401 observed, want 6", n)
	}
	if all, warn := len(f.log.find("with 401")), len(f.log.find("WARN Refused a request", "with 401")); all != 6 || warn != 1 {
		t.Errorf("%d refusals logged, %d at WARN; want 6, the first at WARN:\n%s", all, warn, f.log.String())
	}
	if logs := f.log.String(); strings.Contains(logs, testToken[:10]) || strings.Contains(strings.ToLower(logs), "authorization: ") {
		t.Errorf("the token or the Authorization header is in the log:\n%s", logs)
	}
}
