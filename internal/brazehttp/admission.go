package brazehttp

import "sync"

// admission bounds what the handler holds at once, so that memory has a
// bound that does not depend on what senders post. Bytes alone are not
// enough: each event of a request becomes a message downstream, whose cost
// (the message, its metadata, its Segment call) does not shrink with the
// event, so 80,000 tiny events in one body cost far more than their bytes.
// Hence two budgets: requests (each body at most MaxBodyBytes) and events.
//
// A request's share is released when its delivery is resolved, not when it
// is answered: a request answered 503 after ack_timeout is still in the
// pipeline, and so is its memory, until Benthos acknowledges it. Counting it
// until then keeps the bound true while the pipeline is slow.
type admission struct {
	maxRequests, maxEvents int
	obs                    Observer

	mu               sync.Mutex
	requests, events int
}

// ticket is one request's share of the budgets; release gives it back,
// once, however many times it is called.
type ticket struct {
	a      *admission
	events int
	once   sync.Once
}

// admit takes a request slot, or returns nil when all are taken.
func (a *admission) admit() *ticket {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.requests >= a.maxRequests {
		return nil
	}
	a.requests++
	a.obs.InFlight(a.requests, a.events)
	return &ticket{a: a}
}

// addEvents reserves n events for the ticket's request. It refuses, and
// reports how many events are held, when they do not fit: the request is
// then answered 429 rather than waiting, so a handler never queues behind a
// budget it cannot see the end of.
func (t *ticket) addEvents(n int) (ok bool, held int) {
	a := t.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.events+n > a.maxEvents {
		return false, a.events
	}
	a.events += n
	t.events += n
	a.obs.InFlight(a.requests, a.events)
	return true, a.events
}

func (t *ticket) release() {
	t.once.Do(func() {
		a := t.a
		a.mu.Lock()
		a.requests--
		a.events -= t.events
		// The observer is called under the lock so gauge updates arrive in
		// order: a stale value never overwrites a newer one.
		a.obs.InFlight(a.requests, a.events)
		a.mu.Unlock()
	})
}
