package segment

// The one place analytics-go is used. Each HTTP attempt is one request made
// by an analytics-go client; this file overrides exactly what analytics-go
// cannot be made to do right:
//
//   - It re-encodes messages (it accepts only its own Track, whose encoding
//     would rewrite timestamp, context, properties and integrations), so it
//     is handed placeholder tracks, and the transport sends the request with
//     the raw messages in their place, untouched. Nothing is read back from
//     the placeholders: the attempt's request carries every raw message.
//   - It retries every status >= 300 ten times with blind backoff, ignoring
//     Retry-After, then drops the batch; it freezes sentAt at the first
//     attempt. So the transport performs one attempt (with a fresh sentAt),
//     keeps the real answer, and answers analytics-go 200, so it stops.
//     Retrying, splitting and classifying are deliver.go's.
//   - It makes its requests without a context, so the attempt's context
//     (the caller's and the Sender's lifetime) reaches the real request
//     through the transport made for that attempt.
//
// Why a client per attempt, not one per write key: v3 has no Flush. A
// long-lived client sends when BatchSize or its byte limit fills or its
// Interval ticks, so a request of our choosing (a chunk, a half after a 400)
// is only made by a client whose BatchSize is that request's size. That is
// a goroutine and a few allocations per request of up to 2,500 messages.

import (
	"bytes"
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

// post makes one attempt to send raws under writeKey, through analytics-go.
func (s *Sender) post(ctx context.Context, writeKey string, red *keyRedactor, raws [][]byte) attemptResult {
	shot := &oneShot{ctx: ctx, s: s, red: red, raws: raws,
		res: attemptResult{err: errors.New("analytics-go did not send the request")}}
	client, err := analytics.NewWithConfig(writeKey, analytics.Config{
		Endpoint:   s.cfg.Endpoint,
		Interval:   24 * time.Hour, // never: BatchSize sends the request
		BatchSize:  len(raws),
		Transport:  shot,
		Logger:     analyticsLogger{l: s.cfg.Logger, red: red},
		RetryAfter: func(int) time.Duration { return 0 },
	})
	if err != nil {
		return attemptResult{err: fmt.Errorf("analytics-go: %w", err)}
	}
	for i := range raws {
		if err := client.Enqueue(placeholder); err != nil {
			_ = client.Close()
			return attemptResult{err: fmt.Errorf("analytics-go refused message %d: %w", i, err)}
		}
	}
	// The last Enqueue filled the batch; Close waits until its request was
	// made (the transport bounds it by the attempt's timeout and context).
	_ = client.Close()
	return shot.result()
}

// placeholder is the Track handed to analytics-go for each message: the
// smallest it accepts, with an id and a fixed timestamp so that it makes
// none of its own.
var placeholder = analytics.Track{MessageId: "0", UserId: "u", Event: "e", Timestamp: time.Unix(0, 0).UTC()}

// oneShot is the RoundTripper of one attempt's client: the first request
// analytics-go makes is sent for real, with the raw messages; any other
// (analytics-go retrying after its own 10 s client timeout) is answered 200
// at once, as every message already went in the first.
type oneShot struct {
	ctx  context.Context
	s    *Sender
	red  *keyRedactor
	raws [][]byte

	once sync.Once
	mu   sync.Mutex
	res  attemptResult
}

func (o *oneShot) result() attemptResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.res
}

func (o *oneShot) RoundTrip(req *http.Request) (*http.Response, error) {
	in, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	o.once.Do(func() {
		res := attemptResult{err: err}
		if err == nil {
			res = o.send(req, in)
		}
		o.mu.Lock()
		o.res = res
		o.mu.Unlock()
	})
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: req,
	}, nil
}

// sentAtLayout formats a UTC time at a fixed width.
const sentAtLayout = "2006-01-02T15:04:05.000Z"

// send builds the real body from analytics-go's (its batch messageId and
// library context, kept verbatim, around the raw messages) and posts it.
func (o *oneShot) send(orig *http.Request, in []byte) attemptResult {
	ab, err := parseAnalyticsBatch(in)
	if err != nil {
		return attemptResult{err: fmt.Errorf("unreadable analytics-go request: %w", err)}
	}
	size := len(`{"batch":[],"context":,"messageId":"","sentAt":""}`) + len(ab.Context) + len(ab.MessageID) + len(sentAtLayout)
	for _, r := range o.raws {
		size += len(r) + 1
	}
	if size > MaxRequestBytes {
		return attemptResult{status: http.StatusRequestEntityTooLarge, notSent: true,
			body: fmt.Appendf(nil, "not sent: the request would be %d bytes, over the API's %d", size, MaxRequestBytes)}
	}
	body := make([]byte, 0, size)
	body = append(body, `{"batch":[`...)
	for k, r := range o.raws {
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

	ctx, cancel := context.WithTimeout(o.ctx, o.s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, orig.URL.String(), bytes.NewReader(body))
	if err != nil {
		return attemptResult{err: err}
	}
	// Only analytics-go's own headers: Authorization, Content-Type,
	// User-Agent (Content-Length follows the new body).
	for _, h := range []string{"Authorization", "Content-Type", "User-Agent"} {
		if v := orig.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	start := time.Now()
	resp, err := o.s.cfg.Transport.RoundTrip(req)
	if err != nil {
		return attemptResult{latency: time.Since(start), err: o.red.redactErr(err)}
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
// its batch id and context; its "batch" (the placeholders) is not looked at.
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
