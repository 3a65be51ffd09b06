// Package brazehttp is the receiving end of Braze's custom HTTP Currents
// connector: an http.Handler that authenticates Braze's POSTs, reads their
// (optionally gzip-encoded) {"events":[...]} bodies within a size limit, hands
// each one to a consumer as a Delivery, and answers Braze only once the
// consumer resolved it, with the status Braze's retry policy needs:
//
//   - 200 only after the consumer resolved the delivery without error (every
//     event of the request was delivered);
//   - 503 with Retry-After when it failed, was not resolved within the ack
//     timeout, was not taken within the queue timeout, the connection failed
//     while the body was read, or the handler is not ready yet, draining or
//     closed; 429 with Retry-After past the in-flight limits on requests and
//     on events (Braze backs off and retries both);
//   - 401 for a missing or wrong bearer token, before the body is read;
//   - 413 past the body limit or the per-request event limit (Braze splits
//     the batch);
//   - 400 for a body the sender got wrong: not a Currents envelope, invalid
//     or truncated gzip, trailing data after the gzip stream, an empty gzip
//     body, invalid chunked encoding (Braze splits the batch and drops events
//     refused again), with a JSON body saying why; 405, 404 and 415 for
//     requests Braze never sends.
//
// Memory is bounded by what it admits: at most MaxInFlight bodies of at most
// MaxBodyBytes, and at most MaxInFlightEvents events, both held until the
// consumer resolved the delivery (see admission).
//
// It has no Benthos imports; plugin/input_braze_currents.go adapts it.
package brazehttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/currents-segment/currents-segment/internal/ratelog"
)

// Header and path names of the protocol.
const (
	HeaderVersion   = "Braze-Currents-Version"
	HeaderRequestID = "X-Request-Id"
	ReadyPath       = "/ready"
)

// Defaults for Config's zero values.
const (
	DefaultPath         = "/"
	DefaultMaxBodyBytes = 10 << 20
	DefaultMaxInFlight  = 64
	// Braze posts about 100 events a request: 64 requests of 100 fit in
	// DefaultMaxInFlightEvents with room to spare, and a request of ten
	// times the usual size is still taken whole.
	DefaultMaxInFlightEvents   = 10000
	DefaultMaxEventsPerRequest = 1000
	DefaultQueueTimeout        = 5 * time.Second
	DefaultAckTimeout          = 30 * time.Second
	DefaultRetryAfter          = 5 * time.Second
	DefaultWarnLogInterval     = time.Minute
)

// StatusClientClosed is the status label of a request whose client went
// away before it was answered.
const StatusClientClosed = "client_closed"

// Statuses lists every status label Observer.Answered reports, so that a
// consumer can create its counters at zero before the first request.
var Statuses = []string{"200", "400", "401", "405", "413", "415", "429", "503", StatusClientClosed}

// ErrClosed is returned by Next once the handler is closed.
var ErrClosed = errors.New("brazehttp: handler closed")

// Logger is the logging the handler needs. *service.Logger from Benthos
// satisfies it. Nothing the handler logs contains a token or the
// Authorization header: a refused token is described ("wrong bearer token"),
// never quoted, and no header is logged.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
}

// Observer receives measurements; the Benthos input turns them into
// metrics. Methods are called from many goroutines.
type Observer interface {
	// Answered is called once per request to the Currents path with the
	// status answered (one of Statuses) and the time from arrival to answer.
	Answered(status string, latency time.Duration)
	// Received is called with the event count of each batch handed to the
	// consumer.
	Received(events int)
	// InFlight is called, in order, with the requests and the events held
	// whenever they change.
	InFlight(requests, events int)
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}

type nopObserver struct{}

func (nopObserver) Answered(string, time.Duration) {}
func (nopObserver) Received(int)                   {}
func (nopObserver) InFlight(int, int)              {}

