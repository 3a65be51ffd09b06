package segment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/currents-segment/currents-segment/internal/ratelog"
)

// Config configures a Sender. Zero values take the defaults below; negative
// ones are refused.
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
	DefaultLogInterval    = time.Minute
)

// Message is one track call to deliver.
type Message struct {
	// WriteKey is the key of the Segment source it goes to.
	WriteKey string
	// Source names that source in logs and errors; empty means a
	// fingerprint of the key.
	Source string
	// Raw is the call, sent byte for byte.
	Raw []byte
	// Conforms says Raw is known to pass Validate, so the Sender does not
	// scan it again: set only by a caller that built Raw under the same
	// rules and can tell it is unchanged (the plugin's currents_to_segment
	// calls; see plugin/conforming_call.go). Validate was a ninth of the
	// HTTP path's CPU, for calls that could not fail it.
	Conforms bool
}

// Sender delivers track messages to one endpoint, for any number of write
// keys, and reports a verdict per message. It is safe for concurrent use.
type Sender struct {
	cfg    Config
	ctx    context.Context // cancelled by Close: aborts every request
	cancel context.CancelFunc
	logs   *ratelog.Limiter
}

// NewSender checks cfg and fills its defaults.
func NewSender(cfg Config) (*Sender, error) {
	ep, err := NormalizeEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	cfg.Endpoint = ep
	for name, d := range map[string]time.Duration{"timeout": cfg.Timeout, "first backoff": cfg.InitialBackoff, "longest backoff": cfg.MaxBackoff} {
		if d < 0 {
			return nil, fmt.Errorf("the %s must not be negative, got %s", name, d)
		}
	}
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
	s := &Sender{cfg: cfg, logs: ratelog.New(cfg.LogInterval)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Close interrupts every Send in progress: their undelivered messages get
// ClassAborted. Idle connections are released.
func (s *Sender) Close() {
	s.cancel()
	if t, ok := s.cfg.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

var errSenderClosed = errors.New("the output closed")

// checkWriteKey refuses a message without a write key: empty, or the null
// that an unset environment variable interpolates to.
func checkWriteKey(m Message) error {
	var detail string
	switch strings.TrimSpace(m.WriteKey) {
	case "":
		detail = "write_key resolved to an empty string"
	case "null":
		detail = "write_key resolved to null, which is what env() gives for an unset environment variable"
	default:
		return nil
	}
	name := "this message's source"
	if m.Source != "" {
		name = "source " + strconv.Quote(m.Source)
	}
	return &ValidationError{Rule: RuleWriteKey, Detail: "no write key for " + name + ": " + detail + "; is the source's key variable set?"}
}

// Send delivers msgs. It blocks until every message has a verdict or ctx is
// done, and returns one error per message: nil when Segment answered 2xx, a
// *ValidationError when the message breaks the API's rules (Validate) or
// has no write key, else a *DeliveryError. Messages whose verdict ctx or
// Close cut short get ClassAborted.
//
// Messages of one write key are sent in order, in requests of at most
// MaxBatchMessages messages and MaxBatchBytes bytes, all at once.
func (s *Sender) Send(ctx context.Context, msgs []Message) []error {
	results := make([]error, len(msgs))
	if len(msgs) == 0 {
		return results
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.ctx, func() { cancel(errSenderClosed) })
	defer stop()

	var reqs []*request
	var open map[string]*request // the request being filled, per key
	var last *request            // the previous message's, usually the same key
	var redactors map[string]*keyRedactor
	for i, m := range msgs {
		if err := checkWriteKey(m); err != nil {
			results[i] = err
			continue
		}
		r := last
		if r == nil || r.key != m.WriteKey {
			r = open[m.WriteKey]
		}
		size := len(m.Raw) + 1
		if r != nil && (len(r.items) == MaxBatchMessages || r.bytes+size > MaxBatchBytes) {
			r = nil
		}
		if r == nil {
			r = &request{key: m.WriteKey, source: m.Source, items: make([]item, 0, min(len(msgs)-i, MaxBatchMessages))}
			r.red = redactors[m.WriteKey]
			if r.red == nil {
				if redactors == nil {
					redactors = map[string]*keyRedactor{}
				}
				r.red = &keyRedactor{key: m.WriteKey}
				redactors[m.WriteKey] = r.red
			}
			if r.source == "" {
				r.source = KeyFingerprint(m.WriteKey)
			}
			if open == nil {
				open = map[string]*request{}
			}
			open[m.WriteKey] = r
			reqs = append(reqs, r)
		}
		last = r
		r.items = append(r.items, item{raw: m.Raw, idx: i, conforms: m.Conforms})
		r.bytes += size
	}
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, r, results)
		}()
	}
	wg.Wait()
	return results
}

// run validates r's messages (but those known to conform) and delivers the
// valid ones. Validation runs here, on the request's goroutine, rather than
// on the caller's: it costs the same, and a request's worth of messages
// shares one stack.
func (s *Sender) run(ctx context.Context, r *request, results []error) {
	valid := r.items[:0]
	for _, it := range r.items {
		if it.conforms {
			valid = append(valid, it)
			continue
		}
		if _, err := Validate(it.raw); err != nil {
			results[it.idx] = err
			continue
		}
		valid = append(valid, it)
	}
	if len(valid) > 0 {
		r.items = valid
		s.deliver(ctx, r, 0, results)
	}
}
