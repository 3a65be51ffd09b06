package segment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Config configures a Sender. Zero values take the defaults below.
type Config struct {
	// Endpoint is the origin requests go to; "/v1/batch" is appended.
	Endpoint string
	// Timeout bounds one HTTP attempt (connect, send, answer). Default 10s.
	Timeout time.Duration
	// InitialBackoff and MaxBackoff bound the exponential backoff between
	// attempts when the answer has no Retry-After. Defaults 500ms and 10s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxRetryDuration, when above 0, bounds how long one request is retried
	// for transient failures, a rejected key or a rejected endpoint before
	// its messages fail with that class (and are nacked by the caller). 0,
	// the default, retries until Segment accepts them or the Sender closes:
	// an input that does not replay nacks (a file) then loses nothing.
	MaxRetryDuration time.Duration

	// BatchCount and BatchBytes bound one request: messages, and bytes of
	// messages with their separators. Defaults (and maxima) 250 … 2,500
	// messages and MaxRequestBytes less the envelope's reserve.
	BatchCount int
	BatchBytes int
	// BatchPeriod is the longest a message waits for others to share its
	// request. Default 200ms.
	BatchPeriod time.Duration
	// MaxRequests is how many requests are sent at once. Default 8.
	MaxRequests int
	// MaxPending bounds the messages handed to Send and not yet resolved
	// (queued or in a request); a Send waits for room. Default
	// (MaxRequests+1) × BatchCount: every request full and one more
	// gathering.
	MaxPending int
	// MaxCallers is how many Send calls can be in progress at once (the
	// Benthos output's writers), 0 if unknown. When that many are waiting,
	// no further message can arrive before a request ends, so what is
	// queued is sent without waiting for BatchPeriod.
	MaxCallers int

	// LogInterval is the least time between two log lines about the same
	// source and failure. Default 1m.
	LogInterval time.Duration
	// Transport is the base RoundTripper; default a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	Logger    Logger
	Observer  Observer
}

// Defaults for Config's zero values.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultBatchCount     = 250
	DefaultBatchPeriod    = 200 * time.Millisecond
	DefaultMaxRequests    = 8
	DefaultLogInterval    = time.Minute
)

// MaxBatchBytes is the most message bytes one request carries: the API's
// request limit less the reserve for the envelope around the messages.
const MaxBatchBytes = MaxRequestBytes - requestOverheadBytes

// Message is one validated track call to deliver.
type Message struct {
	// WriteKey is the key of the Segment source it goes to.
	WriteKey string
	// Source names that source in logs and errors; empty means a
	// fingerprint of the key.
	Source string
	// Raw is the call, sent byte for byte.
	Raw []byte
}

// Sender delivers validated track messages to one endpoint, for any number
// of write keys, and reports a verdict per message. Messages of concurrent
// Send calls that share a write key share requests: a caller that hands
// over one message at a time still gets requests of BatchCount. It is safe
// for concurrent use.
type Sender struct {
	cfg    Config
	ctx    context.Context // cancelled by Close: aborts every request
	cancel context.CancelFunc
	logs   *logLimiter

	mu         sync.Mutex
	queues     map[string]*keyQueue
	ring       []*keyQueue // queues with messages, in round-robin order
	next       int         // where the round robin goes on
	inFlight   int         // requests being delivered
	pending    int         // messages handed over, not yet resolved
	callers    int         // Send calls in progress
	roomWaits  int         // Send calls waiting for room
	room       chan struct{}
	closed     bool
	wake       chan struct{}
	dispatched chan struct{} // closed when the dispatcher has stopped
	requests   sync.WaitGroup
}

// keyQueue holds the messages of one write key waiting for a request.
type keyQueue struct {
	key, source string
	items       []*item
	bytes       int // sum of len(raw)+1 over items
}

// item is one message on its way: where its verdict goes.
type item struct {
	raw  []byte
	call *call
	idx  int
	at   time.Time // when it was handed over
}

// call collects the verdicts of one Send.
type call struct {
	mu        sync.Mutex
	results   []error
	got       []bool
	left      int
	abandoned bool
	done      chan struct{}
}

func newCall(n int) *call {
	return &call{results: make([]error, n), got: make([]bool, n), left: n, done: make(chan struct{})}
}

func (c *call) resolve(i int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abandoned || c.got[i] {
		return
	}
	c.results[i], c.got[i] = err, true
	if c.left--; c.left == 0 {
		close(c.done)
	}
}

