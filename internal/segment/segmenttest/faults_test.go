package segmenttest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestQueuedFaultWithRetryAfter(t *testing.T) {
	rc := startReceiver(t, Config{})
	rc.QueueFaults(
		Fault{Status: http.StatusTooManyRequests, RetryAfter: 7},
		Fault{Status: http.StatusBadGateway, Body: "<html>bad gateway</html>"},
	)
	if rc.PendingFaults() != 2 {
		t.Fatalf("PendingFaults %d", rc.PendingFaults())
	}

	r := mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a"))
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") != "7" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	var e struct{ Error string }
	if json.Unmarshal([]byte(r.body), &e) != nil || e.Error == "" {
		t.Fatalf("default fault body %q", r.body)
	}

	r = mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a"))
	wantStatus(t, r, http.StatusBadGateway)
	if r.body != "<html>bad gateway</html>" || r.header.Get("Retry-After") != "" {
		t.Fatalf("second fault answered %q, Retry-After %q", r.body, r.header.Get("Retry-After"))
	}
	if rc.Count() != 0 {
		t.Fatalf("faulted requests recorded %d messages", rc.Count())
	}

	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a")), http.StatusOK)
	if rc.Count() != 1 || rc.Duplicates() != 0 || rc.PendingFaults() != 0 {
		t.Fatalf("Count %d Duplicates %d Pending %d", rc.Count(), rc.Duplicates(), rc.PendingFaults())
	}
	reqs := rc.Requests()
	if len(reqs) != 3 || !reqs[0].Faulted || reqs[0].Status != 429 || reqs[2].Faulted {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestStatus200FaultDropsSilently(t *testing.T) {
	rc := startReceiver(t, Config{})
	rc.QueueFaults(Fault{Status: http.StatusOK})
	r := mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a"))
	wantStatus(t, r, http.StatusOK)
	if rc.Count() != 0 {
		t.Fatal("a faulted 200 must not record messages")
	}
}

func TestDropConnection(t *testing.T) {
	rc := startReceiver(t, Config{})
	rc.QueueFaults(Fault{DropConnection: true})
	if _, err := post(client, rc.URL(), "/v1/batch", "k", batchOf("a")); err == nil {
		t.Fatal("want a client error when the connection is dropped")
	}
	if rc.Count() != 0 {
		t.Fatal("dropped request recorded messages")
	}
	// The handler records the request after it dropped the connection, so
	// the client can see the drop first.
	reqs := rc.Requests()
	for deadline := time.Now().Add(5 * time.Second); len(reqs) == 0 && time.Now().Before(deadline); reqs = rc.Requests() {
		time.Sleep(5 * time.Millisecond)
	}
	if len(reqs) != 1 || reqs[0].Status != 0 || !reqs[0].Faulted {
		t.Fatalf("requests %+v", reqs)
	}
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a")), http.StatusOK)
}

func TestDelay(t *testing.T) {
	rc := startReceiver(t, Config{})
	const delay = 150 * time.Millisecond

	t.Run("slow success", func(t *testing.T) {
		rc.QueueFaults(Fault{Delay: delay})
		start := time.Now()
		wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("slow")), http.StatusOK)
		if took := time.Since(start); took < delay {
			t.Fatalf("answered in %v, before the %v delay", took, delay)
		}
		if rc.Count() != 1 {
			t.Fatal("a delay-only fault must still accept the messages")
		}
	})

	t.Run("slow failure", func(t *testing.T) {
		rc.QueueFaults(Fault{Delay: delay, Status: http.StatusGatewayTimeout})
		start := time.Now()
		wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("late")), http.StatusGatewayTimeout)
		if took := time.Since(start); took < delay {
			t.Fatalf("answered in %v, before the %v delay", took, delay)
		}
	})

	t.Run("client gives up", func(t *testing.T) {
		rc.Reset()
		rc.QueueFaults(Fault{Delay: time.Hour})
		impatient := &http.Client{Timeout: 100 * time.Millisecond}
		if _, err := post(impatient, rc.URL(), "/v1/batch", "k", batchOf("gone")); err == nil {
			t.Fatal("want a client timeout")
		}
		// The handler must notice the client left instead of sleeping an hour.
		deadline := time.Now().Add(10 * time.Second)
		for len(rc.Requests()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("delayed handler did not end after the client went away")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if r := rc.Requests()[0]; r.Status != 0 || !r.Faulted || rc.Count() != 0 {
			t.Fatalf("request %+v, Count %d", r, rc.Count())
		}
	})
}

func TestRejectKeysWindowThenRecovery(t *testing.T) {
	rc := startReceiver(t, Config{WriteKeys: []string{"k"}})
	rc.RejectKeysUntil(time.Now().Add(-time.Minute))
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("before")), http.StatusOK)

	rc.QueueFaults(Fault{Status: http.StatusInternalServerError})
	rc.RejectKeysFor(300 * time.Millisecond)
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a")), http.StatusUnauthorized)
	if rc.PendingFaults() != 1 {
		t.Fatal("the 401 window must not consume queued faults")
	}

	// Retry as a client would: 401s until the window ends, then the queued
	// 500, then success.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var seen []int
	for {
		r := mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a"))
		if len(seen) == 0 || seen[len(seen)-1] != r.status {
			seen = append(seen, r.status)
		}
		if r.status == http.StatusOK {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no recovery after the window; statuses %v", seen)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if fmt.Sprint(seen) != "[401 500 200]" {
		t.Fatalf("statuses %v, want 401s, one 500, then 200", seen)
	}
	if got := rc.MessageIDs(); len(got) != 2 || got[1] != "a" {
		t.Fatalf("MessageIDs %v", got)
	}
}

func TestRejectKeysClearedEarly(t *testing.T) {
	rc := startReceiver(t, Config{})
	rc.RejectKeysFor(time.Hour)
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a")), http.StatusUnauthorized)
	rc.RejectKeysUntil(time.Time{})
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a")), http.StatusOK)
}

func TestPermanentFault(t *testing.T) {
	rc := startReceiver(t, Config{})
	rc.SetFault(Fault{Status: http.StatusServiceUnavailable, RetryAfter: 1})
	rc.QueueFaults(Fault{Status: http.StatusTooManyRequests})
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a")), http.StatusTooManyRequests)
	for range 3 {
		r := mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a"))
		wantStatus(t, r, http.StatusServiceUnavailable)
		if r.header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	rc.ClearFault()
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a")), http.StatusOK)
	if rc.Count() != 1 {
		t.Fatalf("Count %d", rc.Count())
	}
}

func TestRuleRejectsWholeRequest(t *testing.T) {
	rc := startReceiver(t, Config{})
	rc.AddRule(RejectMessageID("poison", http.StatusBadRequest))
	r := mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("good1", "poison"))
	wantStatus(t, r, http.StatusBadRequest)
	if rc.Count() != 0 {
		t.Fatal("a rejected batch must record nothing")
	}
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("good1", "good2")), http.StatusOK)
	// Authentication comes before rules.
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "", batchOf("poison")), http.StatusUnauthorized)

	rc.AddRule(func(m Message) (Fault, bool) { return Fault{DropConnection: true}, m.Event == "Crash" })
	if _, err := post(client, rc.URL(), "/v1/track", "k", []byte(`{"messageId":"x","event":"Crash"}`)); err == nil {
		t.Fatal("want a client error from a drop rule")
	}
	if got := rc.MessageIDs(); len(got) != 2 {
		t.Fatalf("MessageIDs %v", got)
	}
	rc.ClearFaults()
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("poison")), http.StatusOK)
}
