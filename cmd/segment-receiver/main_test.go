package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey is long and distinctive, so that any of its forms in the output
// is a leak, not a coincidence.
const testKey = "sk_live_Receiver+Key/Test=2026"

// syncBuffer collects the command's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the command with args on 127.0.0.1 until the test ends and
// returns its URL and outputs.
func start(t *testing.T, args ...string) (base string, stdout, stderr *syncBuffer) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-address", "127.0.0.1:0"}, args...), stdout, stderr, func(u string) { urls <- u })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatalf("run ended before listening: %v\n%s", err, stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	return base, stdout, stderr
}

// post sends one batch of one track call, the way analytics-go does (the
// key as Basic-auth user), with the key also in the body as the Tracking
// API allows.
func post(t *testing.T, base, key, id string) (*http.Response, error) {
	t.Helper()
	body := `{"writeKey":"` + key + `","batch":[{"type":"track","event":"Email Sent","userId":"u-1","messageId":"` + id + `","timestamp":"2026-11-28T13:00:00Z","properties":{"note":"` + key + `"}}],"sentAt":"2026-11-28T13:00:01Z"}`
	req, err := http.NewRequest(http.MethodPost, base+"/v1/batch", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(key, "")
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func status(t *testing.T, base, key, id string) int {
	t.Helper()
	resp, err := post(t, base, key, id)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	return resp.StatusCode
}

// leaks returns the forms of key found in out.
func leaks(out, key string) []string {
	var found []string
	for _, f := range []string{
		key,
		base64.StdEncoding.EncodeToString([]byte(key + ":")),
		base64.StdEncoding.EncodeToString([]byte(key)),
		base64.RawStdEncoding.EncodeToString([]byte(key)),
		url.QueryEscape(key),
		url.PathEscape(key),
	} {
		if strings.Contains(out, f) {
			found = append(found, f)
		}
	}
	return found
}

// TestPrintNeverShowsTheKey: the request log, -print and GET /received name
// the key by fingerprint only, whether it was given with -write-key or only
// arrived with a request, in Basic auth and in the body.
func TestPrintNeverShowsTheKey(t *testing.T) {
	for _, args := range [][]string{{"-print", "-write-key", testKey}, {"-print"}} {
		base, stdout, stderr := start(t, args...)
		if got := status(t, base, testKey, "m-1"); got != http.StatusOK {
			t.Fatalf("%v: status %d\n%s", args, got, stderr)
		}
		resp, err := http.Get(base + "/received")
		if err != nil {
			t.Fatal(err)
		}
		received, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// The -print line is written before the answer; wait for it anyway.
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stdout.String(), "m-1") && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		fp := fingerprint(testKey)
		for name, out := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "/received": string(received)} {
			if l := leaks(out, testKey); len(l) > 0 {
				t.Errorf("%v: %s shows the key as %q:\n%s", args, name, l, out)
			}
			if !strings.Contains(out, fp) && name != "stderr" || name == "stderr" && !strings.Contains(out, "key="+fp) {
				t.Errorf("%v: %s does not name the key by %s:\n%s", args, name, fp, out)
			}
		}
		for _, want := range []string{`"messageId":"m-1"`, `"event":"Email Sent"`, `"note":"<write key>"`} {
			if !strings.Contains(stdout.String(), want) || !strings.Contains(string(received), want) {
				t.Errorf("%v: the message lacks %s:\nstdout %s\n/received %s", args, want, stdout, received)
			}
		}
	}
}

// TestFailCountAndRetryAfter: the first -fail-count requests get the status
// with Retry-After, the next one is accepted.
func TestFailCountAndRetryAfter(t *testing.T) {
	base, _, stderr := start(t, "-fail-status", "429", "-retry-after", "7", "-fail-count", "2")
	for i := range 2 {
		resp, err := post(t, base, testKey, "m")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
			t.Fatalf("request %d: %d Retry-After %q", i+1, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if got := status(t, base, testKey, "m"); got != http.StatusOK {
		t.Fatalf("after the faults: %d", got)
	}
	if !strings.Contains(stderr.String(), "fault: answer 429 with Retry-After: 7 for the first 2 API requests") {
		t.Errorf("the fault is not logged:\n%s", stderr)
	}
}

// TestFailForWindow: -fail-for fails every request in its window, then the
// receiver accepts again.
func TestFailForWindow(t *testing.T) {
	base, _, _ := start(t, "-fail-status", "503", "-fail-for", "500ms")
	for range 3 {
		if got := status(t, base, testKey, "m"); got != http.StatusServiceUnavailable {
			t.Fatalf("inside the window: %d", got)
		}
	}
	time.Sleep(600 * time.Millisecond)
	if got := status(t, base, testKey, "m"); got != http.StatusOK {
		t.Fatalf("after the window: %d", got)
	}
}

// TestFailStatusAlone: without a limit the fault stays.
func TestFailStatusAlone(t *testing.T) {
	base, _, _ := start(t, "-fail-status", "500")
	for range 3 {
		if got := status(t, base, testKey, "m"); got != http.StatusInternalServerError {
			t.Fatalf("got %d, want 500 every time", got)
		}
	}
}

// TestDelay: -delay alone slows every request down and then accepts it.
func TestDelay(t *testing.T) {
	base, _, _ := start(t, "-delay", "200ms")
	for range 2 {
		began := time.Now()
		if got := status(t, base, testKey, "m"); got != http.StatusOK {
			t.Fatalf("status %d", got)
		}
		if took := time.Since(began); took < 200*time.Millisecond {
			t.Fatalf("answered in %v, want at least 200ms", took)
		}
	}
}

// TestDropConnection: the first request's connection is closed without an
// answer, the next one is accepted.
func TestDropConnection(t *testing.T) {
	base, _, _ := start(t, "-drop-connection", "-fail-count", "1")
	if resp, err := post(t, base, testKey, "m"); err == nil {
		t.Fatalf("the first request got an answer: %d", resp.StatusCode)
	}
	if got := status(t, base, testKey, "m"); got != http.StatusOK {
		t.Fatalf("after the drop: %d", got)
	}
}

// TestRejectKeysFor: 401 to a valid key during the window, then accepted.
func TestRejectKeysFor(t *testing.T) {
	base, _, _ := start(t, "-write-key", testKey, "-reject-keys-for", "500ms")
	if got := status(t, base, testKey, "m"); got != http.StatusUnauthorized {
		t.Fatalf("inside the window: %d", got)
	}
	time.Sleep(600 * time.Millisecond)
	if got := status(t, base, testKey, "m"); got != http.StatusOK {
		t.Fatalf("after the window: %d", got)
	}
}

// TestFlagErrors: contradictory or incomplete fault flags are refused
// before listening, and -help documents every flag.
func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-retry-after", "5"},
		{"-fail-for", "10s"},
		{"-fail-count", "2"},
		{"-fail-status", "503", "-fail-for", "1s", "-fail-count", "1"},
		{"-fail-status", "503", "-drop-connection"},
		{"-fail-status", "42"},
		{"stray"},
	} {
		var stderr bytes.Buffer
		if err := run(context.Background(), append([]string{"-address", "127.0.0.1:0"}, args...), io.Discard, &stderr, nil); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	var help bytes.Buffer
	_ = run(context.Background(), []string{"-help"}, io.Discard, &help, nil)
	for _, flag := range []string{"-fail-status", "-fail-for", "-fail-count", "-retry-after", "-delay", "-drop-connection", "-reject-keys-for", "-print", "-write-key"} {
		if !strings.Contains(help.String(), flag) {
			t.Errorf("-help does not document %s", flag)
		}
	}
}
