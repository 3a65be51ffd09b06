package segmenttest

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
)

// DefaultMaxRecordedRequests is how many requests a Receiver keeps for
// inspection when Config.MaxRecordedRequests is 0.
const DefaultMaxRecordedRequests = 10000

// store records what the receiver accepted. Messages are kept without bound
// (tests want all of them); requests are kept in a ring so that a long
// benchmark does not grow memory. In count-only mode no message is kept and
// deduplication remembers a 64-bit hash per messageId instead of the string,
// which makes a false duplicate possible but vanishingly rare (about 3 in a
// million over ten million distinct ids).
type store struct {
	countOnly   bool
	maxRequests int
	seed        maphash.Seed

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever count changes
	messages []Message
	seen     map[string]struct{}
	hashes   map[uint64]struct{}
	count    int
	dups     int
	requests []Request // ring; oldest at index next once full
	next     int
}

func newStore(countOnly bool, maxRequests int) *store {
	s := &store{countOnly: countOnly, maxRequests: maxRequests, seed: maphash.MakeSeed()}
	s.clear()
	return s
}

// clear forgets everything; the caller holds mu or owns s exclusively.
func (s *store) clear() {
	s.messages = nil
	s.seen = make(map[string]struct{})
	s.hashes = make(map[uint64]struct{})
	s.count, s.dups = 0, 0
	s.requests, s.next = nil, 0
	if s.changed != nil {
		close(s.changed)
	}
	s.changed = make(chan struct{})
}

// accept records msgs, dropping repeats of a messageId already seen, and
// returns the messages that were new.
func (s *store) accept(msgs []Message) (fresh []Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		if m.ID != "" && s.seenBefore(m.ID) {
			s.dups++
			continue
		}
		s.count++
		fresh = append(fresh, m)
		if !s.countOnly {
			s.messages = append(s.messages, m)
		}
	}
	if len(fresh) > 0 {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return fresh
}

// seenBefore marks id as seen and reports whether it already was.
func (s *store) seenBefore(id string) bool {
	if s.countOnly {
		h := maphash.String(s.seed, id)
		_, ok := s.hashes[h]
		s.hashes[h] = struct{}{}
		return ok
	}
	_, ok := s.seen[id]
	s.seen[id] = struct{}{}
	return ok
}

// addRequest keeps req, dropping the oldest one once maxRequests are held.
func (s *store) addRequest(req Request) {
	if s.maxRequests <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) < s.maxRequests {
		s.requests = append(s.requests, req)
		return
	}
	s.requests[s.next] = req
	s.next = (s.next + 1) % s.maxRequests
}

// Messages returns the accepted messages, first copy of each messageId only,
// in arrival order. It is empty when the receiver runs with CountOnly.
func (rc *Receiver) Messages() []Message {
	rc.store.mu.Lock()
	defer rc.store.mu.Unlock()
	return append([]Message(nil), rc.store.messages...)
}

// MessageIDs returns the messageId of each message Messages returns.
func (rc *Receiver) MessageIDs() []string {
	rc.store.mu.Lock()
	defer rc.store.mu.Unlock()
	ids := make([]string, len(rc.store.messages))
	for i, m := range rc.store.messages {
		ids[i] = m.ID
	}
	return ids
}

// Count returns how many distinct messages were accepted, also in CountOnly
// mode.
func (rc *Receiver) Count() int {
	rc.store.mu.Lock()
	defer rc.store.mu.Unlock()
	return rc.store.count
}

// Duplicates returns how many accepted messages repeated a messageId already
// seen, and so were not recorded again.
func (rc *Receiver) Duplicates() int {
	rc.store.mu.Lock()
	defer rc.store.mu.Unlock()
	return rc.store.dups
}

// Requests returns the recorded requests, oldest first: at most
// Config.MaxRecordedRequests of the latest ones.
func (rc *Receiver) Requests() []Request {
	rc.store.mu.Lock()
	defer rc.store.mu.Unlock()
	out := make([]Request, 0, len(rc.store.requests))
	out = append(out, rc.store.requests[rc.store.next:]...)
	return append(out, rc.store.requests[:rc.store.next]...)
}

// WaitForCount blocks until at least n distinct messages were accepted or ctx
// is done; then it returns an error that says how many arrived.
func (rc *Receiver) WaitForCount(ctx context.Context, n int) error {
	for {
		rc.store.mu.Lock()
		count, changed := rc.store.count, rc.store.changed
		rc.store.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("receiver: %d of %d messages received: %w", count, n, ctx.Err())
		}
	}
}

// Reset forgets every recorded message, request and count and removes every
// injected fault, so one Receiver can serve several test cases.
func (rc *Receiver) Reset() {
	rc.store.mu.Lock()
	rc.store.clear()
	rc.store.mu.Unlock()
	rc.ClearFaults()
}
