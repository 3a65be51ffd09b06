package segmenttest

import (
	"bytes"
	"compress/gzip"
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

// client is shared by the tests; its timeout is a safety net, not an
// assertion.
var client = &http.Client{Timeout: 10 * time.Second}

const testSentAt = "2026-01-02T03:04:05.678Z"

func startReceiver(t *testing.T, cfg Config) *Receiver {
	t.Helper()
	rc, err := Start("", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

type reply struct {
	status int
	body   string
	header http.Header
}

// post sends body to url+path with key as Basic-auth user; extra holds
// header name/value pairs.
func post(c *http.Client, url, path, key string, body []byte, extra ...string) (reply, error) {
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: string(b), header: resp.Header}, err
}

func mustPost(t *testing.T, url, path, key string, body []byte, extra ...string) reply {
	t.Helper()
	r, err := post(client, url, path, key, body, extra...)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return r
}

// batchOf builds a /v1/batch body with one small track per id.
func batchOf(ids ...string) []byte {
	msgs := make([]map[string]any, len(ids))
	for i, id := range ids {
		msgs[i] = map[string]any{
			"type": "track", "messageId": id, "event": "Purchase", "userId": "u-" + id,
			"timestamp": "2026-01-02T03:00:00Z", "properties": map[string]any{"n": i},
		}
	}
	b, _ := json.Marshal(map[string]any{"batch": msgs, "sentAt": testSentAt})
	return b
}

func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.body)
	}
}

func TestAcceptsBatchAndDecodesCommonFields(t *testing.T) {
	rc := startReceiver(t, Config{WriteKeys: []string{"wk"}})
	if !strings.HasPrefix(rc.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %q is not a loopback origin", rc.URL())
	}
	before := time.Now()
	r := mustPost(t, rc.URL(), "/v1/batch", "wk", batchOf("a", "b"))
	wantStatus(t, r, http.StatusOK)
	if strings.TrimSpace(r.body) != `{"success":true}` {
		t.Fatalf("body %s", r.body)
	}
	msgs := rc.Messages()
	if len(msgs) != 2 || rc.Count() != 2 {
		t.Fatalf("got %d messages, Count %d", len(msgs), rc.Count())
	}
	m := msgs[0]
	if m.ID != "a" || m.Type != "track" || m.Event != "Purchase" || m.UserID != "u-a" ||
		m.Timestamp != "2026-01-02T03:00:00Z" || m.SentAt != testSentAt || m.WriteKey != "wk" {
		t.Fatalf("decoded %+v", m)
	}
	if m.Received.Before(before.Add(-time.Second)) || !json.Valid(m.Raw) {
		t.Fatalf("Received %v, Raw %s", m.Received, m.Raw)
	}
}

func TestTrackEndpointAndTrailingSlash(t *testing.T) {
	rc := startReceiver(t, Config{})
	wantStatus(t, mustPost(t, rc.URL(), "/v1/track", "k",
		[]byte(` {"messageId":"t1","event":"E","anonymousId":42,"sentAt":"`+testSentAt+`"} `)), http.StatusOK)
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch/", "k", batchOf("b1")), http.StatusOK)
	msgs := rc.Messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if m := msgs[0]; m.Type != "track" || m.AnonymousID != "42" || m.SentAt != testSentAt {
		t.Fatalf("track decoded as %+v", m)
	}
}

func TestRoutingAndMethods(t *testing.T) {
	rc := startReceiver(t, Config{})
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch/v1/batch", "k", batchOf("a")), http.StatusNotFound)
	wantStatus(t, mustPost(t, rc.URL(), "/v1/identify", "k", batchOf("a")), http.StatusNotFound)

	resp, err := client.Get(rc.URL() + "/v1/batch")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Fatalf("GET /v1/batch: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if rc.Count() != 0 {
		t.Fatalf("Count %d after refused requests", rc.Count())
	}
	if n := len(rc.Requests()); n != 3 {
		t.Fatalf("%d requests recorded, want 3 (404s and 405 included)", n)
	}
}

