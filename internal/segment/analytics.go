package segment

// The one place analytics-go is used: each HTTP attempt is made by an
// analytics-go client, and this file overrides exactly what analytics-go
// cannot be made to do right on its own.
//
//   - It re-encodes messages (only its own Track type is accepted, which
//     would rewrite timestamp, context, properties and integrations), so the
//     client is handed tiny envelopes whose messageId is their index, and the
//     transport below swaps them for the raw messages, untouched.
//   - It retries every status >= 300 ten times with blind backoff, ignoring
//     Retry-After, then drops the batch; it freezes sentAt at the first
//     attempt; it takes no context. So the client makes one attempt and no
//     more: the transport performs it (with a fresh sentAt, the attempt's
//     timeout and the Sender's lifetime) and keeps the real answer, then
//     answers analytics-go 200, so it reports success and stops. Retrying,
//     splitting and classifying are deliver.go's.
//
// A client lives for one attempt, with BatchSize set to the number of
// messages, so the last Enqueue sends them as exactly one request. That is
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
	cb := &countdown{left: len(raws), done: make(chan struct{})}
	client, err := analytics.NewWithConfig(writeKey, analytics.Config{
		Endpoint:   s.cfg.Endpoint,
		Interval:   24 * time.Hour, // never: BatchSize sends the request
		BatchSize:  len(raws),
		Transport:  shot,
		Callback:   cb,
		Logger:     analyticsLogger{l: s.cfg.Logger, red: red},
		RetryAfter: func(int) time.Duration { return 0 },
	})
	if err != nil {
		return attemptResult{err: fmt.Errorf("analytics-go: %w", err)}
	}
	for i := range raws {
		if err := client.Enqueue(envelope(i)); err != nil {
			cb.add(-1)
			shot.fail(fmt.Errorf("analytics-go refused message %d: %w", i, err))
		}
	}
	select {
	case <-cb.done:
	case <-ctx.Done():
	}
	_ = client.Close()
	return shot.result()
}

// envelopeTime is the fixed timestamp of envelopes, so analytics-go does not
// stamp its own (the raw message's timestamp is what is sent).
var envelopeTime = time.Unix(0, 0).UTC()

// envelope is the Track handed to analytics-go for message i: the smallest
// track it accepts, carrying i as its messageId.
func envelope(i int) analytics.Track {
	return analytics.Track{Type: "track", MessageId: strconv.Itoa(i), UserId: "u", Event: "e", Timestamp: envelopeTime}
}

// countdown is the analytics Callback: done once every message was reported.
type countdown struct {
	mu   sync.Mutex
	left int
	done chan struct{}
}

func (c *countdown) add(d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left <= 0 {
		return
	}
	if c.left += d; c.left <= 0 {
		close(c.done)
	}
}

func (c *countdown) Success(analytics.Message)        { c.add(-1) }
func (c *countdown) Failure(analytics.Message, error) { c.add(-1) }

// oneShot is the RoundTripper of one attempt's client: the first request
// analytics-go makes is sent for real, with the raw messages; any other
// (analytics-go retrying after its own 10 s client timeout) is answered 200
// at once.
type oneShot struct {
	ctx  context.Context
	s    *Sender
	red  *keyRedactor
	raws [][]byte

	once sync.Once
	mu   sync.Mutex
	res  attemptResult
}

func (o *oneShot) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.res = attemptResult{err: err}
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
	ab, err := parseAnalyticsBatch(in, len(o.raws))
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

// parseAnalyticsBatch reads analytics-go's request body and checks that it
// carries exactly the envelopes 0…n-1, in order: anything else means
// analytics-go did not send the messages as one request, which would be a
// bug here, reported rather than sent.
func parseAnalyticsBatch(body []byte, n int) (analyticsBatch, error) {
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
			err = checkEnvelopes(it.Val, n)
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

// checkEnvelopes checks that batch holds the envelopes 0…n-1 in order.
func checkEnvelopes(batch []byte, n int) error {
	arr := jsonscan.NewArrayIter(jsonscan.NewScanner(batch), 1)
	err := arr.Open()
	next := 0
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
				token, _ = strconv.Atoi(string(env.Val[1 : len(env.Val)-1]))
			}
		}
		if err == nil && token != next {
			err = fmt.Errorf("envelope %d carries token %d", next, token)
		}
		next++
	}
	if err == nil && next != n {
		err = fmt.Errorf("%d envelopes for %d messages", next, n)
	}
	return err
}
