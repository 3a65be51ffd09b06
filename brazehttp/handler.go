// Package brazehttp is the receiving end of Braze's custom HTTP Currents
// connector: an http.Handler that authenticates Braze's POSTs, reads their
// (optionally gzip-encoded) {"events":[...]} bodies within a size limit, hands
// each one to a consumer as a Delivery, and answers Braze only once the
// consumer resolved it, with the status Braze's retry policy needs:
//
//   - 200 only after the consumer resolved the delivery without error (every
//     event of the request was delivered);
//   - 503 with Retry-After when it failed, was not resolved within the ack
//     timeout, was not taken within the queue timeout, or the handler is
//     draining or closed; 429 with Retry-After past the in-flight limit
//     (Braze backs off and retries both);
//   - 401 for a missing or wrong bearer token, before the body is read;
//   - 413 past the body limit (Braze splits the batch);
//   - 400 only for a body that is not a Currents envelope (Braze splits the
//     batch and drops events refused again), with a JSON body saying what was
//     expected; 405, 404 and 415 for requests Braze never sends.
//
// It has no Benthos imports; plugin/input_braze_currents.go adapts it.
package brazehttp

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Header and path names of the protocol.
const (
	HeaderVersion   = "Braze-Currents-Version"
	HeaderRequestID = "X-Request-Id"
	ReadyPath       = "/ready"
)

// Defaults for Config's zero values.
const (
	DefaultPath            = "/"
	DefaultMaxBodyBytes    = 10 << 20
	DefaultMaxInFlight     = 64
	DefaultQueueTimeout    = 5 * time.Second
	DefaultAckTimeout      = 30 * time.Second
	DefaultRetryAfter      = 5 * time.Second
	DefaultWarnLogInterval = time.Minute
)

// StatusClientClosed is the status label of a request whose client went
// away before it was answered.
const StatusClientClosed = "client_closed"

// ErrClosed is returned by Next once the handler is closed.
var ErrClosed = errors.New("brazehttp: handler closed")

// Logger is the logging the handler needs. *service.Logger from Benthos
// satisfies it. Nothing the handler logs contains a token or the
// Authorization header.
type Logger interface {
	Debugf(format string, args ...any)
	Warnf(format string, args ...any)
}

// Observer receives measurements; the Benthos input turns them into
// metrics. Methods are called from many goroutines.
type Observer interface {
	// Answered is called once per request to the Currents path with the
	// status answered (e.g. "200", "401", or StatusClientClosed when the
	// client went away first) and the time from arrival to answer.
	Answered(status string, latency time.Duration)
	// Received is called with the event count of each batch handed to the
	// consumer.
	Received(events int)
	// InFlight is called with the number of requests holding an in-flight
	// slot whenever it changes.
	InFlight(n int)
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Warnf(string, ...any)  {}

type nopObserver struct{}

func (nopObserver) Answered(string, time.Duration) {}
func (nopObserver) Received(int)                   {}
func (nopObserver) InFlight(int)                   {}

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
	// MaxInFlight bounds the requests being read, queued or awaiting their
	// acknowledgement at once; past it requests get 429.
	MaxInFlight int
	// QueueTimeout is how long a valid request waits for the consumer to
	// take it (Next) before it gets 503.
	QueueTimeout time.Duration
	// AckTimeout is how long a taken request waits for its Delivery to be
	// resolved before it gets 503.
	AckTimeout time.Duration
	// RetryAfter is the Retry-After of 429 and 503 answers, rounded up to
	// whole seconds.
	RetryAfter time.Duration
	// WarnLogInterval rate-limits the WARN lines for refused requests
	// (authentication failures, undelivered requests): at most one of each
	// kind per interval, the rest at DEBUG.
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
}

// Delivery is a Batch handed to the consumer, who must Resolve it once
// every event was delivered (nil) or could not be (an error).
type Delivery struct {
	Batch
	result chan error
	once   sync.Once
}

// Resolve reports the outcome; only the first call counts. It never blocks,
// and may come after the request was already answered (too late to matter).
func (d *Delivery) Resolve(err error) {
	d.once.Do(func() { d.result <- err })
}

// Handler serves the Currents path and the readiness path. Use New.
type Handler struct {
	cfg   Config
	auth  bearer
	sem   chan struct{}
	queue chan *Delivery
	log   Logger
	obs   Observer

	ready     atomic.Bool
	drainOnce sync.Once
	draining  chan struct{}
	closeOnce sync.Once
	closed    chan struct{}
	inFlight  atomic.Int64

	authWarn, failWarn *rateLimitedLog
}

