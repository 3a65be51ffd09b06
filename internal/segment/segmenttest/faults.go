package segmenttest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault describes how the receiver misbehaves for one request, so that tests
// can drive a client through Segment's failure modes: rate limiting, outages,
// slow answers and connections that die mid-request.
//
// The parts combine in this order: wait Delay (giving up if the client goes
// away), then drop the connection if DropConnection, else answer Status with
// Body and Retry-After. A Fault with only a Delay slows the request down and
// then lets it be handled normally; any other Fault answers for the receiver
// and the request's messages are not recorded as accepted, even when Status
// is 200 (which is how to imitate Segment accepting and then dropping data).
type Fault struct {
	// Status is the HTTP status to answer; 0 means no injected answer.
	Status int
	// RetryAfter, in whole seconds, sets the Retry-After header when above 0.
	RetryAfter int
	// Body is the response body. When empty, a 2xx gets {"success":true} and
	// anything else {"error":"<status text>"}.
	Body string
	// Delay holds the answer back this long.
	Delay time.Duration
	// DropConnection closes the TCP connection without writing an answer.
	DropConnection bool
}

// answers reports whether the fault decides the response, as opposed to only
// delaying normal handling.
func (f Fault) answers() bool { return f.DropConnection || f.Status != 0 }

// Rule inspects one message of a request that passed authentication and the
// limits. Returning true rejects the whole request with the returned Fault,
// the way a real API refuses a batch for one bad message; it is the hook for
// testing dead-letter routing. Rules run on the serving goroutines and must
// be safe for concurrent use.
type Rule func(Message) (Fault, bool)

// RejectMessageID returns a Rule that answers status to any request holding
// a message with the given messageId.
func RejectMessageID(id string, status int) Rule {
	body, _ := json.Marshal(map[string]string{"error": "message " + id + " rejected"})
	f := Fault{Status: status, Body: string(body)}
	return func(m Message) (Fault, bool) {
		return f, m.ID == id
	}
}

// faultState holds every injected fault. It has its own lock so that tests
// can change faults while requests are being served.
type faultState struct {
	mu          sync.Mutex
	queue       []Fault
	permanent   *Fault
	rejectUntil time.Time
	rules       []Rule
}

// next picks the fault for a request arriving at now: the key-rejection
// window first (it does not consume the queue), then the head of the queue,
// then the permanent fault.
func (s *faultState) next(now time.Time) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.rejectUntil) {
		return Fault{Status: http.StatusUnauthorized, Body: `{"error":"write key rejected"}`}, true
	}
	if len(s.queue) > 0 {
		f := s.queue[0]
		s.queue[0] = Fault{}
		s.queue = s.queue[1:]
		return f, true
	}
	if s.permanent != nil {
		return *s.permanent, true
	}
	return Fault{}, false
}

// match runs the rules over msgs and returns the first fault a rule asks for.
// Rules are copied out of the lock so a rule may itself call the Receiver.
func (s *faultState) match(msgs []Message) (Fault, bool) {
	s.mu.Lock()
	rules := append([]Rule(nil), s.rules...)
	s.mu.Unlock()
	for _, m := range msgs {
		for _, rule := range rules {
			if f, ok := rule(m); ok {
				return f, true
			}
		}
	}
	return Fault{}, false
}

// QueueFaults appends faults to the queue; each later API request consumes
// one, in order, until the queue is empty.
func (rc *Receiver) QueueFaults(faults ...Fault) {
	rc.faults.mu.Lock()
	defer rc.faults.mu.Unlock()
	rc.faults.queue = append(rc.faults.queue, faults...)
}

// PendingFaults returns how many queued faults have not been consumed yet.
func (rc *Receiver) PendingFaults() int {
	rc.faults.mu.Lock()
	defer rc.faults.mu.Unlock()
	return len(rc.faults.queue)
}

// SetFault makes every API request fail with f (once the queue is empty)
// until ClearFault is called: an outage rather than a blip.
func (rc *Receiver) SetFault(f Fault) {
	rc.faults.mu.Lock()
	defer rc.faults.mu.Unlock()
	rc.faults.permanent = &f
}

// ClearFault ends the outage set by SetFault.
func (rc *Receiver) ClearFault() {
	rc.faults.mu.Lock()
	defer rc.faults.mu.Unlock()
	rc.faults.permanent = nil
}

// RejectKeysUntil answers 401 to every API request until t, whatever key it
// carries, as Segment does while a write key is revoked or mistyped. A time
// in the past ends the window.
func (rc *Receiver) RejectKeysUntil(t time.Time) {
	rc.faults.mu.Lock()
	defer rc.faults.mu.Unlock()
	rc.faults.rejectUntil = t
}

// RejectKeysFor is RejectKeysUntil(time.Now().Add(d)).
func (rc *Receiver) RejectKeysFor(d time.Duration) {
	rc.RejectKeysUntil(time.Now().Add(d))
}

// AddRule adds a per-message rule; see Rule.
func (rc *Receiver) AddRule(r Rule) {
	rc.faults.mu.Lock()
	defer rc.faults.mu.Unlock()
	rc.faults.rules = append(rc.faults.rules, r)
}

// ClearFaults removes every injected fault: the queue, the permanent fault,
// the key-rejection window and the rules.
func (rc *Receiver) ClearFaults() {
	rc.faults.mu.Lock()
	defer rc.faults.mu.Unlock()
	rc.faults.queue = nil
	rc.faults.permanent = nil
	rc.faults.rejectUntil = time.Time{}
	rc.faults.rules = nil
}

// applyFault carries out f on the request. It reports whether the fault
// answered (or deliberately did not answer) the request, and the status
// written, 0 when none was.
func applyFault(w http.ResponseWriter, r *http.Request, f Fault) (handled bool, status int) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true, 0
		}
	}
	if f.DropConnection {
		dropConnection(w)
		return true, 0
	}
	if f.Status == 0 {
		return false, 0
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	body := f.Body
	if body == "" {
		if f.Status >= 200 && f.Status < 300 {
			body = `{"success":true}`
		} else {
			b, _ := json.Marshal(map[string]string{"error": http.StatusText(f.Status)})
			body = string(b)
		}
	}
	if t := strings.TrimSpace(body); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(body))
	return true, f.Status
}

// dropConnection closes the client's connection without an answer. Over
// HTTP/1 it hijacks and closes the TCP connection; where hijacking is not
// possible it aborts the handler, which net/http turns into a reset stream.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