// Config sets up a Handler. Zero values take the defaults above, except
// Token: an empty Token is refused unless AllowUnauthenticated is set.
type Config struct {
	// Path is the path Braze posts to; only it (and ReadyPath) is served.
	Path string
	// Token is the bearer token Braze's connector is configured with.
	Token string
	// AllowUnauthenticated accepts requests without checking any token.
	AllowUnauthenticated bool
	// MaxBodyBytes bounds the body as sent and after gzip decoding.
	MaxBodyBytes int64
	// MaxInFlight bounds the requests being read, queued or in the
	// pipeline at once (until their delivery is resolved, even when it was
	// answered already); past it requests get 429.
	MaxInFlight int
	// MaxInFlightEvents bounds the events of the requests held at once, as
	// MaxInFlight bounds requests; past it requests get 429.
	MaxInFlightEvents int
	// MaxEventsPerRequest bounds the events of one request; past it the
	// request gets 413 (Braze splits the batch). At most MaxInFlightEvents.
	MaxEventsPerRequest int
	// QueueTimeout is how long a valid request waits for the consumer to
	// take it (Next) before it gets 503.
	QueueTimeout time.Duration
	// AckTimeout is how long a taken request waits for its Delivery to be
	// resolved before it gets 503; also how long a readiness probe waits
	// before another is sent.
	AckTimeout time.Duration
	// RetryAfter is the Retry-After of 429 and 503 answers, rounded up to
	// whole seconds.
	RetryAfter time.Duration
	// WarnLogInterval rate-limits the WARN lines for refused requests
	// (authentication failures, malformed and oversize bodies, backpressure,
	// undelivered requests, readiness probes): at most one of each kind per
	// interval, the rest at DEBUG.
	WarnLogInterval time.Duration

	Logger   Logger
	Observer Observer
}

// Batch is one accepted request: the envelope and where it came from.
type Batch struct {
	// RequestID is generated for the request and returned in X-Request-Id.
	RequestID string
	// RemoteAddr is the peer address (a load balancer's, behind one).
	RemoteAddr string
	// Version is the Braze-Currents-Version header, "" when absent.
	Version string
	// Events is the length of the envelope's "events" array.
	Events int
	// Body is the envelope, gzip-decoded.
	Body []byte
	// Probe marks a readiness probe (see ProbeConsumer): no request is
	// behind it and nobody is answered; pass it through the pipeline like
	// any batch and resolve it.
	Probe bool
}

// Delivery is a Batch handed to the consumer, who must Resolve it once
// every event was delivered (nil) or could not be (an error).
type Delivery struct {
	Batch
	result chan error
	done   func(error) // instead of result, for probes
	ticket *ticket     // the request's share of the in-flight budgets
	once   sync.Once
}

// Resolve reports the outcome; only the first call counts. It never blocks,
// and may come after the request was already answered (too late to matter
// to Braze, but it frees the request's share of the in-flight limits).
func (d *Delivery) Resolve(err error) {
	d.once.Do(func() {
		// Released first, so that a request Braze sends right after this
		// answer finds the room this one leaves.
		if d.ticket != nil {
			d.ticket.release()
		}
		if d.done != nil {
			d.done(err)
			return
		}
		d.result <- err
	})
}

// Handler serves the Currents path and the readiness path. Use New.
type Handler struct {
	cfg   Config
	auth  bearer
	adm   *admission
	queue chan *Delivery
	log   Logger
	obs   Observer

	ready      atomic.Bool
	probeOnce  sync.Once
	probeAcked sync.Once
	drainOnce  sync.Once
	draining   chan struct{}
	closeOnce  sync.Once
	closed     chan struct{}

	warns *ratelog.Limiter // one WARN line a minute per kind of refusal or failure
}

