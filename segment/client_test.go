package segment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// fakeAPI answers /v1/batch with the statuses queued in answers (then 200)
// and records every request.
type fakeAPI struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
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
	f.reqs = append(f.reqs, recordedRequest{at: time.Now(), body: body})
	f.mu.Unlock()
	if answer != nil {
		answer(w)
		return
	}
	_, _ = w.Write([]byte(`{"success":true}`))
}

func (f *fakeAPI) requests() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.reqs...)
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

func testSender(t *testing.T, url string, mod func(*Config)) *Sender {
	t.Helper()
	cfg := Config{Endpoint: url + "/v1/batch", Timeout: 2 * time.Second, InitialBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, MaxRetryDuration: 10 * time.Second}
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

func track(i int, id string) []byte {
	return fmt.Appendf(nil, `{"type":"track","event":"Email Sent","messageId":%q,"userId":"u-%d","timestamp":"2026-11-28T13:00:00.000+01:00","context":{"traits":{"email":"a@b.c"},"custom":{"n":12345678901234567890}},"properties":{"z":1,"a":[1.50,"x"]},"integrations":{"All":false}}`, id, i)
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

func TestSegmentSenderSendsRawBytesAndCorrelatesDuplicateIDs(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	msgs := [][]byte{track(0, "dup"), track(1, "dup"), track(2, "other"), track(3, "dup")}
	res := s.Send(context.Background(), "wk", msgs)
	for i, err := range res {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
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

	res := s.Send(context.Background(), "wk", [][]byte{track(0, "m0")})
	if res[0] != nil {
		t.Fatal(res[0])
	}
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

func TestSegmentSenderPermanentFailureIsOneAttempt(t *testing.T) {
	api := &fakeAPI{answers: []func(http.ResponseWriter){status(400, "", `{"error":"bad wk-secret-key"}`)}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	res := s.Send(context.Background(), "wk-secret-key", [][]byte{track(0, "a"), track(1, "b")})
	for _, err := range res {
		var d *DeliveryError
		if !errors.As(err, &d) || d.Class != ClassPermanent || d.Status != 400 || d.Attempts != 1 {
			t.Fatalf("want permanent 400 after 1 attempt, got %v", err)
		}
		if strings.Contains(err.Error(), "wk-secret-key") || !strings.Contains(err.Error(), "bad <write key>") {
			t.Fatalf("body must be kept and scrubbed: %v", err)
		}
	}
	if n := len(api.requests()); n != 1 {
		t.Fatalf("analytics-go's blind retries reached the network: %d requests", n)
	}
}

func TestSegmentSenderTransientGivesUpAtBound(t *testing.T) {
	api := &fakeAPI{}
	for range 1000 {
		api.answers = append(api.answers, status(500, "", "oops"))
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, func(c *Config) { c.MaxRetryDuration = 300 * time.Millisecond })

	res := s.Send(context.Background(), "wk", [][]byte{track(0, "a")})
	var d *DeliveryError
	if !errors.As(res[0], &d) || d.Class != ClassTransient || d.StatusClass != Status5xx || d.Attempts < 2 {
		t.Fatalf("want transient 5xx after retries, got %v", res[0])
	}
}

func TestSegmentSenderCloseAbortsMidRetry(t *testing.T) {
	api := &fakeAPI{}
	for range 1000 {
		api.answers = append(api.answers, status(503, "", ""))
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	go func() {
		for len(api.requests()) < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		s.Close()
	}()
	res := s.Send(context.Background(), "wk", [][]byte{track(0, "a"), track(1, "b")})
	for _, err := range res {
		if ClassOf(err) != ClassAborted {
			t.Fatalf("want aborted, got %v", err)
		}
	}
}

func TestSegmentSenderSplitsLargeSends(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	var msgs [][]byte
	pad := strings.Repeat("p", 400)
	for i := range 3000 {
		msgs = append(msgs, fmt.Appendf(nil, `{"type":"track","event":"e","userId":"u","messageId":"m%d","properties":{"p":%q}}`, i, pad))
	}
	for i, err := range s.Send(context.Background(), "wk", msgs) {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
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

// TestSegmentSenderSendsEachChunkAsOneRequest checks that analytics-go, which
// only sees the small envelopes, never splits what Chunk sized as one request
// (nor merges chunks): every request is exactly one chunk, full to its budget.
func TestSegmentSenderSendsEachChunkAsOneRequest(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s := testSender(t, srv.URL, nil)

	var msgs [][]byte
	var sizes []int
	pad := strings.Repeat("p", 2000)
	for i := range 700 {
		m := fmt.Appendf(nil, `{"type":"track","event":"e","userId":"u","messageId":"m%d","properties":{"p":%q}}`, i, pad)
		msgs = append(msgs, m)
		sizes = append(sizes, len(m))
	}
	chunks := Chunk(sizes)
	if len(chunks) != 3 {
		t.Fatalf("700 messages of ~2 KB make %d chunks, want 3", len(chunks))
	}
	for i, err := range s.Send(context.Background(), "wk", msgs) {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	reqs := api.requests()
	if len(reqs) != len(chunks) {
		t.Fatalf("%d requests for %d chunks", len(reqs), len(chunks))
	}
	got := map[int]int{}
	for _, r := range reqs {
		batch, _ := batchOf(t, r.body)
		got[len(batch)]++
		if len(r.body) > MaxRequestBytes {
			t.Fatalf("request of %d bytes", len(r.body))
		}
	}
	for _, c := range chunks {
		if got[len(c)] == 0 {
			t.Fatalf("no request carried a chunk of %d messages; requests by size: %v", len(c), got)
		}
		got[len(c)]--
	}
}