// New checks cfg and returns a Handler that answers 503 until SetReady.
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
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
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
	if cfg.MaxBodyBytes < 0 || cfg.MaxInFlight < 0 || cfg.QueueTimeout < 0 || cfg.AckTimeout < 0 || cfg.RetryAfter < 0 {
		return nil, errors.New("limits and timeouts must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = nopLogger{}
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	return &Handler{
		cfg:      cfg,
		auth:     newBearer(cfg.Token),
		sem:      make(chan struct{}, cfg.MaxInFlight),
		queue:    make(chan *Delivery),
		log:      cfg.Logger,
		obs:      cfg.Observer,
		draining: make(chan struct{}),
		closed:   make(chan struct{}),
		authWarn: &rateLimitedLog{every: cfg.WarnLogInterval},
		failWarn: &rateLimitedLog{every: cfg.WarnLogInterval},
	}, nil
}

// Path returns the path the handler serves Braze's batches on.
func (h *Handler) Path() string { return h.cfg.Path }

// Unauthenticated reports whether requests are accepted without a token.
func (h *Handler) Unauthenticated() bool { return h.auth.none }

// SetReady makes the readiness endpoint answer 200 (unless draining) and
// lets requests through; call it once the consumer is reading.
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

// Next blocks until a request is ready for the consumer, ctx is done (its
// error is returned) or the handler is closed (ErrClosed).
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
		return h.fail(w, id, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: Braze Currents batches are POSTed", nil)
	}
	if reason := h.auth.check(r.Header.Get("Authorization")); reason != "" {
		// Answered before a byte of the body is read.
		h.authWarn.log(h.log, func(l Logger, suppressed int) {
			l.Warnf("Refused a request from %s with 401: %s (request %s)%s", r.RemoteAddr, reason, id, suppressedNote(suppressed, h.cfg.WarnLogInterval))
		}, func(l Logger) {
			l.Debugf("Refused a request from %s with 401: %s (request %s)", r.RemoteAddr, reason, id)
		})
		w.Header().Set("WWW-Authenticate", `Bearer realm="braze-currents"`)
		return h.fail(w, id, http.StatusUnauthorized, "missing or invalid bearer token", nil)
	}
	if !h.Ready() {
		return h.retryLater(w, id, http.StatusServiceUnavailable, "not accepting requests: the input is starting or shutting down")
	}
	select {
	case h.sem <- struct{}{}:
	default:
		return h.retryLater(w, id, http.StatusTooManyRequests, fmt.Sprintf("too many requests in flight (limit %d)", h.cfg.MaxInFlight))
	}
	h.obs.InFlight(int(h.inFlight.Add(1)))
	defer func() {
		<-h.sem
		h.obs.InFlight(int(h.inFlight.Add(-1)))
	}()

	body, status, err := h.readBody(w, r)
	if err != nil {
		if status == http.StatusServiceUnavailable {
			return h.retryLater(w, id, status, err.Error())
		}
		return h.fail(w, id, status, err.Error(), nil)
	}
	w.Header().Del("Connection")
	events, err := CountEvents(body)
	if err != nil {
		return h.fail(w, id, http.StatusBadRequest, err.Error(), map[string]any{"expected": ExpectedEnvelope})
	}
	if events == 0 {
		return h.ok(w, id, 0)
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
	}
	queueTimer := time.NewTimer(h.cfg.QueueTimeout)
	defer queueTimer.Stop()
	select {
	case h.queue <- d:
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

func (h *Handler) undelivered(w http.ResponseWriter, r *http.Request, id string, events int, why string) string {
	h.failWarn.log(h.log, func(l Logger, suppressed int) {
		l.Warnf("Answered 503 to request %s from %s (%d events), so Braze retries it: %s%s", id, r.RemoteAddr, events, why, suppressedNote(suppressed, h.cfg.WarnLogInterval))
	}, func(l Logger) {
		l.Debugf("Answered 503 to request %s from %s (%d events): %s", id, r.RemoteAddr, events, why)
	})
	return h.retryLater(w, id, http.StatusServiceUnavailable, "events not delivered, retry later: "+why)
}

// readBody reads the body within the limit, gzip-decoding it when the
// request says so. On failure it returns the status to answer.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	limit := h.cfg.MaxBodyBytes
	tooLarge := fmt.Errorf("the body exceeds %d bytes (max_body_bytes, counted before and after gzip decoding): split the batch", limit)
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	gz := false
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, bodyErrStatus(err, true), bodyErr(err, tooLarge, true)
		}
		defer zr.Close()
		src, gz = zr, true
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %q is not supported: send gzip or no encoding", enc)
	}
	body, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		return nil, bodyErrStatus(err, gz), bodyErr(err, tooLarge, gz)
	}
	if int64(len(body)) > limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	return body, 0, nil
}

func bodyErrStatus(err error, gz bool) int {
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge
	case gz && isGzipFormatErr(err):
		return http.StatusBadRequest
	}
	// A network failure or a read timeout: the request may be retried as is.
	return http.StatusServiceUnavailable
}

func bodyErr(err, tooLarge error, gz bool) error {
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return tooLarge
	case gz && isGzipFormatErr(err):
		return fmt.Errorf("the body is not valid gzip although Content-Encoding says so: %v", err)
	}
	return fmt.Errorf("could not read the request body: %v", err)
}

func isGzipFormatErr(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &ce)
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

func suppressedNote(n int, every time.Duration) string {
	note := fmt.Sprintf("; the next ones within %s are logged at DEBUG", every)
	if n > 0 {
		note = fmt.Sprintf("; %d more since the last warning", n) + note
	}
	return note
}

// rateLimitedLog lets one line through per interval and counts the rest.
type rateLimitedLog struct {
	every      time.Duration
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *rateLimitedLog) log(to Logger, first func(Logger, int), rest func(Logger)) {
	l.mu.Lock()
	now := time.Now()
	if l.last.IsZero() || now.Sub(l.last) >= l.every {
		n := l.suppressed
		l.last, l.suppressed = now, 0
		l.mu.Unlock()
		first(to, n)
		return
	}
	l.suppressed++
	l.mu.Unlock()
	rest(to)
}