// abandon stops taking verdicts and gives every unresolved message err.
func (c *call) abandon(err error) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.abandoned = true
	out := make([]error, len(c.results))
	for i, r := range c.results {
		if !c.got[i] {
			r = err
		}
		out[i] = r
	}
	return out
}

// NewSender checks cfg, fills its defaults and returns a running Sender.
func NewSender(cfg Config) (*Sender, error) {
	ep, err := NormalizeEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	cfg.Endpoint = ep
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.InitialBackoff {
		return nil, fmt.Errorf("the longest backoff (%s) is shorter than the first (%s)", cfg.MaxBackoff, cfg.InitialBackoff)
	}
	if cfg.MaxRetryDuration < 0 {
		return nil, fmt.Errorf("the retry bound must not be negative, got %s", cfg.MaxRetryDuration)
	}
	if cfg.BatchCount <= 0 {
		cfg.BatchCount = DefaultBatchCount
	}
	if cfg.BatchCount > MaxBatchMessages {
		return nil, fmt.Errorf("a request carries at most %d messages, not %d", MaxBatchMessages, cfg.BatchCount)
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = MaxBatchBytes
	}
	if cfg.BatchBytes > MaxBatchBytes {
		return nil, fmt.Errorf("a request carries at most %d bytes of messages, not %d", MaxBatchBytes, cfg.BatchBytes)
	}
	if cfg.BatchPeriod <= 0 {
		cfg.BatchPeriod = DefaultBatchPeriod
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending(cfg.MaxRequests, cfg.BatchCount)
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = DefaultLogInterval
	}
	if cfg.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		cfg.Transport = t
	}
	if cfg.Logger == nil {
		cfg.Logger = nopLogger{}
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	s := &Sender{
		cfg: cfg, logs: newLogLimiter(cfg.LogInterval), queues: map[string]*keyQueue{},
		room: make(chan struct{}), wake: make(chan struct{}, 1), dispatched: make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.dispatch()
	return s, nil
}

// DefaultMaxPending is the default bound on messages held by a Sender:
// enough to keep every request full and gather one more.
func DefaultMaxPending(maxRequests, batchCount int) int {
	return (maxRequests + 1) * batchCount
}

// Close aborts every request in progress and every message still queued:
// their callers get ClassAborted. It waits for the requests to stop and
// releases idle connections.
func (s *Sender) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	var queued []*item
	for _, q := range s.ring {
		queued = append(queued, q.items...)
		q.items, q.bytes = nil, 0
	}
	s.ring = nil
	clear(s.queues)
	close(s.room)
	s.mu.Unlock()

	s.cancel()
	abort := &DeliveryError{Class: ClassAborted, StatusClass: StatusAborted, Err: errSenderClosed}
	for _, it := range queued {
		it.call.resolve(it.idx, abort)
	}
	s.kick()
	<-s.dispatched
	s.requests.Wait()
	if t, ok := s.cfg.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

var errSenderClosed = errors.New("the output closed")

// Send delivers msgs, each already accepted by Validate. It blocks until
// every message has a verdict or ctx is done, and returns one error per
// message: nil when Segment answered 2xx, else a *DeliveryError. Messages
// whose verdict ctx cut short get ClassAborted.
func (s *Sender) Send(ctx context.Context, msgs []Message) []error {
	c := newCall(len(msgs))
	if len(msgs) == 0 {
		return c.results
	}
	items := make([]item, len(msgs))
	handed := 0 // msgs[:handed] are queued or resolved

	s.mu.Lock()
	s.callers++
	for handed < len(msgs) && !s.closed {
		free := s.cfg.MaxPending - s.pending
		// Take what fits, but not in driblets: a big caller waits until a
		// whole request's worth is free, unless nothing else is held.
		if want := min(len(msgs)-handed, s.cfg.BatchCount); free < want && s.pending > 0 {
			s.roomWaits++
			room := s.room
			s.mu.Unlock()
			s.kick()
			select {
			case <-room:
			case <-ctx.Done():
			}
			s.mu.Lock()
			s.roomWaits--
			if ctx.Err() != nil {
				break
			}
			continue
		}
		n := min(len(msgs)-handed, max(free, 1))
		now := time.Now()
		for i := handed; i < handed+n; i++ {
			m := msgs[i]
			it := &items[i]
			*it = item{raw: m.Raw, call: c, idx: i, at: now}
			q := s.queues[m.WriteKey]
			if q == nil {
				q = &keyQueue{key: m.WriteKey, source: m.Source}
				s.queues[m.WriteKey] = q
			}
			if len(q.items) == 0 {
				s.ring = append(s.ring, q)
			}
			q.items = append(q.items, it)
			q.bytes += len(m.Raw) + 1
		}
		s.pending += n
		handed += n
		s.mu.Unlock()
		s.kick()
		s.mu.Lock()
	}
	closed := s.closed
	s.mu.Unlock()

	var out []error
	if handed < len(msgs) {
		cause := context.Cause(ctx)
		if closed {
			cause = errSenderClosed
		}
		abort := &DeliveryError{Class: ClassAborted, StatusClass: StatusAborted, Err: cause}
		for i := handed; i < len(msgs); i++ {
			c.resolve(i, abort)
		}
	}
	select {
	case <-c.done:
		out = c.results
	case <-ctx.Done():
		out = c.abandon(&DeliveryError{Class: ClassAborted, StatusClass: StatusAborted, Err: context.Cause(ctx)})
	}
	s.mu.Lock()
	s.callers--
	s.mu.Unlock()
	return out
}

// kick wakes the dispatcher.
func (s *Sender) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// dispatch starts requests while there are free request slots and queues
// ready to send: full ones, ones whose oldest message has waited
// BatchPeriod, and any queue when no further message can arrive (every
// caller is waiting, or one waits for room).
func (s *Sender) dispatch() {
	defer close(s.dispatched)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		now := time.Now()
		urgent := s.roomWaits > 0 || (s.cfg.MaxCallers > 0 && s.callers >= s.cfg.MaxCallers)
		var start []*request
		var due time.Time
		for s.inFlight < s.cfg.MaxRequests {
			q, d := s.pickLocked(now, urgent)
			if q == nil {
				due = d
				break
			}
			start = append(start, s.cutLocked(q))
			s.inFlight++
		}
		s.mu.Unlock()
		for _, r := range start {
			s.requests.Add(1)
			go s.run(r)
		}
		var fire <-chan time.Time
		if !due.IsZero() {
			timer.Reset(time.Until(due))
			fire = timer.C
		}
		select {
		case <-s.wake:
		case <-fire:
		}
		timer.Stop()
	}
}

