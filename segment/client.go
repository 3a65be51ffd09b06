package segment

// Delivery through analytics-go, and why it is built the way it is.
//
// analytics-go/v3 is asynchronous: Enqueue returns before anything is sent
// and the only delivery results are Config.Callback's Success/Failure, once
// per message, from any goroutine. Left to itself it also (1) retries every
// status >= 300 ten times with blind backoff, ignoring Retry-After, (2)
// freezes the batch's sentAt at the first attempt, so Segment's computed
// timestamp (receivedAt - (sentAt - timestamp)) shifts each retried event by
// the retry delay, (3) drops a batch that fails after Close() starts (issue
// #157), (4) takes no context, and (5) caps the HTTP client at 10 s for the
// whole RoundTrip. The Sender keeps the library for batching, serialisation
// and the callback contract, and moves every decision into a RoundTripper:
//
//   - One analytics client per chunk. A Send splits its messages into chunks
//     of at most MaxBatchMessages and MaxRequestBytes (with the envelope
//     reserve), and gives each chunk a client with BatchSize = len(chunk), so
//     the last Enqueue makes analytics-go send the chunk as exactly one
//     request, at once (no Interval wait). Concurrent Sends (max_in_flight >
//     1) never share a client, so callbacks cannot be confused between them.
//   - Correlation tokens. analytics-go only serialises its own Track type,
//     which would re-encode the timestamp, context, properties and
//     integrations. So the Track handed to Enqueue is a minimal envelope
//     whose messageId is the chunk index ("0", "1", …; unique even when the
//     real messageIds repeat). The transport swaps each envelope for the raw
//     message bytes, untouched; Success/Failure give the envelope back, and
//     its token gives the index. The envelopes are kept tiny (about 100
//     bytes) because analytics-go marshals each one and then the whole batch,
//     and the transport parses that batch again: work that grows with the
//     envelope, not with what is sent. The byte budget of a request is ours
//     (Chunk counts the raw messages), so analytics-go's own byte accounting,
//     which only sees envelopes, never splits a chunk.
//   - The transport performs every attempt itself (attempt.go): per-attempt
//     timeout, a fresh sentAt written into the body at each attempt,
//     classification (Classify), backoff honouring Retry-After, the
//     max_retry_duration bound, and cancellation by the caller's context or
//     Sender.Close. It returns to analytics-go only with a verdict: 2xx, or an
//     error after the verdict is stored on the chunk. analytics-go then
//     "retries" ten times, but RetryAfter is 0 and the transport answers the
//     same request (recognised by the batch messageId) from memory without
//     touching the network, so Failure follows immediately. Failure's
//     argument is not trusted (http.Client rewrites errors after its 10 s
//     timeout); the stored verdict is used.
//   - Close is only called on a client whose messages all have a verdict, so
//     #157 never applies on the normal path. On cancellation the transport
//     aborts, Send returns ClassAborted for every message without a 2xx,
//     and the client is closed in the background.

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

// Config configures a Sender. Zero durations take the defaults below.
type Config struct {
	// Endpoint is the origin requests go to; "/v1/batch" is appended.
	Endpoint string
	// Timeout bounds one HTTP attempt (connect, send, answer). Default 10s.
	Timeout time.Duration
	// InitialBackoff and MaxBackoff bound the exponential backoff between
	// attempts when the answer has no Retry-After. Defaults 500ms and 10s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxRetryDuration bounds how long one request is retried for transient
	// failures or a rejected key before its messages are failed with that
	// class (and nacked by the caller). Default 1m.
	MaxRetryDuration time.Duration
	// KeyRejectedLogInterval is the least time between two ERROR lines about
	// the same rejected write key. Default 1m.
	KeyRejectedLogInterval time.Duration
	// Transport is the base RoundTripper; default a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	Logger    Logger
	Observer  Observer
}

// Defaults for Config's zero values.
const (
	DefaultTimeout                = 10 * time.Second
	DefaultInitialBackoff         = 500 * time.Millisecond
	DefaultMaxBackoff             = 10 * time.Second
	DefaultMaxRetryDuration       = time.Minute
	DefaultKeyRejectedLogInterval = time.Minute
)

// Sender delivers validated track messages to one endpoint, for any number
// of write keys, and reports a verdict per message. It is safe for
// concurrent use.
type Sender struct {
	cfg      Config
	closeCtx context.Context
	close    context.CancelFunc

	keyLogMu sync.Mutex
	keyLog   map[string]time.Time
}

// NewSender returns a Sender for cfg.
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
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if cfg.MaxRetryDuration <= 0 {
		cfg.MaxRetryDuration = DefaultMaxRetryDuration
	}
	if cfg.KeyRejectedLogInterval <= 0 {
		cfg.KeyRejectedLogInterval = DefaultKeyRejectedLogInterval
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
	s := &Sender{cfg: cfg, keyLog: map[string]time.Time{}}
	s.closeCtx, s.close = context.WithCancel(context.Background())
	return s, nil
}

// Endpoint returns the normalised origin requests go to.
func (s *Sender) Endpoint() string { return s.cfg.Endpoint }

