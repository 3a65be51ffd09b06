package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// secretForms are the forms of a secret that must appear nowhere: as is, as
// HTTP Basic auth sends it, base64 and URL-encoded, and runs of it cut short.
func secretForms(secret string) map[string]string {
	basic := base64.StdEncoding.EncodeToString([]byte(secret + ":"))
	return map[string]string{
		"plain":            secret,
		"basic auth":       basic,
		"basic auth start": basic[:12],
		"base64":           base64.StdEncoding.EncodeToString([]byte(secret)),
		"url-encoded":      url.QueryEscape(secret),
		"first 16":         secret[:16],
		"last 12":          secret[len(secret)-12:],
	}
}

// checkNoSecret fails the test when any form of any secret appears in text.
func checkNoSecret(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for form, v := range secretForms(s) {
			if i := strings.Index(text, v); i >= 0 {
				lo, hi := max(i-100, 0), min(i+len(v)+40, len(text))
				t.Errorf("%s holds the secret (%s form) at byte %d: %q", where, form, i, text[lo:hi])
			}
		}
	}
}

// hostileSegment is a Segment stand-in that echoes the Authorization header
// and the write key in its error answers: 503s first, then 401s, then 400
// for requests with a poison message, then 200. Its answers are what a
// careless proxy or receiver might send.
type hostileSegment struct {
	mu       sync.Mutex
	requests int
	accepted int
}

func (h *hostileSegment) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key, _, _ := r.BasicAuth()
	auth := r.Header.Get("Authorization")
	h.mu.Lock()
	h.requests++
	n := h.requests
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case n <= 3:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"error":"down","seen_authorization":%q,"url":"https://api.example/v1/batch?writeKey=%s"}`, auth, url.QueryEscape(key))
	case n <= 6:
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid write key %s (%s)"}`, key, auth)
	case strings.Contains(string(body), `"poison`):
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"bad message from %s, key starts %s"}`, auth, key[:16])
	default:
		h.mu.Lock()
		h.accepted += strings.Count(string(body), `"messageId"`)
		h.mu.Unlock()
		fmt.Fprint(w, `{"success":true}`)
	}
}

// TestSecretsNeverLeak runs the Braze pipeline at TRACE level, with debug
// endpoints and the Prometheus exporter, through 503s, 401s, a refused
// message that goes to the dead letter and a request with a wrong token,
// against a stand-in that echoes the key in every form; then config errors
// and echo. No form of the write key or the bearer token may appear in any
// log line, dead letter, metric, debug endpoint or error.
func TestSecretsNeverLeak(t *testing.T) {
	const key = "wk_live_Q8xZ2vN7pL4mK9sR3tY6uW1e"
	const token = "braze_tok_Fh3Jk8Lm2Np5Qr7St9Vw4Xy"
	stand := &hostileSegment{}
	srv := httptest.NewServer(stand)
	defer srv.Close()

	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.jsonl")
	conf := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(conf, []byte(`
http:
  address: ${HTTP_ADDRESS}
  debug_endpoints: true
input:
  braze_currents:
    address: 127.0.0.1:0
    path: /currents
    bearer_token: ${BRAZE_CURRENTS_TOKEN}
pipeline:
  processors:
    - currents_to_segment: {}
output:
  switch:
    cases:
      - check: errored()
        output: { resource: dead_letter }
      - output:
          fallback:
            - segment:
                write_key: ${SEGMENT_WRITE_KEY}
                endpoint: `+srv.URL+`
                backoff: { initial_interval: 20ms, max_interval: 100ms }
                batching: { count: 50, period: 50ms }
            - switch:
                cases:
                  - check: '@fallback_error.or("").contains("request refused permanently") || @fallback_error.or("").contains("invalid Segment track")'
                    output:
                      resource: dead_letter
                      processors:
                        - mapping: 'root = {"reason": @fallback_error, "call": this, "meta": @}'
                  - output: { reject: '${! @fallback_error }' }
output_resources:
  - label: dead_letter
    file: { path: `+dead+`, codec: lines }
metrics:
  prometheus: {}
