package brazehttp

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
)

// The answers. Each returns the status label for Observer.Answered, and
// those that refuse or fail log why: at WARN once per interval and kind,
// the rest at DEBUG (see warn).

// unauthorized answers 401, before a byte of the body is read. The reason
// describes the header (missing, not Bearer, wrong token) and never quotes
// it.
func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, id, reason string) string {
	h.warn("auth", func(l Logger, note string) {
		l.Warnf("Refused a request from %s with 401: %s (request %s)%s", r.RemoteAddr, reason, id, note)
	}, func(l Logger) {
		l.Debugf("Refused a request from %s with 401: %s (request %s)", r.RemoteAddr, reason, id)
	})
	w.Header().Set("WWW-Authenticate", `Bearer realm="braze-currents"`)
	return h.fail(w, id, http.StatusUnauthorized, "missing or invalid bearer token", nil)
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

// undelivered answers 503 for a request whose events did not reach their
// destination (nacked, not taken or not resolved in time): Braze retries
// it as is.
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
