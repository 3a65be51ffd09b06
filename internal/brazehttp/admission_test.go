package brazehttp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Backpressure: past the request limit or the event limit, 429 with
// Retry-After. A request answered 503 at its ack timeout keeps its share
// until the consumer resolves it, since its events are still in the
// pipeline; the share comes back then.
func TestHandlerBackpressure(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	post := func(ids ...string) <-chan answer {
		ch := make(chan answer, 1)
		go func() { ch <- do(t, f.srv, request{token: testToken, body: envelope(ids...)}) }()
		return ch
	}
	waitHeld := func(requests, events int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, e := f.obs.held()
			if r == requests && e == events {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("held %d requests, %d events; want %d, %d", r, e, requests, events)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	// Events: 3 held, 3 more exceed 5.
	a1 := post("hold-a", "a2", "a3")
	waitHeld(1, 3)
	a := do(t, f.srv, request{token: testToken, body: envelope("b1", "b2", "b3")})
	if a.status != 429 || a.header.Get("Retry-After") != "2" || !strings.Contains(a.body["error"].(string), "max_in_flight_events (5)") {
		t.Fatalf("past the event limit: %s", a)
	}
	// Two fit.
	if a := do(t, f.srv, request{token: testToken, body: envelope("c1", "c2")}); a.status != 200 {
		t.Fatalf("within the event limit: %s", a)
	}
	// a1 is answered 503 at its ack timeout, but is still held.
	if a := <-a1; a.status != 503 {
		t.Fatalf("held request: %s", a)
	}
	waitHeld(1, 3)
	if a := do(t, f.srv, request{token: testToken, body: envelope("d1", "d2", "d3")}); a.status != 429 {
		t.Fatalf("while the answered request is still in the pipeline: %s", a)
	}
	f.c.release(t, "hold-a", nil)
	waitHeld(0, 0)
	if a := do(t, f.srv, request{token: testToken, body: envelope("e1", "e2", "e3")}); a.status != 200 {
		t.Fatalf("once it was resolved: %s", a)
	}

	// Requests: two held, the third refused before its body is read.
	h1, h2 := post("hold-1"), post("hold-2")
	waitHeld(2, 2)
	a = do(t, f.srv, request{token: testToken, body: envelope("f1")})
	if a.status != 429 || a.header.Get("Retry-After") != "2" || !strings.Contains(a.body["error"].(string), "max_in_flight_requests 2") {
		t.Fatalf("past the request limit: %s", a)
	}
	f.c.release(t, "hold-1", nil)
	f.c.release(t, "hold-2", errors.New("nacked"))
	for _, ch := range []<-chan answer{h1, h2} {
		<-ch
	}
	waitHeld(0, 0)
	if len(f.log.find("WARN Answered 429")) != 1 {
		t.Fatalf("429s are logged at WARN, rate-limited:\n%s", f.log.String())
	}
}