// pickLocked returns the next queue, in round-robin order, that is ready to
// send; when none is, the moment the first one will be (zero if no queue
// holds messages).
func (s *Sender) pickLocked(now time.Time, urgent bool) (*keyQueue, time.Time) {
	var due time.Time
	for k := range s.ring {
		i := (s.next + k) % len(s.ring)
		q := s.ring[i]
		ready := q.items[0].at.Add(s.cfg.BatchPeriod)
		if urgent || len(q.items) >= s.cfg.BatchCount || q.bytes >= s.cfg.BatchBytes || !now.Before(ready) {
			s.next = i + 1
			return q, time.Time{}
		}
		if due.IsZero() || ready.Before(due) {
			due = ready
		}
	}
	return nil, due
}

// cutLocked takes the front of q as one request: at most BatchCount
// messages and BatchBytes bytes, and at least one message.
func (s *Sender) cutLocked(q *keyQueue) *request {
	n, used := 0, 0
	for n < len(q.items) && n < s.cfg.BatchCount {
		size := len(q.items[n].raw) + 1
		if n > 0 && used+size > s.cfg.BatchBytes {
			break
		}
		used += size
		n++
	}
	r := &request{key: q.key, source: q.source, items: q.items[:n:n]}
	q.items = q.items[n:]
	q.bytes -= used
	if len(q.items) == 0 {
		q.items = nil
		for i, o := range s.ring {
			if o == q {
				s.ring = append(s.ring[:i], s.ring[i+1:]...)
				break
			}
		}
	}
	if r.source == "" {
		r.source = KeyFingerprint(q.key)
	}
	return r
}

// run delivers r and gives its slot and its room back.
func (s *Sender) run(r *request) {
	defer s.requests.Done()
	s.deliver(r, 0)
	s.mu.Lock()
	s.inFlight--
	s.pending -= len(r.items)
	if s.roomWaits > 0 && !s.closed {
		close(s.room)
		s.room = make(chan struct{})
	}
	s.mu.Unlock()
	s.kick()
}
