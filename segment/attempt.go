package segment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// attemptTransport is the http.RoundTripper given to one chunk's analytics
// client. analytics-go calls RoundTrip once per "attempt" of its own; this
// transport makes the real attempts (see the design note in client.go).
type attemptTransport struct {
	s        *Sender
	ctx      context.Context
	writeKey string
	source   string
	raws     [][]byte
	chunk    *chunkState

	mu   sync.Mutex
	memo map[string]error // analytics batch messageId → final verdict
}

// analyticsBatch is the part of analytics-go's request body the transport
// reads: the batch id (stable across its retries), the envelope tokens (chunk
// indexes) and the batch-level context (library name and version), verbatim.
type analyticsBatch struct {
	MessageID string
	Tokens    []int
	Context   []byte
}

// parseAnalyticsBatch reads analytics-go's request body. The body is
// analytics-go's own encoding of our envelopes, so anything unexpected in it
// is a bug here, reported as an error rather than sent.
func parseAnalyticsBatch(body []byte, chunkLen int) (analyticsBatch, error) {
	var ab analyticsBatch
	it := jsonscan.NewObjectIter(jsonscan.NewScanner(body), 0)
	err := it.Open()
	for err == nil {
		var more bool
		if more, err = it.Next(); err != nil || !more {
			break
		}
		switch string(it.Key) {
		case "messageId":
			if it.Kind == jsonscan.KindString {
				ab.MessageID = jsonscan.StringValue(it.Val, it.Esc)
			}
		case "context":
			ab.Context = it.Val
		case "batch":
			if it.Kind != jsonscan.KindArray {
				return ab, fmt.Errorf("batch is a %s", it.Kind)
			}
			ab.Tokens, err = envelopeTokens(it.Val, chunkLen)
		}
	}
	if err != nil {
		return ab, err
	}
	if ab.MessageID == "" {
		return ab, errors.New("no batch messageId")
	}
	return ab, nil
}

// envelopeTokens returns the token (chunk index) of each envelope in batch.
func envelopeTokens(batch []byte, chunkLen int) ([]int, error) {
	tokens := make([]int, 0, chunkLen)
	arr := jsonscan.NewArrayIter(jsonscan.NewScanner(batch), 1)
	err := arr.Open()
	for err == nil {
		var more bool
		if more, err = arr.Next(); err != nil || !more {
			break
		}
		token := -1
		env := jsonscan.NewObjectIter(jsonscan.NewScanner(arr.Val), 2)
		err = env.Open()
		for err == nil {
			if more, err = env.Next(); err != nil || !more {
				break
			}
			if string(env.Key) == "messageId" && env.Kind == jsonscan.KindString && !env.Esc {
				n, convErr := strconv.Atoi(string(env.Val[1 : len(env.Val)-1]))
				if convErr == nil && n >= 0 && n < chunkLen {
					token = n
				}
			}
		}
		if err == nil && token < 0 {
			err = fmt.Errorf("unknown envelope token in %.80s", arr.Val)
		}
		tokens = append(tokens, token)
	}
	return tokens, err
}

// sentAtLayout formats a UTC time at a fixed width (24 bytes: the trailing Z
// is a literal, not a zone element), so each attempt can overwrite the sentAt
// of the request body in place.
const sentAtLayout = "2006-01-02T15:04:05.000Z"

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	ab, err := parseAnalyticsBatch(in, len(t.raws))
	if err != nil {
		return nil, fmt.Errorf("segment: unreadable analytics-go request: %w", err)
	}
	t.mu.Lock()
	v, seen := t.memo[ab.MessageID]
	t.mu.Unlock()
	if seen {
		// analytics-go replaying a request that already has its verdict.
		return nil, v
	}

	batchID, _ := json.Marshal(ab.MessageID)
	idx := ab.Tokens
	size := len(`{"batch":[],"context":,"messageId":,"sentAt":""}`) + len(ab.Context) + len(batchID) + len(sentAtLayout)
	for _, i := range idx {
		size += len(t.raws[i]) + 1
	}
	// The body is built once, with room for sentAt, which each attempt
	// overwrites in place (the layout is fixed width).
	body := make([]byte, 0, size)
	body = append(body, `{"batch":[`...)
	for k, i := range idx {
		if k > 0 {
			body = append(body, ',')
		}
		body = append(body, t.raws[i]...)
	}
	body = append(body, ']')
	if len(ab.Context) > 0 {
		body = append(body, `,"context":`...)
		body = append(body, ab.Context...)
	}
	body = append(body, `,"messageId":`...)
	body = append(body, batchID...)
	body = append(body, `,"sentAt":"`...)
	sentAt := len(body)
	body = append(body, sentAtLayout...)
	body = append(body, `"}`...)

	derr := t.attempts(req, body, sentAt, len(idx))
	if derr == nil {
		return &http.Response{
			Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: http.NoBody, Request: req,
		}, nil
	}
	t.chunk.setVerdict(idx, derr)
	t.mu.Lock()
	t.memo[ab.MessageID] = derr
	t.mu.Unlock()
	return nil, derr
}

