package segment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

type recordedRequest struct {
	at     time.Time
	body   []byte
	status int
}

// fakeAPI answers /v1/batch: with the statuses queued in answers, else with
// decide's answer when set, else 200; it records every request.
type fakeAPI struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	decide  func(body []byte) (status int, answer string)
	reqs    []recordedRequest
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/v1/batch" {
		w.WriteHeader(404)
		return
	}
	f.mu.Lock()
	var answer func(http.ResponseWriter)
	if len(f.answers) > 0 {
		answer, f.answers = f.answers[0], f.answers[1:]
	}
	decide := f.decide
	rec := recordedRequest{at: time.Now(), body: body, status: 200}
	f.mu.Unlock()
	switch {
	case answer != nil:
		rec.status = -1
		answer(w)
	case decide != nil:
		status, text := decide(body)
		rec.status = status
		w.WriteHeader(status)
		_, _ = w.Write([]byte(text))
	default:
		_, _ = w.Write([]byte(`{"success":true}`))
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, rec)
	f.mu.Unlock()
}

func (f *fakeAPI) requests() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.reqs...)
}

// accepted counts, by messageId, the messages of requests answered 200.
func (f *fakeAPI) accepted(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range f.requests() {
		if r.status != 200 {
			continue
		}
		msgs, _ := batchOf(t, r.body)
		for _, m := range msgs {
			var id struct {
				MessageID string `json:"messageId"`
			}
			_ = json.Unmarshal(m, &id)
			out[id.MessageID]++
		}
	}
	return out
}

func status(code int, retryAfter string, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// recLogger keeps every line, with its level.
type recLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recLogger) add(level, format string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, args...))
}
func (l *recLogger) Debugf(f string, a ...any) { l.add("DEBUG", f, a) }
func (l *recLogger) Infof(f string, a ...any)  { l.add("INFO", f, a) }
func (l *recLogger) Warnf(f string, a ...any)  { l.add("WARN", f, a) }
func (l *recLogger) Errorf(f string, a ...any) { l.add("ERROR", f, a) }