logger:
  level: TRACE
  format: logfmt
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Benthos logs the configured address of its server, not the one bound:
	// startBrazePipeline finds the port it bound.
	env := append(withoutSecrets(), "SEGMENT_WRITE_KEY="+key, "BRAZE_CURRENTS_TOKEN="+token, "HTTP_ADDRESS=127.0.0.1:0")
	p := startBrazePipeline(t, dir, conf, env)
	api := "http://" + p.api
	input := "http://" + p.input + "/currents"

	event := func(id string) string {
		return fmt.Sprintf(`{"event_type":"users.messages.email.Open","id":%q,"time":1764334800,"user":{"user_id":"u","external_user_id":"x"},"properties":{"email_address":"a@example.com"}}`, id)
	}
	var events []string
	for i := range 20 {
		events = append(events, event(fmt.Sprintf("ev-%02d", i)))
	}
	events = append(events, event("poison-1"))
	postLikeBraze(t, input, token, []byte(`{"events":[`+strings.Join(events, ",")+`]}`))
	// A wrong token: answered 401, and neither token may be echoed.
	req, _ := http.NewRequest(http.MethodPost, input, strings.NewReader(`{"events":[]}`))
	req.Header.Set("Authorization", "Bearer "+token[:len(token)-1]+"X")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkNoSecret(t, "the 401 answer", string(b), token)
	}

	var scraped strings.Builder
	for _, path := range []string{"/metrics", "/debug/config/json", "/debug/config/yaml", "/debug/stack", "/ready"} {
		resp, err := http.Get(api + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&scraped, "== %s\n%s\n", path, b)
	}
	if !strings.Contains(scraped.String(), "segment_messages_accepted") {
		t.Fatalf("/metrics was not scraped:\n%s", tail(scraped.String(), 2000))
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("the binary did not stop")
	}
	logs := p.logs.String()
	deadLetters, _ := os.ReadFile(dead)
	if !strings.Contains(string(deadLetters), "poison-1") || stand.accepted < 20 {
		t.Fatalf("the run did not go through its cases: %d accepted, dead letters %s\n%s", stand.accepted, deadLetters, tail(logs, 3000))
	}
	if !strings.Contains(logs, "level=trace") || !strings.Contains(logs, "level=debug") {
		t.Fatal("the run did not log at TRACE and DEBUG")
	}
	for _, want := range []string{"503 Service Unavailable", "rejected with 401", "refused 1 messages", "with 401: "} {
		if !strings.Contains(logs, want) {
			t.Errorf("the run never logged %q: the case it stands for was not exercised", want)
		}
	}
	checkNoSecret(t, "the TRACE log", logs, key, token)
	checkNoSecret(t, "the dead letter", string(deadLetters), key, token)
	checkNoSecret(t, "the metrics and debug endpoints", scraped.String(), key, token)

	// Configuration errors and echo.
	for _, c := range []struct {
		name, yaml string
		lintable   bool
	}{
		{"key in the endpoint query", "output:\n  segment:\n    write_key: ${SEGMENT_WRITE_KEY}\n    endpoint: https://api.segment.io/v1/batch?writeKey=${SEGMENT_WRITE_KEY}\n", true},
		{"key as URL credentials", "output:\n  segment:\n    write_key: ${SEGMENT_WRITE_KEY}\n    endpoint: https://${SEGMENT_WRITE_KEY}:@api.segment.io\n", true},
		{"key in a broken URL", "output:\n  segment:\n    write_key: ${SEGMENT_WRITE_KEY}\n    endpoint: \"https://api.segment.io/%zz${SEGMENT_WRITE_KEY}\"\n", false},
	} {
		path := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(path, []byte("input:\n  generate: { count: 1, mapping: 'root = {}' }\n"+c.yaml+"logger: { level: TRACE }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"run", path}, {"lint", path}} {
			cmd := exec.Command(binary, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err == nil && (args[0] == "run" || c.lintable) {
				t.Errorf("%s: %s succeeded", c.name, args[0])
			}
			checkNoSecret(t, c.name+": "+args[0], string(out), key)
		}
	}
	// echo scrubs the secrets it is given as literals and through variables.
	path := filepath.Join(dir, "echo.yaml")
	if err := os.WriteFile(path, []byte("input:\n  braze_currents:\n    bearer_token: "+token+"\noutput:\n  segment:\n    write_key: "+key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "echo", path)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "segment:") {
		t.Fatalf("echo: %v\n%s", err, out)
	}
	checkNoSecret(t, "echo", string(out), key, token)
}