// New checks cfg and returns a Handler that answers 503 until SetReady, or
// until ProbeConsumer saw a probe through.
func New(cfg Config) (*Handler, error) {
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if !strings.HasPrefix(cfg.Path, "/") {
		return nil, fmt.Errorf("path %q must start with /", cfg.Path)
	}
	if cfg.Path == ReadyPath {
		return nil, fmt.Errorf("path %q is the readiness endpoint; choose another path", cfg.Path)
	}
	switch {
	case cfg.Token == "" && !cfg.AllowUnauthenticated:
		return nil, errors.New("no bearer token: set the token Braze's connector sends, or allow unauthenticated requests explicitly")
	case cfg.Token != "" && cfg.AllowUnauthenticated:
		return nil, errors.New("a bearer token is set and unauthenticated requests are allowed: choose one")
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxInFlightEvents == 0 {
		cfg.MaxInFlightEvents = DefaultMaxInFlightEvents
	}
	if cfg.MaxEventsPerRequest == 0 {
		// Never above the in-flight limit, which it must fit in.
		cfg.MaxEventsPerRequest = min(DefaultMaxEventsPerRequest, cfg.MaxInFlightEvents)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.QueueTimeout == 0 {
		cfg.QueueTimeout = DefaultQueueTimeout
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.WarnLogInterval == 0 {
		cfg.WarnLogInterval = DefaultWarnLogInterval
	}
	if cfg.MaxBodyBytes < 0 || cfg.MaxInFlight < 0 || cfg.MaxInFlightEvents < 0 || cfg.MaxEventsPerRequest < 0 ||
		cfg.QueueTimeout < 0 || cfg.AckTimeout < 0 || cfg.RetryAfter < 0 {
		return nil, errors.New("limits and timeouts must be positive")
	}
	if cfg.MaxEventsPerRequest > cfg.MaxInFlightEvents {
		return nil, fmt.Errorf("the per-request event limit (%d) exceeds the in-flight event limit (%d): a request that large would be answered 429 forever", cfg.MaxEventsPerRequest, cfg.MaxInFlightEvents)
	}
	if cfg.Logger == nil {
		cfg.Logger = nopLogger{}
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	every := cfg.WarnLogInterval
	return &Handler{
		cfg:      cfg,
		auth:     newBearer(cfg.Token),
		adm:      &admission{maxRequests: cfg.MaxInFlight, maxEvents: cfg.MaxInFlightEvents, obs: cfg.Observer},
		queue:    make(chan *Delivery),
		log:      cfg.Logger,
		obs:      cfg.Observer,
		draining: make(chan struct{}),
		closed:   make(chan struct{}),
		warns:    ratelog.New(every),
	}, nil
}

// Path returns the path the handler serves Braze's batches on.
func (h *Handler) Path() string { return h.cfg.Path }

// Limits returns the in-flight limits in force, defaults applied: requests,
// events, and events per request.
func (h *Handler) Limits() (requests, events, perRequest int) {
	return h.cfg.MaxInFlight, h.cfg.MaxInFlightEvents, h.cfg.MaxEventsPerRequest
}

// Unauthenticated reports whether requests are accepted without a token.
func (h *Handler) Unauthenticated() bool { return h.auth.none }

// SetReady makes the readiness endpoint answer 200 (unless draining) and
// lets requests through. ProbeConsumer calls it once the pipeline proved it
// takes batches; call it directly only when nothing stands behind the
// consumer.
func (h *Handler) SetReady() { h.ready.Store(true) }

// Ready reports whether the handler takes requests.
func (h *Handler) Ready() bool {
	if !h.ready.Load() {
		return false
	}
	select {
	case <-h.draining:
		return false
	case <-h.closed:
		return false
	default:
		return true
	}
}

// Next blocks until a request (or a readiness probe) is ready for the
// consumer, ctx is done (its error is returned) or the handler is closed
// (ErrClosed).
func (h *Handler) Next(ctx context.Context) (*Delivery, error) {
	select {
	case d := <-h.queue:
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.closed:
		return nil, ErrClosed
	}
}

// Drain stops taking requests: new ones and those waiting for the consumer
// get 503, the readiness endpoint 503; requests already taken keep waiting
// for their outcome.
func (h *Handler) Drain() { h.drainOnce.Do(func() { close(h.draining) }) }

// Close drains, then answers 503 to every request still waiting for an
// outcome: no more will come. It does not wait for the answers to be
// written (the http.Server's Shutdown does).
func (h *Handler) Close() {
	h.Drain()
	h.closeOnce.Do(func() { close(h.closed) })
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == ReadyPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h.serveReady(w)
		return
	}
	if r.URL.Path != h.cfg.Path {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found: Braze Currents batches are accepted on " + h.cfg.Path})
		return
	}
	start := time.Now()
	id := newRequestID()
	w.Header().Set(HeaderRequestID, id)
	status := h.serveBatch(w, r, id)
	h.obs.Answered(status, time.Since(start))
}

func (h *Handler) serveReady(w http.ResponseWriter) {
	if h.Ready() {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready"})
}

// serveBatch answers one request to the Currents path and returns the
// status label for metrics.
func (h *Handler) serveBatch(w http.ResponseWriter, r *http.Request, id string) string {
	// Until the body is read, an answer closes the connection: otherwise
	// net/http would read what is left of the body to reuse the connection,
	// before sending the answer.
	w.Header().Set("Connection", "close")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.refuse(w, r, id, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: Braze Currents batches are POSTed", nil)
	}
	if reason := h.auth.check(r.Header.Get("Authorization")); reason != "" {
		// Answered before a byte of the body is read.
		h.warn("auth", func(l Logger, note string) {
			l.Warnf("Refused a request from %s with 401: %s (request %s)%s", r.RemoteAddr, reason, id, note)
		}, func(l Logger) {
			l.Debugf("Refused a request from %s with 401: %s (request %s)", r.RemoteAddr, reason, id)
		})
		w.Header().Set("WWW-Authenticate", `Bearer realm="braze-currents"`)
		return h.fail(w, id, http.StatusUnauthorized, "missing or invalid bearer token", nil)
	}
	if !h.Ready() {
		return h.retryLater(w, id, http.StatusServiceUnavailable, "not accepting requests: the input is starting (the pipeline has not acknowledged its readiness probe yet) or shutting down")
	}
	t := h.adm.admit()
	if t == nil {
		return h.busy(w, r, id, fmt.Sprintf("too many requests in flight (max_in_flight_requests %d)", h.cfg.MaxInFlight))
	}
	// The ticket goes with the delivery once the consumer took it, and is
	// released when the delivery is resolved; until then it is ours.
	handedOver := false
	defer func() {
		if !handedOver {
			t.release()
		}
	}()

	body, berr := readBody(w, r, h.cfg.MaxBodyBytes)
	if berr != nil {
		if berr.status == http.StatusServiceUnavailable {
			h.log.Debugf("Answered 503 to request %s from %s: %s", id, r.RemoteAddr, berr.reason)
			return h.retryLater(w, id, berr.status, berr.reason)
		}
		return h.refuse(w, r, id, berr.status, berr.reason, nil)
	}
	w.Header().Del("Connection")
	events, err := CountEvents(body)
	if err != nil {
		return h.refuse(w, r, id, http.StatusBadRequest, err.Error(), map[string]any{"expected": ExpectedEnvelope})
	}
	if events > h.cfg.MaxEventsPerRequest {
		return h.refuse(w, r, id, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request holds %d events, more than max_events_per_request (%d): split the batch", events, h.cfg.MaxEventsPerRequest), nil)
	}
	if events == 0 {
		return h.ok(w, id, 0)
	}
	if ok, held := t.addEvents(events); !ok {
		return h.busy(w, r, id, fmt.Sprintf("too many events in flight: %d held, %d more would exceed max_in_flight_events (%d)", held, events, h.cfg.MaxInFlightEvents))
	}

	d := &Delivery{
		Batch: Batch{
			RequestID:  id,
			RemoteAddr: r.RemoteAddr,
			Version:    r.Header.Get(HeaderVersion),
			Events:     events,
			Body:       body,
		},
		result: make(chan error, 1),
		ticket: t,
	}
	queueTimer := time.NewTimer(h.cfg.QueueTimeout)
	defer queueTimer.Stop()
	select {
	case h.queue <- d:
		handedOver = true
	case <-queueTimer.C:
		return h.undelivered(w, r, id, events, fmt.Sprintf("the pipeline did not take the request within %s", h.cfg.QueueTimeout))
	case <-h.draining:
		return h.retryLater(w, id, http.StatusServiceUnavailable, "shutting down")
	case <-r.Context().Done():
		return StatusClientClosed
	}
	h.obs.Received(events)

	ackTimer := time.NewTimer(h.cfg.AckTimeout)
	defer ackTimer.Stop()
	var result error
	select {
	case result = <-d.result:
	case <-ackTimer.C:
		result = fmt.Errorf("not delivered within %s", h.cfg.AckTimeout)
	case <-h.closed:
		select {
		case result = <-d.result:
		default:
			result = errors.New("shut down before delivery")
		}
	case <-r.Context().Done():
		h.log.Debugf("Request %s: the client went away before its %d events were delivered", id, events)
		return StatusClientClosed
	}
	if result != nil {
		return h.undelivered(w, r, id, events, result.Error())
	}
	return h.ok(w, id, events)
}

// refuse answers a request the sender got wrong (400, 405, 413, 415) and
// logs it: Braze drops an event refused twice, so each refusal may be data
// lost, and the operator must be able to find it by its request id.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, id string, status int, why string, extra map[string]any) string {
	h.warn("refuse", func(l Logger, note string) {
		l.Warnf("Refused request %s from %s with %d: %s (Braze splits a refused batch and drops the events refused again)%s", id, r.RemoteAddr, status, why, note)
	}, func(l Logger) {
		l.Debugf("Refused request %s from %s with %d: %s", id, r.RemoteAddr, status, why)
	})
	return h.fail(w, id, status, why, extra)
}

// busy answers 429: Braze backs off and retries.
func (h *Handler) busy(w http.ResponseWriter, r *http.Request, id, why string) string {
	h.warn("busy", func(l Logger, note string) {
		l.Warnf("Answered 429 to request %s from %s, so Braze retries it later: %s%s", id, r.RemoteAddr, why, note)
	}, func(l Logger) {
		l.Debugf("Answered 429 to request %s from %s: %s", id, r.RemoteAddr, why)
	})
	return h.retryLater(w, id, http.StatusTooManyRequests, why)
}

func (h *Handler) undelivered(w http.ResponseWriter, r *http.Request, id string, events int, why string) string {
	h.warn("fail", func(l Logger, note string) {
		l.Warnf("Answered 503 to request %s from %s (%d events), so Braze retries it: %s%s", id, r.RemoteAddr, events, why, note)
	}, func(l Logger) {
		l.Debugf("Answered 503 to request %s from %s (%d events): %s", id, r.RemoteAddr, events, why)
	})
	return h.retryLater(w, id, http.StatusServiceUnavailable, "events not delivered, retry later: "+why)
}

func (h *Handler) ok(w http.ResponseWriter, id string, events int) string {
	writeJSON(w, http.StatusOK, map[string]any{"status": "delivered", "events": events, "request_id": id})
	return strconv.Itoa(http.StatusOK)
}

func (h *Handler) retryLater(w http.ResponseWriter, id string, status int, msg string) string {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(h.cfg.RetryAfter.Seconds()))))
	return h.fail(w, id, status, msg, nil)
}

func (h *Handler) fail(w http.ResponseWriter, id string, status int, msg string, extra map[string]any) string {
	body := map[string]any{"error": msg, "request_id": id}
	for k, v := range extra {
		body[k] = v
	}
	writeJSON(w, status, body)
	return strconv.Itoa(status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// newRequestID returns a random UUID (version 4) string.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
