// Package segmenttest is a local, Segment-compatible HTTP Tracking API used by
// the tests, the demo and the benchmarks of the Currents → Segment pipeline.
//
// It answers POST /v1/batch and /v1/track the way api.segment.io does (Basic
// auth with the write key as user name, the documented size limits, 200
// {"success":true}), records what it accepted, deduplicated by messageId as
// Segment does, and can be told to fail in the ways Segment fails so that the
// client's retry, dead-letter and timestamp handling can be tested.
package segmenttest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Config sets up a Receiver. The zero value accepts any non-empty write key
// and records everything.
type Config struct {
	// WriteKeys lists the accepted write keys; empty accepts any non-empty key.
	WriteKeys []string
	// MaxRecordedRequests bounds how many requests Requests keeps, oldest
	// dropped first: 0 means DefaultMaxRecordedRequests, below 0 keeps none.
	MaxRecordedRequests int
	// CountOnly keeps counts and deduplication but no message and no request
	// body, for benchmarks that send millions of events. It also reads
	// /v1/batch bodies in one pass (decodeBatchCounting), with the same
	// answers, so that the receiver costs the machine less than the
	// pipeline it measures.
	CountOnly bool
	// MaxRequestBytes, when above 0, answers 413 Payload Too Large to any
	// request body longer than it: a Segment-compatible endpoint (a proxy,
	// RudderStack) whose limit is below Segment's.
	MaxRequestBytes int
	// OnRequest, when set, is called after each request to an API path is
	// answered; OnMessage for each newly accepted message. Both run on the
	// serving goroutines, concurrently, and must not block for long.
	OnRequest func(Request)
	OnMessage func(Message)
}

// Receiver is the fake Tracking API. It is an http.Handler; use New to mount
// it yourself or Start to have it listen. All methods are safe for
// concurrent use while requests are being served.
type Receiver struct {
	cfg    Config
	keys   map[string]struct{}
	store  *store
	faults faultState

	// Set by Start.
	srv       *http.Server
	ln        net.Listener
	served    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New returns a Receiver for cfg that is not listening anywhere.
func New(cfg Config) *Receiver {
	maxReq := cfg.MaxRecordedRequests
	if maxReq == 0 {
		maxReq = DefaultMaxRecordedRequests
	}
	keys := make(map[string]struct{}, len(cfg.WriteKeys))
	for _, k := range cfg.WriteKeys {
		keys[k] = struct{}{}
	}
	return &Receiver{cfg: cfg, keys: keys, store: newStore(cfg.CountOnly, maxReq)}
}

// apiError is an error answer: the status and the message put in
// {"error": ...}.
type apiError struct {
	status int
	msg    string
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP routes a request: the two Tracking API paths (with or without a
// trailing slash), and GET /received and /healthz for inspection.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/batch", "/v1/batch/":
		if rc.cfg.CountOnly {
			rc.serveAPI(w, r, decodeBatchCounting)
			break
		}
		rc.serveAPI(w, r, decodeBatch)
	case "/v1/track", "/v1/track/":
		rc.serveAPI(w, r, decodeTrack)
	case "/received":
		rc.serveReceived(w, r)
	case "/healthz":
		rc.serveHealth(w, r)
	default:
		// Recorded, because a client posting to the wrong path (such as
		// /v1/batch/v1/batch from an endpoint given with its path) is exactly
		// what a test wants to see.
		start := time.Now()
		writeError(w, http.StatusNotFound, "no such endpoint "+r.URL.Path)
		rc.record(Request{
			Received: start, Method: r.Method, Path: r.URL.Path, Header: headerWithoutAuth(r.Header),
			Status: http.StatusNotFound, Error: "not found", Duration: time.Since(start),
		})
	}
}

// serveAPI handles one Tracking API request. The order of checks is: method,
// injected faults (an outage comes before anything the server would look
// at), write key, size limits and JSON, per-message rules, then acceptance.
func (rc *Receiver) serveAPI(w http.ResponseWriter, r *http.Request, decode func([]byte) ([]Message, *apiError)) {
	start := time.Now()
	req := Request{Received: start, Method: r.Method, Path: r.URL.Path, Header: headerWithoutAuth(r.Header)}
	defer func() {
		req.Duration = time.Since(start)
		rc.record(req)
	}()
	fail := func(e *apiError) {
		req.Status, req.Error = e.status, e.msg
		writeError(w, e.status, e.msg)
	}

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(&apiError{http.StatusMethodNotAllowed, "method " + r.Method + " not allowed"})
		return
	}
	body, readErr := readBody(r)
	if !rc.cfg.CountOnly {
		req.Body = body
	}
	key, _, _ := r.BasicAuth()
	req.WriteKey = key

	if f, ok := rc.faults.next(start); ok {
		req.Faulted = f.answers()
		if handled, status := applyFault(w, r, f); handled {
			req.Faulted, req.Status = true, status
			return
		}
	}
	if e := rc.authorize(key); e != nil {
		fail(e)
		return
	}
	if limit := rc.cfg.MaxRequestBytes; limit > 0 && len(body) > limit {
		fail(&apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes over this endpoint's %d", len(body), limit)})
		return
	}
	if readErr != nil {
		fail(readErr)
		return
	}
	msgs, e := decode(body)
	if e != nil {
		fail(e)
		return
	}
	req.Messages = len(msgs)
	for i := range msgs {
		msgs[i].WriteKey = key
		msgs[i].Received = start
	}
	if f, ok := rc.faults.match(msgs); ok {
		req.Faulted = f.answers()
		if handled, status := applyFault(w, r, f); handled {
			req.Faulted, req.Status = true, status
			return
		}
	}

	fresh := rc.store.accept(msgs)
	req.Accepted, req.Duplicates = len(fresh), len(msgs)-len(fresh)
	req.Status = http.StatusOK
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	if rc.cfg.OnMessage != nil {
		for _, m := range fresh {
			rc.cfg.OnMessage(m)
		}
	}
}

// authorize checks the Basic-auth user name against the configured keys.
// The password is ignored, as Segment ignores it.
func (rc *Receiver) authorize(key string) *apiError {
	if key == "" {
		return &apiError{http.StatusUnauthorized, "missing write key (Basic auth user name)"}
	}
	if len(rc.keys) > 0 {
		if _, ok := rc.keys[key]; !ok {
			return &apiError{http.StatusUnauthorized, "unknown write key"}
		}
	}
	return nil
}

// record keeps req and tells Config.OnRequest about it.
func (rc *Receiver) record(req Request) {
	rc.store.addRequest(req)
	if rc.cfg.OnRequest != nil {
		rc.cfg.OnRequest(req)
	}
}

// headerWithoutAuth copies h without the Authorization header, so recorded
// requests never hold credentials.
func headerWithoutAuth(h http.Header) http.Header {
	c := h.Clone()
	c.Del("Authorization")
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
