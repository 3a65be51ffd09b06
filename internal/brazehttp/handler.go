package brazehttp

import (
	"crypto/tls"
	"fmt"
	"net/http"
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

// Handler serves the Currents path and the readiness path. Use New.
type Handler struct {
	cfg   Config
	tls   *tls.Config // nil: Listen serves plain HTTP
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

	warns *ratelog.Limiter // one WARN line per interval and kind of refusal or failure
}

// New applies cfg's defaults, checks it (see Config) and returns a Handler
// that answers 503 until SetReady, or until ProbeConsumer saw a probe
// through.
func New(cfg Config) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	tlsConf, err := loadTLS(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	return &Handler{
		cfg:      cfg,
		tls:      tlsConf,
		auth:     newBearer(cfg.Token),
		adm:      &admission{maxRequests: cfg.MaxInFlight, maxEvents: cfg.MaxInFlightEvents, obs: cfg.Observer},
		queue:    make(chan *Delivery),
		log:      cfg.Logger,
		obs:      cfg.Observer,
		draining: make(chan struct{}),
		closed:   make(chan struct{}),
		warns:    ratelog.New(cfg.WarnLogInterval),
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

// Drain stops taking requests: new ones and those waiting for the consumer
// get 503, the readiness endpoint 503; requests already taken keep waiting
// for their outcome.
func (h *Handler) Drain() { h.drainOnce.Do(func() { close(h.draining) }) }

// Close drains, then answers 503 to every request still waiting for an
// outcome: no more will come. It does not wait for the answers to be
// written (the Server's Shutdown does).
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

// serveBatch answers one request to the Currents path and returns the
// status label for metrics. The checks run cheapest first, and each one
// before anything the next one costs: the token before a byte of the body,
// a request slot before the body is read, the envelope before its events
// are counted against the in-flight budget.
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
		return h.unauthorized(w, r, id, reason)
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
	handedOver = true // deliver owns the ticket from here
	return h.deliver(w, r, d)
}