// attempts sends body until it gets a verdict: nil for 2xx, else a
// *DeliveryError. Each attempt writes the moment it starts into the sentAt
// slot at body[sentAt:].
func (t *attemptTransport) attempts(orig *http.Request, body []byte, sentAt, n int) *DeliveryError {
	cfg := &t.s.cfg
	start := time.Now()
	deadline := start.Add(cfg.MaxRetryDuration)
	last := &DeliveryError{Source: t.source}
	fail := func(class Class) *DeliveryError {
		last.Class = class
		last.Elapsed = time.Since(start)
		return last
	}
	for attempt := 1; ; attempt++ {
		if t.ctx.Err() != nil {
			last.Err = context.Cause(t.ctx)
			return fail(ClassAborted)
		}
		if attempt > 1 {
			// An abandoned attempt's transport may still be reading the
			// previous body: never write into it.
			body = bytes.Clone(body)
		}
		stampSentAt(body, sentAt, time.Now())
		if len(body) > MaxRequestBytes {
			last.Err = fmt.Errorf("request of %d bytes over the %d byte limit", len(body), MaxRequestBytes)
			return fail(ClassPermanent)
		}
		status, header, respBody, latency, err := t.do(orig, body)
		last.Attempts = attempt
		if err != nil && t.ctx.Err() != nil {
			last.Err = context.Cause(t.ctx)
			return fail(ClassAborted)
		}
		class, label := Classify(status, err)
		cfg.Observer.Attempt(label, n, int64(latency))
		last.Status, last.StatusClass, last.Err = status, label, err
		last.Body = excerpt(respBody, t.writeKey)
		switch class {
		case ClassAccepted:
			return nil
		case ClassPermanent:
			cfg.Logger.Warnf("segment: %d messages of source %s refused with %d by %s: %s",
				n, t.source, status, cfg.Endpoint, last.Body)
			return fail(ClassPermanent)
		case ClassKeyRejected:
			cfg.Observer.KeyRejected(t.source)
			t.s.logKeyRejected(t.source, status, n)
		default:
			cfg.Logger.Debugf("segment: attempt %d for %d messages of source %s failed (%s): %v",
				attempt, n, t.source, label, errOrStatus(err, status))
		}

		wait := backoff(cfg.InitialBackoff, cfg.MaxBackoff, attempt)
		if ra := ParseRetryAfter(header.Get("Retry-After"), time.Now()); ra > 0 {
			wait = ra
		}
		remaining := time.Until(deadline)
		giveUp := wait >= remaining
		if giveUp {
			// Never retry before Retry-After, never hold longer than the
			// bound: wait out what is left, then hand the messages back.
			wait = max(remaining, 0)
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-t.ctx.Done():
			timer.Stop()
			last.Err = context.Cause(t.ctx)
			return fail(ClassAborted)
		}
		if giveUp {
			cfg.Logger.Warnf("segment: %d messages of source %s not accepted after %d attempts over %s (%s), nacking them for Benthos to retry",
				n, t.source, attempt, time.Since(start).Round(time.Millisecond), label)
			return fail(class)
		}
	}
}

// stampSentAt writes now into the sentAt slot of body at body[at:], in
// place. The time is formatted aside and copied: AppendFormat writes all nine
// fraction digits before cutting them to three, so formatting straight into
// the slot would overwrite the bytes after it.
func stampSentAt(body []byte, at int, now time.Time) {
	var ts [64]byte
	copy(body[at:at+len(sentAtLayout)], now.UTC().AppendFormat(ts[:0], sentAtLayout))
}

func errOrStatus(err error, status int) any {
	if err != nil {
		return err
	}
	return strconv.Itoa(status) + " " + http.StatusText(status)
}

// do performs one HTTP attempt with its own timeout. Only the headers of the
// original request are kept (Authorization, Content-Type, User-Agent).
func (t *attemptTransport) do(orig *http.Request, body []byte) (int, http.Header, []byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, orig.URL.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, 0, err
	}
	for _, h := range []string{"Authorization", "Content-Type", "User-Agent"} {
		if v := orig.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	start := time.Now()
	resp, err := t.s.cfg.Transport.RoundTrip(req)
	if err != nil {
		return 0, nil, nil, time.Since(start), scrubErr(err, t.writeKey)
	}
	defer resp.Body.Close()
	var respBody []byte
	if resp.StatusCode >= 300 {
		respBody, _ = io.ReadAll(io.LimitReader(resp.Body, 4*maxBodyExcerpt))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, respBody, time.Since(start), nil
}

func scrubErr(err error, key string) error {
	if key != "" && strings.Contains(err.Error(), key) {
		return errors.New(strings.ReplaceAll(err.Error(), key, "<write key>"))
	}
	return err
}

// backoff is exponential from initial, capped at maxWait, with jitter in
// [d/2, d].
func backoff(initial, maxWait time.Duration, attempt int) time.Duration {
	d := initial
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	if half := d / 2; half > 0 {
		d = half + rand.N(half+1)
	}
	return d
}

// logKeyRejected logs a rejected write key at ERROR at most once per
// KeyRejectedLogInterval per source.
func (s *Sender) logKeyRejected(source string, status, n int) {
	now := time.Now()
	s.keyLogMu.Lock()
	last, ok := s.keyLog[source]
	logIt := !ok || now.Sub(last) >= s.cfg.KeyRejectedLogInterval
	if logIt {
		s.keyLog[source] = now
	}
	s.keyLogMu.Unlock()
	if logIt {
		s.cfg.Logger.Errorf("segment: write key of source %s rejected with %d %s by %s; holding %d messages and retrying for up to %s per batch (fix the key or the region; nothing is dropped)",
			source, status, http.StatusText(status), s.cfg.Endpoint, n, s.cfg.MaxRetryDuration)
	}
}
