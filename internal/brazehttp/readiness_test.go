package brazehttp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Readiness: 503 until the consumer acknowledged a probe (a nacked probe is
// retried, an unresolved one followed by another), 503 again while draining
// and after Close. Requests before that get 503, never reach the consumer.
func TestHandlerReadiness(t *testing.T) {
	conf := smallLimits
	conf.AckTimeout = 200 * time.Millisecond
	f := newFixture(t, conf, false)
	f.h.ProbeConsumer()
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready before anything read: %d", s)
	}
	if a := do(t, f.srv, request{token: testToken, body: envelope("early")}); a.status != 503 || a.header.Get("Retry-After") == "" ||
		!strings.Contains(a.body["error"].(string), "readiness probe") {
		t.Fatalf("a request before ready: %s", a)
	}

	ctx := t.Context()
	first, err := f.h.Next(ctx)
	if err != nil || !first.Probe || string(first.Body) != ProbeBody || first.Events != 0 {
		t.Fatalf("first delivery: %+v, %v", first, err)
	}
	first.Resolve(errors.New("buffer not open"))
	second, err := f.h.Next(ctx) // after a backoff
	if err != nil || !second.Probe || second.RequestID == first.RequestID {
		t.Fatalf("after a nack: %+v, %v", second, err)
	}
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready after a nack: %d", s)
	}
	// Not resolved within AckTimeout: another probe comes.
	third, err := f.h.Next(ctx)
	if err != nil || !third.Probe {
		t.Fatalf("after no ack: %+v, %v", third, err)
	}
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready with no ack: %d", s)
	}
	// The late acknowledgement of an earlier probe counts.
	second.Resolve(nil)
	waitReady(t, f.srv, 200)
	if len(f.log.find("WARN The pipeline refused the readiness probe", "buffer not open")) != 1 ||
		len(f.log.find("INFO The pipeline acknowledged the readiness probe")) != 1 {
		t.Fatalf("the probe's story is not logged:\n%s", f.log.String())
	}
	third.Resolve(nil)

	startConsumer(t, f.h)
	if a := do(t, f.srv, request{token: testToken, body: envelope("now")}); a.status != 200 {
		t.Fatalf("a request once ready: %s", a)
	}
	f.h.Drain()
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready while draining: %d", s)
	}
	if a := do(t, f.srv, request{token: testToken, body: envelope("late")}); a.status != 503 {
		t.Fatalf("a request while draining: %s", a)
	}
	f.h.Close()
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready after Close: %d", s)
	}
}

// A consumer that never takes anything: the probe is never acknowledged,
// and the handler never says ready; Close ends the probing.
func TestHandlerNeverReadyWithoutAConsumer(t *testing.T) {
	conf := smallLimits
	conf.AckTimeout = 50 * time.Millisecond
	f := newFixture(t, conf, false)
	f.h.ProbeConsumer()
	for range 5 {
		if s := readyStatus(t, f.srv); s != 503 {
			t.Fatalf("/ready: %d", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.h.Close()
	if _, err := f.h.Next(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

// A refused probe is sent again after a wait doubling from probeRetryMin to
// probeRetryMax, without jitter and without end.
func TestProbeWaitDoublesToItsBound(t *testing.T) {
	b := newProbeWait()
	var got []time.Duration
	for range 9 {
		got = append(got, b.NextBackOff())
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
}