func TestAuth(t *testing.T) {
	t.Run("configured keys", func(t *testing.T) {
		rc := startReceiver(t, Config{WriteKeys: []string{"k1", "k2"}})
		for _, key := range []string{"", "other"} {
			r := mustPost(t, rc.URL(), "/v1/batch", key, batchOf("a"))
			wantStatus(t, r, http.StatusUnauthorized)
			var e struct{ Error string }
			if json.Unmarshal([]byte(r.body), &e) != nil || e.Error == "" {
				t.Fatalf("401 body %q has no error", r.body)
			}
		}
		wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k2", batchOf("a")), http.StatusOK)
		if rc.Count() != 1 {
			t.Fatalf("Count %d, want 1", rc.Count())
		}
	})
	t.Run("any non-empty key", func(t *testing.T) {
		rc := startReceiver(t, Config{})
		wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "", batchOf("a")), http.StatusUnauthorized)
		wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "whatever", batchOf("a")), http.StatusOK)
	})
}

func TestDedupeByMessageID(t *testing.T) {
	rc := startReceiver(t, Config{})
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a", "b", "a")), http.StatusOK)
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k2", batchOf("b", "c")), http.StatusOK)
	// Messages without a messageId cannot be deduplicated and are all kept.
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", []byte(`{"batch":[{"type":"track"},{"type":"track"}]}`)), http.StatusOK)

	if got := fmt.Sprint(rc.MessageIDs()); got != "[a b c  ]" {
		t.Fatalf("MessageIDs %s", got)
	}
	if rc.Count() != 5 || rc.Duplicates() != 2 {
		t.Fatalf("Count %d Duplicates %d, want 5 and 2", rc.Count(), rc.Duplicates())
	}
	if m := rc.Messages()[1]; m.WriteKey != "k" {
		t.Fatalf("duplicate replaced the first copy: %+v", m)
	}
	reqs := rc.Requests()
	if reqs[0].Accepted != 2 || reqs[0].Duplicates != 1 || reqs[1].Accepted != 1 || reqs[1].Duplicates != 1 {
		t.Fatalf("per-request counts %+v / %+v", reqs[0], reqs[1])
	}
}

func TestGzipBodies(t *testing.T) {
	rc := startReceiver(t, Config{})
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", gz(batchOf("z1", "z2")), "Content-Encoding", "gzip"), http.StatusOK)
	if got := fmt.Sprint(rc.MessageIDs()); got != "[z1 z2]" {
		t.Fatalf("MessageIDs %s", got)
	}
	if body := rc.Requests()[0].Body; !json.Valid(body) {
		t.Fatalf("recorded body is not the decoded JSON: %q", body)
	}
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", []byte("not gzip"), "Content-Encoding", "gzip"), http.StatusBadRequest)
	// The body limit applies to the decoded bytes: this compresses to a few KB.
	big := []byte(`{"batch":[],"pad":"` + strings.Repeat("x", MaxBatchBytes) + `"}`)
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", gz(big), "Content-Encoding", "gzip"), http.StatusBadRequest)
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a"), "Content-Encoding", "br"), http.StatusBadRequest)
	if rc.Count() != 2 {
		t.Fatalf("Count %d, want 2", rc.Count())
	}
}