// matching returns the lines at level containing substr.
func (l *recLogger) matching(level, substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.HasPrefix(line, level+" ") && strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// splitCounter is an Observer counting splits by status.
type splitCounter struct {
	nopObserver
	mu     sync.Mutex
	splits map[int]int
}

func (c *splitCounter) Split(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.splits == nil {
		c.splits = map[int]int{}
	}
	c.splits[status]++
}

func (c *splitCounter) count(status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.splits[status]
}

// testSender sends to url with fast retries.
func testSender(t *testing.T, url string, mod func(*Config)) *Sender {
	t.Helper()
	cfg := Config{Endpoint: url + "/v1/batch", Timeout: 2 * time.Second, InitialBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// messages puts raws under one write key.
func messages(key string, raws [][]byte) []Message {
	out := make([]Message, len(raws))
	for i, r := range raws {
		out[i] = Message{WriteKey: key, Raw: r}
	}
	return out
}

func track(i int, id string) []byte {
	return fmt.Appendf(nil, `{"type":"track","event":"Email Sent","messageId":%q,"userId":"u-%d","timestamp":"2026-11-28T13:00:00.000+01:00","context":{"traits":{"email":"a@b.c"},"custom":{"n":12345678901234567890}},"properties":{"z":1,"a":[1.50,"x"]},"integrations":{"All":false}}`, id, i)
}

// padded is a track of size bytes (or the smallest it can be).
func padded(id string, size int) []byte {
	const format = `{"type":"track","event":"e","userId":"u","messageId":%q,"properties":{"p":%q}}`
	base := len(fmt.Sprintf(format, id, ""))
	return fmt.Appendf(nil, format, id, strings.Repeat("p", max(size-base, 0)))
}

func batchOf(t *testing.T, body []byte) (msgs []json.RawMessage, sentAt string) {
	t.Helper()
	var b struct {
		Batch  []json.RawMessage `json:"batch"`
		SentAt string            `json:"sentAt"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("request body: %v", err)
	}
	return b.Batch, b.SentAt
}

func mustAllAccepted(t *testing.T, res []error) {
	t.Helper()
	for i, err := range res {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

func TestSegmentSenderSendsRawBytesAndCorrelatesDuplicateIDs(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	msgs := [][]byte{track(0, "dup"), track(1, "dup"), track(2, "other"), track(3, "dup")}
	mustAllAccepted(t, s.Send(context.Background(), messages("wk", msgs)))
	reqs := api.requests()
	if len(reqs) != 1 {
		t.Fatalf("want one request, got %d", len(reqs))
	}
	got, _ := batchOf(t, reqs[0].body)
	for i := range msgs {
		if string(got[i]) != string(msgs[i]) {
			t.Fatalf("message %d changed on the wire:\n got %s\nwant %s", i, got[i], msgs[i])
		}
	}
}

func TestSegmentSenderRetryRewritesSentAtAndHonoursRetryAfter(t *testing.T) {
	api := &fakeAPI{answers: []func(http.ResponseWriter){status(503, "1", "down")}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	mustAllAccepted(t, s.Send(context.Background(), messages("wk", [][]byte{track(0, "m0")})))
	reqs := api.requests()
	if len(reqs) != 2 {
		t.Fatalf("want 2 attempts, got %d", len(reqs))
	}
	_, s1 := batchOf(t, reqs[0].body)
	_, s2 := batchOf(t, reqs[1].body)
	t1, err1 := time.Parse(time.RFC3339Nano, s1)
	t2, err2 := time.Parse(time.RFC3339Nano, s2)
	if err1 != nil || err2 != nil || s1 == s2 || t2.Sub(t1) < time.Second {
		t.Fatalf("sentAt must be the moment of each attempt: %q then %q", s1, s2)
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second {
		t.Fatalf("retried %s after a Retry-After of 1s", gap)
	}
}

// TestSegmentSenderRetriesTransientFailuresUntilAccepted: with no retry
// bound (the default) an outage holds the messages however many attempts
// it takes, and nothing is given back undelivered.
func TestSegmentSenderRetriesTransientFailuresUntilAccepted(t *testing.T) {
	api := &fakeAPI{}
	for range 40 {
		api.answers = append(api.answers, status(503, "", "down"))
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	logs := &recLogger{}
	s := testSender(t, srv.URL, func(c *Config) { c.MaxBackoff = 10 * time.Millisecond; c.Logger = logs })

	mustAllAccepted(t, s.Send(context.Background(), messages("wk", [][]byte{track(0, "a"), track(1, "b")})))
	if n := len(api.requests()); n != 41 {
		t.Fatalf("%d attempts, want 41", n)
	}
	if len(logs.matching("ERROR", "retrying with backoff until Segment accepts them")) != 1 {
		t.Fatalf("an outage must be logged at ERROR once per interval:\n%s", strings.Join(logs.lines, "\n"))
	}
	if len(logs.matching("INFO", "accepted after 41 attempts")) != 1 {
		t.Fatalf("recovery is not logged:\n%s", strings.Join(logs.lines, "\n"))
	}
}

func TestSegmentSenderTransientGivesUpAtBound(t *testing.T) {
	api := &fakeAPI{decide: func([]byte) (int, string) { return 500, "oops" }}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, func(c *Config) { c.MaxRetryDuration = 300 * time.Millisecond })

	res := s.Send(context.Background(), messages("wk", [][]byte{track(0, "a")}))
	var d *DeliveryError
	if !errors.As(res[0], &d) || d.Class != ClassTransient || d.StatusClass != Status5xx || d.Attempts < 2 {
		t.Fatalf("want transient 5xx after retries, got %v", res[0])
	}
	if !strings.Contains(d.Error(), "handed back to the input undelivered") {
		t.Fatalf("the error must say the message was not delivered: %v", d)
	}
}

func TestSegmentSenderCloseAbortsMidRetry(t *testing.T) {
	api := &fakeAPI{decide: func([]byte) (int, string) { return 503, "" }}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	go func() {
		for len(api.requests()) < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		s.Close()
	}()
	res := s.Send(context.Background(), messages("wk", [][]byte{track(0, "a"), track(1, "b")}))
	for _, err := range res {
		if ClassOf(err) != ClassAborted || !strings.Contains(err.Error(), "shutdown interrupted delivery") {
			t.Fatalf("want aborted, got %v", err)
		}
	}
}

func TestSegmentSenderCallerContextAbortsOnlyItsMessages(t *testing.T) {
	api := &fakeAPI{decide: func([]byte) (int, string) { return 503, "" }}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	for _, err := range s.Send(ctx, messages("wk", [][]byte{track(0, "a")})) {
		if ClassOf(err) != ClassAborted || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want aborted by the caller's deadline, got %v", err)
		}
		// Said as what happened: a deadline, not a shutdown, after attempts.
		if msg := err.Error(); !strings.Contains(msg, "the write's deadline passed") || strings.Contains(msg, "shutdown") || strings.Contains(msg, "never sent") {
			t.Fatalf("the deadline is not said as such: %v", err)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the caller was held %s after its context ended", took)
	}
}

func TestSegmentSenderSplitsLargeSends(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	var msgs [][]byte
	for i := range 3000 {
		msgs = append(msgs, padded(fmt.Sprintf("m%d", i), 480))
	}
	mustAllAccepted(t, s.Send(context.Background(), messages("wk", msgs)))
	seen := 0
	for _, r := range api.requests() {
		got, _ := batchOf(t, r.body)
		if len(got) > MaxBatchMessages || len(r.body) > MaxRequestBytes {
			t.Fatalf("request of %d messages, %d bytes", len(got), len(r.body))
		}
		seen += len(got)
	}
	if seen != 3000 {
		t.Fatalf("server saw %d messages", seen)
	}
}

// TestSegmentSenderFillsRequestsToTheByteBudget: messages of ~2 KB fill each
// request to the API's size limit, not to a count.
func TestSegmentSenderFillsRequestsToTheByteBudget(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	var msgs [][]byte
	for i := range 700 {
		msgs = append(msgs, padded(fmt.Sprintf("m%d", i), 2000))
	}
	mustAllAccepted(t, s.Send(context.Background(), messages("wk", msgs)))
	reqs := api.requests()
	if len(reqs) != 3 {
		t.Fatalf("700 messages of 2 KB went in %d requests, want 3", len(reqs))
	}
	// Requests are sent concurrently: the two full ones are the largest.
	sort.Slice(reqs, func(i, j int) bool { return len(reqs[i].body) > len(reqs[j].body) })
	for i, r := range reqs[:2] {
		if len(r.body) > MaxRequestBytes || len(r.body) < MaxBatchBytes-2100 {
			t.Fatalf("request %d is %d bytes: not full to the %d byte budget", i, len(r.body), MaxBatchBytes)
		}
	}
}

// TestSegmentSenderIsolatesAPoisonMessage: Segment answers 400 to a whole
// request for one bad message. Only that message fails, with Segment's
// answer; the others are accepted exactly once, and the request is split
// ⌈log2 n⌉ times on the way.
func TestSegmentSenderIsolatesAPoisonMessage(t *testing.T) {
	api := &fakeAPI{decide: func(body []byte) (int, string) {
		if strings.Contains(string(body), `"poison"`) {
			return 400, `{"error":"message poison is malformed"}`
		}
		return 200, `{"success":true}`
	}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	obs := &splitCounter{}
	s := testSender(t, srv.URL, func(c *Config) { c.Observer = obs })

	const n = 250
	var msgs [][]byte
	for i := range n {
		id := fmt.Sprintf("m%d", i)
		if i == 137 {
			id = "poison"
		}
		msgs = append(msgs, track(i, id))
	}
	res := s.Send(context.Background(), messages("wk", msgs))
	depth := bits.Len(uint(n - 1)) // ⌈log2 n⌉
	for i, err := range res {
		if i != 137 {
			if err != nil {
				t.Fatalf("good message %d failed: %v", i, err)
			}
			continue
		}
		var d *DeliveryError
		if !errors.As(err, &d) || d.Class != ClassPermanent || d.Status != 400 || !strings.Contains(err.Error(), "message poison is malformed") {
			t.Fatalf("poison message: %v", err)
		}
		if d.Splits == 0 || d.Splits > depth {
			t.Fatalf("poison isolated after %d splits, want 1…%d", d.Splits, depth)
		}
	}
	acc := api.accepted(t)
	if len(acc) != n-1 || acc["poison"] != 0 {
		t.Fatalf("%d messages accepted (poison %d times), want %d", len(acc), acc["poison"], n-1)
	}
	for id, k := range acc {
		if k != 1 {
			t.Fatalf("message %s accepted %d times", id, k)
		}
	}
	if got := obs.count(400); got == 0 || got > depth {
		t.Fatalf("%d splits counted for one poison message in %d, want 1…%d", got, n, depth)
	}
	if reqs := len(api.requests()); reqs > 1+2*depth {
		t.Fatalf("%d requests to isolate one message of %d, want at most %d", reqs, n, 1+2*depth)
	}
}

// TestSegmentSenderSplitsOn413AndDeliversEverything: an endpoint whose
// request limit is below ours answers 413; the halves are resent until they
// fit, and nothing fails for its size.
func TestSegmentSenderSplitsOn413AndDeliversEverything(t *testing.T) {
	const limit = 64 << 10
	api := &fakeAPI{decide: func(body []byte) (int, string) {
		if len(body) > limit {
			return 413, `{"error":"request too large"}`
		}
		return 200, `{"success":true}`
	}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	obs := &splitCounter{}
	s := testSender(t, srv.URL, func(c *Config) { c.Observer = obs })

	var msgs [][]byte
	for i := range 1000 {
		msgs = append(msgs, padded(fmt.Sprintf("m%d", i), 1000))
	}
	mustAllAccepted(t, s.Send(context.Background(), messages("wk", msgs)))
	acc := api.accepted(t)
	if len(acc) != 1000 {
		t.Fatalf("%d messages accepted, want 1000", len(acc))
	}
	for id, k := range acc {
		if k != 1 {
			t.Fatalf("message %s accepted %d times", id, k)
		}
	}
	if obs.count(413) == 0 {
		t.Fatal("no split counted")
	}
}

func TestSegmentSenderMessageTooLargeEvenAloneFails(t *testing.T) {
	api := &fakeAPI{decide: func(body []byte) (int, string) {
		if len(body) > 1000 {
			return 413, `{"error":"request too large"}`
		}
		return 200, `{"success":true}`
	}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	res := s.Send(context.Background(), messages("wk", [][]byte{padded("small", 200), padded("big", 5000)}))
	if res[0] != nil {
		t.Fatalf("the small message: %v", res[0])
	}
	var d *DeliveryError
	if !errors.As(res[1], &d) || d.Class != ClassPermanent || !strings.Contains(res[1].Error(), "413 even alone") {
		t.Fatalf("the big message: %v", res[1])
	}
}

// TestSegmentSenderHoldsOnARejectedEndpoint: a 404 says the endpoint is
// wrong, not the messages: they are held and retried, never failed.
func TestSegmentSenderHoldsOnARejectedEndpoint(t *testing.T) {
	api := &fakeAPI{}
	for range 5 {
		api.answers = append(api.answers, status(404, "", "no such path"))
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	logs := &recLogger{}
	s := testSender(t, srv.URL, func(c *Config) { c.Logger = logs })

	mustAllAccepted(t, s.Send(context.Background(), messages("wk", [][]byte{track(0, "a")})))
	if len(logs.matching("ERROR", "the endpoint looks wrong")) != 1 {
		t.Fatalf("a rejected endpoint must be logged at ERROR once per interval:\n%s", strings.Join(logs.lines, "\n"))
	}
}

// TestSegmentSenderKeepsKeysApart: messages of different write keys never
// share a request.
func TestSegmentSenderKeepsKeysApart(t *testing.T) {
	var mu sync.Mutex
	byKey := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _, _ := r.BasicAuth()
		body, _ := io.ReadAll(r.Body)
		var b struct {
			Batch []struct {
				MessageID string `json:"messageId"`
			} `json:"batch"`
		}
		_ = json.Unmarshal(body, &b)
		mu.Lock()
		for _, m := range b.Batch {
			byKey[key] = append(byKey[key], m.MessageID)
		}
		mu.Unlock()
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	defer srv.Close()
	s := testSender(t, srv.URL, nil)
	msgs := []Message{
		{WriteKey: "k1", Raw: track(0, "a1")}, {WriteKey: "k2", Raw: track(1, "b1")},
		{WriteKey: "k1", Raw: track(2, "a2")}, {WriteKey: "k2", Raw: track(3, "b2")},
	}
	mustAllAccepted(t, s.Send(context.Background(), msgs))
	if got := fmt.Sprint(byKey); got != "map[k1:[a1 a2] k2:[b1 b2]]" {
		t.Fatalf("by key: %s", got)
	}
}

// TestSegmentSenderKeepsLargestMessagesUnderTheRequestLimit: messages at the
// API's per-message limit still make requests under its request limit.
func TestSegmentSenderKeepsLargestMessagesUnderTheRequestLimit(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)
	var msgs [][]byte
	for i := range 40 {
		msgs = append(msgs, padded(fmt.Sprintf("m%d", i), MaxMessageBytes))
	}
	mustAllAccepted(t, s.Send(context.Background(), messages("wk", msgs)))
	total := 0
	for _, r := range api.requests() {
		if len(r.body) > MaxRequestBytes {
			t.Fatalf("request of %d bytes, over %d", len(r.body), MaxRequestBytes)
		}
		got, _ := batchOf(t, r.body)
		total += len(got)
	}
	if total != 40 {
		t.Fatalf("%d messages sent, want 40", total)
	}
}
