package brazehttp

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every answer of the protocol, one request at a time against a ready
// handler: the status, the reason in the JSON body, the headers Braze acts
// on, and that what was refused never reached the consumer.
func TestHandlerAnswers(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	ok := envelope("ok-1", "ok-2")
	gz := gzipped(ok)
	big := bytes.Repeat([]byte("x"), 5000)
	bomb := gzipped(append(append([]byte(`{"events":[],"pad":"`), bytes.Repeat([]byte("a"), 100000)...), `"}`...))
	var twoMembers []byte
	twoMembers = append(twoMembers, gzipped(ok[:10])...)
	twoMembers = append(twoMembers, gzipped(ok[10:])...)
	badCRC := append([]byte(nil), gz...)
	badCRC[len(badCRC)-8] ^= 0xff
	gzHeader := map[string]string{"Content-Encoding": "gzip"}

	for _, tc := range []struct {
		name       string
		req        request
		status     int
		reason     string            // in the JSON "error"
		header     map[string]string // expected answer headers
		reachesOut bool              // the consumer takes it
		delivered  []byte            // the body the consumer gets, when checked
	}{
		{name: "plain ok", req: request{body: ok, header: map[string]string{HeaderVersion: "1"}}, status: 200, reachesOut: true, delivered: ok},
		{name: "gzip ok", req: request{body: gz, header: gzHeader}, status: 200, reachesOut: true, delivered: ok},
		{name: "x-gzip ok", req: request{body: gz, header: map[string]string{"Content-Encoding": "x-gzip"}}, status: 200, reachesOut: true, delivered: ok},
		{name: "gzip chunked ok", req: request{body: gz, header: gzHeader, chunked: true}, status: 200, reachesOut: true, delivered: ok},
		{name: "concatenated gzip members", req: request{body: twoMembers, header: gzHeader}, status: 200, reachesOut: true, delivered: ok},
		{name: "empty envelope", req: request{body: []byte(`{"events":[]}`)}, status: 200},
		{name: "truncated gzip", req: request{body: gz[:len(gz)-6], header: gzHeader}, status: 400, reason: "the gzip stream is cut short"},
		{name: "gzip cut in the middle", req: request{body: gz[:len(gz)/2], header: gzHeader}, status: 400, reason: "cut short"},
		{name: "trailing garbage after gzip", req: request{body: append(append([]byte(nil), gz...), "garbage after the stream"...), header: gzHeader}, status: 400, reason: "unexpected data after the end of the gzip stream"},
		{name: "a few bytes after gzip", req: request{body: append(append([]byte(nil), gz...), "xy"...), header: gzHeader}, status: 400, reason: "unexpected data after the end of the gzip stream"},
		{name: "empty gzip body", req: request{header: gzHeader}, status: 400, reason: "not valid gzip although Content-Encoding says so: the body is empty"},
		{name: "empty gzip body chunked", req: request{header: gzHeader, chunked: true}, status: 400, reason: "the body is empty"},
		{name: "not gzip at all", req: request{body: ok, header: gzHeader}, status: 400, reason: "does not start with a gzip header"},
		{name: "shorter than a gzip header", req: request{body: []byte("gzip?"), header: gzHeader}, status: 400, reason: "the body (5 bytes) is too short for a gzip header"},
		{name: "gzip checksum", req: request{body: badCRC, header: gzHeader}, status: 400, reason: "checksum"},
		{name: "413 as sent", req: request{body: big}, status: 413, reason: "exceeds 4096 bytes (it is 5000 bytes as sent)"},
		{name: "413 as sent, chunked", req: request{body: big, chunked: true}, status: 413, reason: "exceeds 4096 bytes"},
		{name: "413 after decoding", req: request{body: bomb, header: gzHeader}, status: 413, reason: "once gzip-decoded"},
		{name: "413 too many events", req: request{body: envelope("e1", "e2", "e3", "e4")}, status: 413, reason: "holds 4 events, more than max_events_per_request (3)"},
		{name: "400 not an envelope", req: request{body: []byte(`[1,2]`)}, status: 400, reason: "not a Braze Currents envelope: the body is JSON but not an object"},
		{name: "400 not JSON", req: request{body: []byte(`events=1`)}, status: 400, reason: "not a Braze Currents envelope"},
		{name: "401 no token", req: request{token: "-", body: ok}, status: 401, reason: "missing or invalid bearer token", header: map[string]string{"WWW-Authenticate": `Bearer realm="braze-currents"`}},
		{name: "401 wrong token", req: request{token: "wrong", body: ok}, status: 401, reason: "missing or invalid bearer token"},
		{name: "415", req: request{body: ok, header: map[string]string{"Content-Encoding": "br"}}, status: 415, reason: `Content-Encoding "br" is not supported`},
		{name: "405", req: request{method: http.MethodGet}, status: 405, reason: "method GET not allowed", header: map[string]string{"Allow": "POST"}},
		{name: "404", req: request{path: "/other", body: ok}, status: 404, reason: "accepted on /currents"},
		{name: "503 nack", req: request{body: envelope("nack-1")}, status: 503, reason: "downstream refused nack-1", header: map[string]string{"Retry-After": "2"}, reachesOut: true},
		{name: "503 after ack timeout", req: request{body: envelope("hold-ack")}, status: 503, reason: "not delivered within 300ms", header: map[string]string{"Retry-After": "2"}, reachesOut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.req.token {
			case "":
				tc.req.token = testToken
			case "-":
				tc.req.token = ""
			}
			a := do(t, f.srv, tc.req)
			if a.status != tc.status {
				t.Fatalf("answer %s, want %d", a, tc.status)
			}
			if msg, _ := a.body["error"].(string); !strings.Contains(msg, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", msg, tc.reason)
			}
			for k, v := range tc.header {
				if got := a.header.Get(k); got != v {
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
			if a.status != 404 && (a.header.Get(HeaderRequestID) == "" || a.body["request_id"] != nil && a.body["request_id"] != a.header.Get(HeaderRequestID)) {
				t.Errorf("request id: header %q, body %v", a.header.Get(HeaderRequestID), a.body["request_id"])
			}
			if a.status == 400 && strings.Contains(tc.reason, "envelope") && a.body["expected"] != ExpectedEnvelope {
				t.Errorf("a 400 for a non-envelope says what was expected: %v", a.body["expected"])
			}
			select {
			case d := <-f.c.taken:
				if !tc.reachesOut {
					t.Errorf("the consumer took %s", d.Body)
				}
				if tc.delivered != nil && (!bytes.Equal(d.Body, tc.delivered) || d.Events != 2 ||
					d.RequestID != a.header.Get(HeaderRequestID) || d.Version != tc.req.header[HeaderVersion] || d.RemoteAddr == "") {
					t.Errorf("delivered %+v, want the decoded envelope %s with its request's details", d.Batch, tc.delivered)
				}
			case <-time.After(50 * time.Millisecond):
				if tc.reachesOut {
					t.Error("the consumer took nothing")
				}
			}
			if a.status == 400 || a.status == 413 || a.status == 415 || a.status == 405 {
				id := a.header.Get(HeaderRequestID)
				if len(f.log.find("Refused request "+id, fmt.Sprint(a.status))) != 1 {
					t.Errorf("the refusal of %s is not logged with its id and reason:\n%s", id, f.log.String())
				}
			}
		})
	}
	// Refusals are logged at WARN once per interval, the rest at DEBUG.
	if n := len(f.log.find("WARN Refused request")); n != 1 {
		t.Errorf("%d refusals at WARN, want 1 (rate-limited):\n%s", n, f.log.String())
	}
}

// A request the consumer does not take within QueueTimeout gets 503 and
// gives its share back at once.
// 400 only for a body that is not a Currents envelope, each with the
// reason, what was expected and the request id; none reaches the consumer.
// An empty envelope is fine, and answered without bothering the consumer.
func TestHandlerRefusesWhatIsNotAnEnvelope(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	for name, body := range map[string]string{
		"not JSON":          `events: [1, 2]`,
		"empty":             ``,
		"cut short":         `{"events":[{"id":"x"}`,
		"array":             `[` + string(envelope("arr")) + `]`,
		"string":            `"events"`,
		"no events":         `{"event":[]}`,
		"events not array":  `{"events":{"id":"x"}}`,
		"events null":       `{"events":null}`,
		"trailing data":     `{"events":[]} {"events":[]}`,
		"bad JSON in event": `{"events":[{"id": }]}`,
	} {
		t.Run(name, func(t *testing.T) {
			a := do(t, f.srv, request{token: testToken, body: []byte(body)})
			if msg, _ := a.body["error"].(string); a.status != http.StatusBadRequest || !strings.Contains(msg, "not a Braze Currents envelope") ||
				a.body["expected"] != ExpectedEnvelope || a.body["request_id"] != a.header.Get(HeaderRequestID) {
				t.Errorf("answer %s", a)
			}
		})
	}
	if a := do(t, f.srv, request{token: testToken, body: []byte(`{"events":[]}`)}); a.status != http.StatusOK || a.body["events"] != float64(0) {
		t.Errorf("empty envelope: %s", a)
	}
	select {
	case d := <-f.c.taken:
		t.Fatalf("the consumer took %s", d.Body)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestHandlerQueueTimeout(t *testing.T) {
	f := newFixture(t, smallLimits, false)
	f.h.SetReady() // no consumer at all
	a := do(t, f.srv, request{token: testToken, body: envelope("q1")})
	if a.status != 503 || !strings.Contains(a.body["error"].(string), "did not take the request within 300ms") {
		t.Fatalf("answer %s", a)
	}
	if r, e := f.obs.held(); r != 0 || e != 0 {
		t.Fatalf("held %d, %d after the answer", r, e)
	}
}