func TestRequestsAreBoundedAndHideCredentials(t *testing.T) {
	rc := startReceiver(t, Config{MaxRecordedRequests: 3})
	for i := range 5 {
		wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "secret", batchOf(fmt.Sprint(i))), http.StatusOK)
	}
	reqs := rc.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests kept, want 3", len(reqs))
	}
	for i, r := range reqs {
		if want := batchOf(fmt.Sprint(i + 2)); !bytes.Equal(r.Body, want) {
			t.Fatalf("request %d body %s, want %s", i, r.Body, want)
		}
		if r.Header.Get("Authorization") != "" || r.WriteKey != "secret" || r.Status != http.StatusOK {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	if rc.Count() != 5 {
		t.Fatalf("Count %d: dropping old requests must not drop messages", rc.Count())
	}
}

func TestCountOnly(t *testing.T) {
	rc := startReceiver(t, Config{CountOnly: true})
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a", "b", "a")), http.StatusOK)
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("b", "c")), http.StatusOK)
	if rc.Count() != 3 || rc.Duplicates() != 2 || len(rc.Messages()) != 0 {
		t.Fatalf("Count %d Duplicates %d Messages %d", rc.Count(), rc.Duplicates(), len(rc.Messages()))
	}
	if reqs := rc.Requests(); len(reqs) != 2 || reqs[0].Body != nil {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestWaitForCountAndReset(t *testing.T) {
	rc := startReceiver(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := rc.WaitForCount(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForCount on an empty receiver: %v", err)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- rc.WaitForCount(ctx, 3)
	}()
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a", "b")), http.StatusOK)
	wantStatus(t, mustPost(t, rc.URL(), "/v1/track", "k", []byte(`{"messageId":"c"}`)), http.StatusOK)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	rc.SetFault(Fault{Status: 500})
	rc.Reset()
	if rc.Count() != 0 || rc.Duplicates() != 0 || len(rc.Requests()) != 0 || len(rc.Messages()) != 0 {
		t.Fatal("Reset left data behind")
	}
	// Reset also clears faults, and a message seen before counts as new.
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a")), http.StatusOK)
	if rc.Count() != 1 {
		t.Fatalf("Count %d after Reset", rc.Count())
	}
}

func TestInspectionEndpoints(t *testing.T) {
	rc := startReceiver(t, Config{})
	wantStatus(t, mustPost(t, rc.URL(), "/v1/batch", "k", batchOf("a", "a")), http.StatusOK)

	resp, err := client.Get(rc.URL() + "/received")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Count, Duplicates int
		Messages          []struct {
			MessageID string          `json:"messageId"`
			Raw       json.RawMessage `json:"raw"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Count != 1 || got.Duplicates != 1 || len(got.Messages) != 1 || got.Messages[0].MessageID != "a" || len(got.Messages[0].Raw) == 0 {
		t.Fatalf("/received: %+v", got)
	}

	resp, err = client.Get(rc.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("%d requests recorded, inspection must not be", n)
	}
}

func TestNewServesAsHandlerAndCallsHooks(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var statuses []int
	rc := New(Config{
		OnMessage: func(m Message) { mu.Lock(); seen = append(seen, m.ID); mu.Unlock() },
		OnRequest: func(r Request) { mu.Lock(); statuses = append(statuses, r.Status); mu.Unlock() },
	})
	if rc.URL() != "" || rc.Close() != nil {
		t.Fatal("a Receiver from New has no URL and nothing to close")
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	wantStatus(t, mustPost(t, srv.URL, "/v1/batch", "k", batchOf("h1", "h1", "h2")), http.StatusOK)
	wantStatus(t, mustPost(t, srv.URL, "/v1/batch", "", batchOf("h3")), http.StatusUnauthorized)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[h1 h2]" || fmt.Sprint(statuses) != "[200 401]" {
		t.Fatalf("OnMessage saw %v, OnRequest saw %v", seen, statuses)
	}
}

func TestConcurrentClientsAndFaults(t *testing.T) {
	rc := startReceiver(t, Config{MaxRecordedRequests: 50})
	const requests, faults = 200, 10
	rc.QueueFaults(func() []Fault {
		f := make([]Fault, faults)
		for i := range f {
			f[i] = Fault{Status: http.StatusServiceUnavailable}
		}
		return f
	}()...)

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := post(client, rc.URL(), "/v1/batch", "k", batchOf(fmt.Sprint("m", i), "shared"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++
				return
			}
			statuses[r.status]++
		}()
	}
	// Readers and fault changes run while the requests are served.
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = rc.Messages()
			_ = rc.Requests()
			_ = rc.Count()
			rc.AddRule(RejectMessageID("never-sent", 400))
			rc.RejectKeysUntil(time.Time{})
		}()
	}
	wg.Wait()

	ok := statuses[http.StatusOK]
	if ok != requests-faults || statuses[http.StatusServiceUnavailable] != faults {
		t.Fatalf("statuses %v", statuses)
	}
	if rc.Count() != ok+1 || rc.Duplicates() != ok-1 || len(rc.Messages()) != ok+1 {
		t.Fatalf("Count %d Duplicates %d Messages %d for %d accepted requests",
			rc.Count(), rc.Duplicates(), len(rc.Messages()), ok)
	}
	if n := len(rc.Requests()); n != 50 {
		t.Fatalf("%d requests kept, want 50", n)
	}
}
