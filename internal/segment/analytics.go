package segment

// The one place analytics-go is used. Each HTTP attempt is one request
// prepared by an analytics-go client (its endpoint, its authentication, its
// headers, its batch id and library context); this file overrides exactly
// what analytics-go cannot be made to do right:
//
//   - It re-encodes messages (it accepts only its own Track, whose encoding
//     would rewrite timestamp, context, properties and integrations), so it
//     is handed one placeholder track, and the request goes out with the raw
//     messages in its place, untouched. Nothing is read back from the
//     placeholder: the attempt's request carries every raw message. One, not
//     one per message: analytics-go encodes each message it is given twice
//     (Enqueue measures it, the batch encodes it again), which cost about a
//     sixth of the whole HTTP path's CPU for placeholders nobody reads.
//   - It retries every status >= 300 ten times with blind backoff, ignoring
//     Retry-After, then drops the batch; it freezes sentAt at the first
//     attempt; it makes its requests without a context. So its transport
//     only takes the request it prepared and answers 200 at once (it then
//     reports success and stops, and never reaches its own 10 s timeout),
//     and post sends that request with a fresh sentAt under the attempt's
//     context and timeout. Retrying, splitting and classifying are
//     deliver.go's.
//
// Why a client per attempt, not one per write key: v3 has no Flush. A
// long-lived client sends when BatchSize or its byte limit fills or its
// Interval ticks, so the request of an attempt is only prepared at once by a
// client whose batch its one placeholder fills. That is a goroutine and a
// few allocations per request of up to 2,500 messages.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// attemptResult is what one HTTP attempt got.
type attemptResult struct {
	status  int
	header  http.Header
	body    []byte // the start of the answer, when not 2xx
	latency time.Duration
	err     error // a network error, scrubbed of the write key
	// notSent is set when the request was refused here without reaching
	// the network (it would have been over the API's size limit).
	notSent bool
}

// post makes one attempt to send raws under writeKey: analytics-go prepares
// the request, post sends it.
func (s *Sender) post(ctx context.Context, writeKey string, red *keyRedactor, raws [][]byte) attemptResult {
	var prepared capture
	client, err := analytics.NewWithConfig(writeKey, analytics.Config{
		Endpoint:   s.cfg.Endpoint,
		Interval:   24 * time.Hour, // never: BatchSize makes the request
		BatchSize:  1,              // the placeholder fills it: the request is made at once
		Transport:  &prepared,
		Logger:     analyticsLogger{l: s.cfg.Logger, red: red},
		RetryAfter: func(int) time.Duration { return 0 },
	})
	if err != nil {
		return attemptResult{err: fmt.Errorf("analytics-go: %w", err)}
	}
	if err := client.Enqueue(placeholder); err != nil {
		_ = client.Close()
		return attemptResult{err: fmt.Errorf("analytics-go refused the placeholder: %w", err)}
	}
	// The Enqueue filled the batch; Close returns once analytics-go handed
	// its request to the transport, which answers at once.
	_ = client.Close()
	req, body, err := prepared.first()
	if err != nil {
		return attemptResult{err: err}
	}
	return s.send(ctx, red, raws, req, body)
}

// placeholder is the Track handed to analytics-go for each attempt: the
// smallest it accepts, with an id and a fixed timestamp so that it makes
// none of its own.
var placeholder = analytics.Track{MessageId: "0", UserId: "u", Event: "e", Timestamp: time.Unix(0, 0).UTC()}

// capture is the RoundTripper of one attempt's client: it keeps the first
// request analytics-go prepares and answers it 200 at once. There is no
// second: analytics-go retries only a failed request.
type capture struct {
	mu   sync.Mutex
	req  *http.Request
	body []byte
	err  error
}

func (c *capture) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	c.mu.Lock()
	if c.req == nil && c.err == nil {
		c.req, c.body, c.err = req, body, err
	}
	c.mu.Unlock()
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: req,
	}, nil
}

// first returns the request analytics-go prepared and its body.
func (c *capture) first() (*http.Request, []byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != nil:
		return nil, nil, fmt.Errorf("reading analytics-go's request: %w", c.err)
	case c.req == nil:
		return nil, nil, errors.New("analytics-go did not make the request")
	}
	return c.req, c.body, nil
}

// sentAtLayout formats a UTC time at a fixed width.
const sentAtLayout = "2006-01-02T15:04:05.000Z"

// send builds the real body from analytics-go's (its batch messageId and
// library context, kept verbatim, around the raw messages) and posts it
// with analytics-go's headers, under ctx and the attempt's timeout.
func (s *Sender) send(ctx context.Context, red *keyRedactor, raws [][]byte, orig *http.Request, in []byte) attemptResult {
	ab, err := parseAnalyticsBatch(in)
	if err != nil {
		return attemptResult{err: fmt.Errorf("unreadable analytics-go request: %w", err)}
	}
	size := len(`{"batch":[],"context":,"messageId":"","sentAt":""}`) + len(ab.Context) + len(ab.MessageID) + len(sentAtLayout)
	for _, r := range raws {
		size += len(r) + 1
	}
	if size > MaxRequestBytes {
		return attemptResult{status: http.StatusRequestEntityTooLarge, notSent: true,
			body: fmt.Appendf(nil, "not sent: the request would be %d bytes, over the API's %d", size, MaxRequestBytes)}
	}
	buf := getBodyBuffer(size)
	body := append(*buf, `{"batch":[`...)
	for k, r := range raws {
		if k > 0 {
			body = append(body, ',')
		}
		body = append(body, r...)
	}
	body = append(body, ']')
	if len(ab.Context) > 0 {
		body = append(body, `,"context":`...)
		body = append(body, ab.Context...)
	}
	body = append(body, `,"messageId":`...)
	body = strconv.AppendQuote(body, ab.MessageID)
	body = append(body, `,"sentAt":"`...)
	// Formatted aside: AppendFormat writes all nine fraction digits before
	// cutting them to three, which would outgrow the body's exact capacity
	// and copy it whole.
	var ts [64]byte
	body = append(body, time.Now().UTC().AppendFormat(ts[:0], sentAtLayout)...)
	body = append(body, `"}`...)
	*buf = body
	rb := newRequestBody(buf)

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, orig.URL.String(), rb)
	if err != nil {
		rb.Close()
		return attemptResult{err: err}
	}
	// Set by NewRequest only for its own reader types; without it the body
	// would go out chunked. No GetBody: a POST is never replayed by the
	// transport, and deliver.go makes every retry a new attempt.
	req.ContentLength = int64(len(body))
	// Only analytics-go's own headers: Authorization, Content-Type,
	// User-Agent (Content-Length follows the new body).
	for _, h := range []string{"Authorization", "Content-Type", "User-Agent"} {
		if v := orig.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	start := time.Now()
	resp, err := s.cfg.Transport.RoundTrip(req)
	if err != nil {
		return attemptResult{latency: time.Since(start), err: red.redactErr(err)}
	}
	defer resp.Body.Close()
	res := attemptResult{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode >= 300 {
		res.body, _ = io.ReadAll(io.LimitReader(resp.Body, 4*maxBodyExcerpt))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	res.latency = time.Since(start)
	return res
}

// analyticsBatch is the part of analytics-go's request body kept: the batch
// id and the batch-level context (library name and version), verbatim.
type analyticsBatch struct {
	MessageID string
	Context   []byte
}

// parseAnalyticsBatch reads the top level of analytics-go's request body for
// its batch id and context; its "batch" (the placeholder) is not looked at.
func parseAnalyticsBatch(body []byte) (analyticsBatch, error) {
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
