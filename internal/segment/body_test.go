package segment

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The pooled body goes out with its length, not chunked, and byte for byte.
func TestRequestBodyIsSentWithItsLength(t *testing.T) {
	var mu sync.Mutex
	var lengths []int64
	var encodings [][]string
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		lengths = append(lengths, r.ContentLength)
		encodings = append(encodings, r.TransferEncoding)
		bodies = append(bodies, string(body))
		mu.Unlock()
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	defer srv.Close()
	s := testSender(t, srv.URL, nil)
	for round := range 3 {
		// Over the pool's least capacity, under it, and over it again: a
		// reused buffer must not carry the larger body's tail.
		raws := [][]byte{track(round, "a"), track(round, "b")}
		if round != 1 {
			raws = append(raws, padded("c", 30000), padded("d", 30000), padded("e", 30000))
		}
		mustAllAccepted(t, s.Send(context.Background(), messages("wk", raws)))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 3 {
		t.Fatalf("want 3 requests, got %d", len(bodies))
	}
	for i, b := range bodies {
		if lengths[i] != int64(len(b)) || len(encodings[i]) != 0 {
			t.Errorf("request %d: Content-Length %d, Transfer-Encoding %v, for a body of %d bytes", i, lengths[i], encodings[i], len(b))
		}
		got, _ := batchOf(t, []byte(b))
		want := 5
		if i == 1 {
			want = 2
		}
		if len(got) != want || string(got[0]) != string(track(i, "a")) {
			t.Errorf("request %d: batch of %d, first %s", i, len(got), got[0])
		}
	}
}

// lateReader is a transport that answers before it reads the body, as a
// RoundTripper may: the first request's body is kept and read only later.
type lateReader struct {
	mu   sync.Mutex
	kept io.ReadCloser
}

func (l *lateReader) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	if l.kept == nil {
		l.kept = req.Body
		l.mu.Unlock()
	} else {
		l.mu.Unlock()
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"success":true}`)), Request: req}, nil
}

// A body the transport has not closed is not reused by the next request,
// even though RoundTrip has returned.
func TestRequestBodyBufferIsReusedOnlyAfterClose(t *testing.T) {
	tr := &lateReader{}
	s := testSender(t, "http://127.0.0.1:1", func(c *Config) { c.Transport = tr })
	mustAllAccepted(t, s.Send(context.Background(), messages("wk", [][]byte{track(0, "first")})))
	for i := range 5 {
		mustAllAccepted(t, s.Send(context.Background(), messages("wk", [][]byte{track(i, "later-request-overwriting-the-buffer")})))
	}
	tr.mu.Lock()
	kept := tr.kept
	tr.mu.Unlock()
	body, err := io.ReadAll(kept)
	if err != nil {
		t.Fatal(err)
	}
	_ = kept.Close()
	got, _ := batchOf(t, body)
	if len(got) != 1 || string(got[0]) != string(track(0, "first")) {
		t.Fatalf("the first request's body changed before its transport closed it:\n%s", body)
	}
	if _, err := kept.Read(make([]byte, 1)); err == nil {
		t.Fatal("a closed body can still be read")
	}
	_ = kept.Close() // a second Close is harmless
}