// Close interrupts every Send in progress: their undelivered messages get
// ClassAborted. Idle connections are released.
func (s *Sender) Close() {
	s.close()
	if t, ok := s.cfg.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// Send delivers msgs, each already accepted by Validate, under writeKey. It
// blocks until every message has a verdict or ctx is done, and returns one
// error per message: nil when Segment answered 2xx, else a *DeliveryError.
func (s *Sender) Send(ctx context.Context, writeKey string, msgs [][]byte) []error {
	results := make([]error, len(msgs))
	if len(msgs) == 0 {
		return results
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.closeCtx, cancel)
	defer stop()

	sizes := make([]int, len(msgs))
	for i, m := range msgs {
		sizes[i] = len(m)
	}
	chunks := Chunk(sizes)
	var wg sync.WaitGroup
	for _, c := range chunks {
		wg.Add(1)
		go func(idx []int) {
			defer wg.Done()
			res := s.sendChunk(ctx, writeKey, idx, msgs)
			for j, i := range idx {
				results[i] = res[j]
			}
		}(c)
	}
	wg.Wait()
	return results
}

// Chunk splits messages of the given encoded sizes, in order, into groups a
// single request can carry: at most MaxBatchMessages messages and at most
// MaxRequestBytes once the separators and the envelope are counted.
func Chunk(sizes []int) [][]int {
	budget := MaxRequestBytes - requestOverheadBytes
	var out [][]int
	var cur []int
	used := 0
	for i, n := range sizes {
		if len(cur) > 0 && (len(cur) == MaxBatchMessages || used+n+1 > budget) {
			out = append(out, cur)
			cur, used = nil, 0
		}
		cur = append(cur, i)
		used += n + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// envelopeTime is the fixed timestamp of envelopes, so analytics-go does not
// stamp its own (the raw message's timestamp is what is sent).
var envelopeTime = time.Unix(0, 0).UTC()

// envelope is the Track handed to analytics-go for message i of a chunk: the
// smallest track it accepts, carrying i as its messageId.
func envelope(i int) analytics.Track {
	return analytics.Track{
		Type:      "track",
		MessageId: strconv.Itoa(i),
		UserId:    "u",
		Event:     "e",
		Timestamp: envelopeTime,
	}
}

// chunkState collects the verdicts of one chunk. It is the analytics
// Callback and the transport's memory.
type chunkState struct {
	mu       sync.Mutex
	n        int // messages in the chunk
	results  []error
	verdict  []error // set by the transport before it returns a failure
	resolved []bool
	pending  int
	done     chan struct{}
}

func newChunkState(n int) *chunkState {
	return &chunkState{n: n, results: make([]error, n), verdict: make([]error, n),
		resolved: make([]bool, n), pending: n, done: make(chan struct{})}
}

func (c *chunkState) index(m analytics.Message) (int, bool) {
	var id string
	switch t := m.(type) {
	case analytics.Track:
		id = t.MessageId
	case *analytics.Track:
		id = t.MessageId
	default:
		return 0, false
	}
	i, err := strconv.Atoi(id)
	if err != nil || i < 0 || i >= c.n {
		return 0, false
	}
	return i, true
}

func (c *chunkState) resolve(i int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resolved[i] {
		return
	}
	c.resolved[i] = true
	c.results[i] = err
	c.pending--
	if c.pending == 0 {
		close(c.done)
	}
}

func (c *chunkState) setVerdict(idx []int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, i := range idx {
		c.verdict[i] = err
	}
}

// Success implements analytics.Callback.
func (c *chunkState) Success(m analytics.Message) {
	if i, ok := c.index(m); ok {
		c.resolve(i, nil)
	}
}

// Failure implements analytics.Callback.
func (c *chunkState) Failure(m analytics.Message, err error) {
	i, ok := c.index(m)
	if !ok {
		return
	}
	c.mu.Lock()
	v := c.verdict[i]
	c.mu.Unlock()
	if v == nil {
		// Not a transport verdict: analytics-go refused the message itself
		// (executor full, or a size it disagrees with). Retrying is safe.
		v = &DeliveryError{Class: ClassTransient, StatusClass: StatusNetwork, Err: err}
	}
	c.resolve(i, v)
}

// snapshot returns the chunk's results, with ClassAborted for messages
// without a verdict (the wait was interrupted).
func (c *chunkState) snapshot(abort error) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]error, c.n)
	for i := range out {
		switch {
		case c.resolved[i]:
			out[i] = c.results[i]
		default:
			out[i] = abort
		}
	}
	return out
}

func (s *Sender) sendChunk(ctx context.Context, writeKey string, idx []int, msgs [][]byte) []error {
	st := newChunkState(len(idx))
	raws := make([][]byte, len(idx))
	for j, i := range idx {
		raws[j] = msgs[i]
	}
	tr := &attemptTransport{s: s, ctx: ctx, writeKey: writeKey, source: KeyFingerprint(writeKey),
		raws: raws, chunk: st, memo: map[string]error{}}
	client, err := analytics.NewWithConfig(writeKey, analytics.Config{
		Endpoint:  s.cfg.Endpoint,
		Interval:  time.Second, // safety net only: BatchSize flushes the chunk
		Transport: tr,
		Logger:    analyticsLogger{l: s.cfg.Logger, writeKey: writeKey},
		Callback:  st,
		BatchSize: len(idx),
		// The transport retries; analytics-go's own loop only replays the
		// stored verdict, so it must not wait between its "attempts".
		RetryAfter: func(int) time.Duration { return 0 },
	})
	if err != nil {
		out := make([]error, len(idx))
		for j := range out {
			out[j] = &DeliveryError{Class: ClassTransient, StatusClass: StatusNetwork, Err: err}
		}
		return out
	}
	for j := range idx {
		if err := client.Enqueue(envelope(j)); err != nil {
			st.resolve(j, &DeliveryError{Class: ClassTransient, StatusClass: StatusNetwork, Err: err})
		}
	}
	select {
	case <-st.done:
		// Every message has its verdict: nothing is queued or in flight, so
		// Close cannot drop anything (issue #157).
		_ = client.Close()
		return st.snapshot(nil)
	case <-ctx.Done():
		res := st.snapshot(&DeliveryError{Class: ClassAborted, Source: tr.source, Err: context.Cause(ctx)})
		// The transport sees the same ctx and stops; let the client wind down
		// without holding the caller.
		go func() { _ = client.Close() }()
		return res
	}
}
