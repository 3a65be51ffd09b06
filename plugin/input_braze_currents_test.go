package plugin

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
	"github.com/currents-segment/currents-segment/internal/testcert"
)

// The token every test pipeline is configured with; it must never appear in
// logs or errors.
const brazeTestToken = "brz-T0KEN-4c1d-never-log-me"

// ---------------------------------------------------------------- config

func TestBrazeCurrentsInputConfig(t *testing.T) {
	parse := func(yaml string) (*brazeCurrentsInput, error) {
		conf, err := brazeCurrentsInputSpec().ParseYAML(yaml, nil)
		if err != nil {
			return nil, err
		}
		return newBrazeCurrentsInputFromParsed(conf, service.MockResources())
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"no token", `address: 127.0.0.1:0`, "no bearer_token: set bearer_token to the token Braze's Currents connector sends, or set allow_unauthenticated: true"},
		{"empty token (unset env var)", `bearer_token: ""`, "an empty bearer_token counts as none: is its environment variable set?"},
		{"explicitly not unauthenticated", "allow_unauthenticated: false", "no bearer_token"},
		{"token and unauthenticated", "bearer_token: " + brazeTestToken + "\nallow_unauthenticated: true", "cannot be combined"},
		{"cert without key", "bearer_token: x\ncert_file: /nope.crt", "cert_file and key_file must be set together"},
		{"missing cert files", "bearer_token: x\ncert_file: /nope.crt\nkey_file: /nope.key", "loading cert_file and key_file"},
		{"empty cert file (a variable set to nothing)", "bearer_token: x\ncert_file: \"\"\nkey_file: /etc/tls/k.pem", "field cert_file is empty while the other TLS file is set (is its environment variable set?)"},
		{"empty key file (a variable set to nothing)", "bearer_token: x\ncert_file: /etc/tls/c.pem\nkey_file: \"\"", "field key_file is empty while the other TLS file is set"},
		{"readiness path", "bearer_token: x\npath: /ready", "readiness endpoint"},
		{"relative path", "bearer_token: x\npath: currents", "must start with /"},
		{"write timeout too short", "bearer_token: x\nack_timeout: 30s\nqueue_timeout: 5s\nwrite_timeout: 20s", "write_timeout (20s) must exceed queue_timeout + ack_timeout (35s)"},
		{"zero body limit", "bearer_token: x\nmax_body_bytes: 0", "max_body_bytes must be positive"},
		{"zero in flight", "bearer_token: x\nmax_in_flight_requests: 0", "max_in_flight_requests must be positive"},
		{"zero ack timeout", "bearer_token: x\nack_timeout: 0s", "ack_timeout must be a positive duration"},
		{"negative body limit", "bearer_token: x\nmax_body_bytes: -1", "max_body_bytes must be positive, got -1"},
		{"negative idle timeout", "bearer_token: x\nidle_timeout: -1s", "idle_timeout must be a positive duration, got -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), brazeTestToken) {
				t.Fatalf("the token leaks into the error: %v", err)
			}
		})
	}

	in, err := parse("bearer_token: " + brazeTestToken)
	if err != nil {
		t.Fatal(err)
	}
	if in.address != bciDefaultAddress || in.handler.Path() != "/" || in.handler.Unauthenticated() {
		t.Fatalf("defaults: %+v", in)
	}
	// The values reach brazehttp as written.
	if in, err = parse("bearer_token: x\nmax_in_flight_requests: 3\nmax_in_flight_events: 40\nmax_events_per_request: 20"); err != nil {
		t.Fatal(err)
	}
	if r, e, per := in.handler.Limits(); r != 3 || e != 40 || per != 20 {
		t.Fatalf("limits %d %d %d", r, e, per)
	}
	if in, err = parse("allow_unauthenticated: true\npath: /currents"); err != nil || !in.handler.Unauthenticated() || in.handler.Path() != "/currents" {
		t.Fatalf("allow_unauthenticated: %v", err)
	}

	// The field is a secret: echo and debug output scrub it.
	env := service.NewEnvironment()
	b := env.NewStreamBuilder()
	if err := b.SetYAML("input:\n  braze_currents:\n    bearer_token: " + brazeTestToken + "\noutput:\n  drop: {}\n"); err != nil {
		t.Fatal(err)
	}
	echoed, err := b.AsYAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(echoed, brazeTestToken) {
		t.Fatalf("echoed config shows the token:\n%s", echoed)
	}

	// Lint catches the same mistakes a YAML author makes.
	for yaml, want := range map[string]string{
		"input:\n  braze_currents:\n    bearer_token: x\n    cert_file: a.crt\noutput:\n  drop: {}\n":            "cert_file and key_file",
		"input:\n  braze_currents:\n    bearer_token: x\n    allow_unauthenticated: true\noutput:\n  drop: {}\n": "cannot be combined",
	} {
		err := env.NewStreamBuilder().SetYAML(yaml)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("lint of\n%s\n= %v, want %q", yaml, err, want)
		}
	}
}

// ---------------------------------------------------------------- behaviour

// The answer waits until every event of the request is acked downstream:
// two events are dropped (acked at once) by a switch case, the third is held
// by the gate; the client gets nothing until the gate releases it.
func TestBrazeCurrentsAnswersOnlyAfterEveryEventIsAcked(t *testing.T) {
	g := newBrazeGate()
	h := brazeStart(t, "", `
switch:
  cases:
    - check: '@currents_event_id != "held"'
      output:
        drop: {}
    - output:
        braze_gate: {}
`, brazeGateOutput(g))

	answer := h.postAsync(brazeEnvelopeOf("fast-1", "held", "fast-2"))
	held := g.next(t)
	if id := brazeMessageID(t, held); id != "held" {
		t.Fatalf("gate saw %s", id)
	}
	brazeNoAnswerYet(t, answer, "two of three events acked")
	if r, e := h.metrics.Get("braze_currents_requests_in_flight"), h.metrics.Get("braze_currents_events_in_flight"); r != 1 || e != 3 {
		t.Fatalf("in flight while held: %v requests, %v events", r, e)
	}

	// The metadata of the request travels with every derived message.
	reqID, _ := held.MetaGet(metaBrazeRequestID)
	remote, _ := held.MetaGet(metaBrazeRemoteAddr)
	version, _ := held.MetaGet(metaBrazeVersion)
	count, _ := held.MetaGetMut(metaBrazeEventCount)
	if len(reqID) != 36 || !strings.HasPrefix(remote, "127.0.0.1:") || version != "1" || count != int64(3) {
		t.Fatalf("metadata: id %q remote %q version %q count %v", reqID, remote, version, count)
	}

	g.Open()
	a := brazeAwaitAnswer(t, answer)
	if a.status != http.StatusOK || a.header.Get("X-Request-Id") != reqID {
		t.Fatalf("answer %s, X-Request-Id %q, want 200 and %q", a, a.header.Get("X-Request-Id"), reqID)
	}
	var body struct {
		Status string `json:"status"`
		Events int    `json:"events"`
	}
	if err := json.Unmarshal([]byte(a.body), &body); err != nil || body.Events != 3 {
		t.Fatalf("body %s", a.body)
	}
	if h.metrics.Get("braze_currents_requests", "200") != 1 || h.metrics.Get("braze_currents_events_received") != 3 ||
		h.metrics.Get("braze_currents_request_latency_ns") != 1 ||
		h.metrics.Get("braze_currents_requests_in_flight") != 0 || h.metrics.Get("braze_currents_events_in_flight") != 0 {
		t.Fatalf("metrics: %v", h.metrics.keys())
	}
	if !strings.Contains(h.logs.String(), "level=INFO") || !strings.Contains(h.logs.String(), h.url) {
		t.Fatal("the start must be logged at INFO with the URL")
	}
}

// A nacked message and a message not acked within ack_timeout both get a
// 503 with Retry-After, never a 2xx.
func TestBrazeCurrentsNackAndAckTimeoutAnswer503(t *testing.T) {
	g := newBrazeGate()
	h := brazeStart(t, "ack_timeout: 500ms\nretry_after: 7s", "braze_gate: {}", brazeGateOutput(g))
	defer g.Open()

	answer := h.postAsync(brazeEnvelopeOf("n-1"))
	g.next(t)
	g.verdict <- fmt.Errorf("downstream is down")
	a := brazeAwaitAnswer(t, answer)
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") != "7" || !strings.Contains(a.body, "downstream is down") {
		t.Fatalf("nack: %s (Retry-After %q)", a, a.header.Get("Retry-After"))
	}

	answer = h.postAsync(brazeEnvelopeOf("t-1"))
	g.next(t) // held, never released
	a = brazeAwaitAnswer(t, answer)
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") != "7" || !strings.Contains(a.body, "not delivered within 500ms") {
		t.Fatalf("ack timeout: %s", a)
	}
	if h.metrics.Get("braze_currents_requests", "503") != 2 {
		t.Fatalf("metrics: %v", h.metrics.keys())
	}
	if !strings.Contains(h.logs.String(), "level=WARN") {
		t.Fatal("an undelivered request must be logged at WARN")
	}
}

// A malformed event inside a good envelope does not fail the request: the
// good events are delivered, the bad one reaches the dead-letter branch, and
// Braze gets 200 once both are acked.
func TestBrazeCurrentsMalformedEventGoesToDeadLetter(t *testing.T) {
	good, dead := &brazeCollect{}, &brazeCollect{}
	h := brazeStart(t, "", `
switch:
  cases:
    - check: errored()
      output:
        braze_dead: {}
    - output:
        braze_good: {}
`, func(env *service.Environment) {
		for name, c := range map[string]*brazeCollect{"braze_good": good, "braze_dead": dead} {
			_ = env.RegisterOutput(name, service.NewConfigSpec(),
				func(*service.ParsedConfig, *service.Resources) (service.Output, int, error) { return c, 1, nil })
		}
	})
	bad := `{"event_type":"users.messages.email.Send","id":"bad-1","time":"later","user":{"user_id":"u","external_user_id":"e"}}`
	// gzip'd as Braze sends it: the message is the decoded envelope.
	a := h.post(brazeTestToken, brazeEnvelope(brazeEvent("ok-1"), bad, `"not an event"`, brazeEvent("ok-2")), true)
	if a.status != http.StatusOK {
		t.Fatalf("answer %s", a)
	}
	var goodIDs []string
	for _, m := range good.all() {
		goodIDs = append(goodIDs, brazeMessageID(t, m))
	}
	if strings.Join(goodIDs, ",") != "ok-1,ok-2" {
		t.Fatalf("delivered %v, want ok-1,ok-2 in order", goodIDs)
	}
	deadMsgs := dead.all()
	if len(deadMsgs) != 2 {
		t.Fatalf("%d dead letters, want 2", len(deadMsgs))
	}
	raw, _ := deadMsgs[0].AsBytes()
	if string(raw) != bad || deadMsgs[0].GetError() == nil || !strings.Contains(deadMsgs[0].GetError().Error(), `field "time"`) {
		t.Fatalf("dead letter %s: %v", raw, deadMsgs[0].GetError())
	}
	if id, _ := deadMsgs[0].MetaGet(metaBrazeRequestID); id != a.header.Get("X-Request-Id") {
		t.Fatal("the dead letter must carry the request id")
	}
}

// Downstream failing: the segment output against a receiver in a 503 outage
// nacks, so Braze gets 503; Braze's retry after the outage is delivered,
// once per messageId. A delivery slower than ack_timeout is answered 503
// too, and its retry is deduplicated by the receiver.
func TestBrazeCurrentsDownstreamFailureRetryDeliversOncePerMessageID(t *testing.T) {
	rc, err := segmenttest.Start("127.0.0.1:0", segmenttest.Config{WriteKeys: []string{"seg-key"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	h := brazeStart(t, "ack_timeout: 2s", `
segment:
  write_key: seg-key
  endpoint: `+rc.URL()+`
  max_retry_duration: 300ms
  timeout: 5s
  backoff: { initial_interval: 20ms, max_interval: 50ms }
  batching: { count: 100, period: 20ms }
`, nil)

	body := brazeEnvelopeOf("d-1", "d-2", "d-3")
	rc.SetFault(segmenttest.Fault{Status: 503})
	a := h.post(brazeTestToken, body, true)
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("during the outage: %s", a)
	}
	if rc.Count() != 0 {
		t.Fatalf("receiver accepted %d during the outage", rc.Count())
	}
	rc.ClearFault()
	if a := h.post(brazeTestToken, body, true); a.status != http.StatusOK {
		t.Fatalf("retry after the outage: %s", a)
	}
	if got := strings.Join(rc.MessageIDs(), ","); got != "d-1,d-2,d-3" {
		t.Fatalf("receiver has %s", got)
	}

	// Slower than ack_timeout: 503, but the first attempt lands later; the
	// retry is answered 200 and the receiver keeps one copy of each.
	body = brazeEnvelopeOf("s-1", "s-2")
	rc.QueueFaults(segmenttest.Fault{Delay: 3 * time.Second})
	if a := h.post(brazeTestToken, body, false); a.status != http.StatusServiceUnavailable {
		t.Fatalf("slow delivery: %s", a)
	}
	if a := h.post(brazeTestToken, body, false); a.status != http.StatusOK {
		t.Fatalf("retry of the slow delivery: %s", a)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := rc.WaitForCount(ctx, 5); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, id := range rc.MessageIDs() {
		seen[id]++
	}
	if len(seen) != 5 || len(rc.MessageIDs()) != 5 {
		t.Fatalf("receiver has %v", rc.MessageIDs())
	}
}

// Backpressure from Benthos itself: when the pipeline stops taking
// messages (its output saturated), a request gets 503 with Retry-After after
// queue_timeout. (The in-flight limits' 429s are brazehttp's tests.)
func TestBrazeCurrentsBackpressure(t *testing.T) {
	t.Run("pipeline saturated", func(t *testing.T) {
		g := newBrazeGate()
		h := brazeStart(t, "queue_timeout: 200ms\nretry_after: 3s", "braze_gate: {}", brazeGateOutputN(g, 1))
		// The gate holds one message and Benthos a few more in its channels;
		// of 20 requests at once, the rest wait for the pipeline in vain.
		answers := make(chan brazeAnswer, 20)
		for i := range 20 {
			go func() { answers <- h.post(brazeTestToken, brazeEnvelopeOf(fmt.Sprintf("q-%d", i)), false) }()
		}
		first := brazeAwaitAnswer(t, answers)
		refused := func(a brazeAnswer) bool {
			return a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") == "3" &&
				strings.Contains(a.body, "did not take the request within 200ms")
		}
		if !refused(first) {
			t.Fatalf("first answer while saturated: %s", first)
		}
		g.Open()
		delivered, refusedN := 0, 1
		for range 19 {
			switch a := brazeAwaitAnswer(t, answers); {
			case a.status == http.StatusOK:
				delivered++
			case refused(a):
				refusedN++
			default:
				t.Fatalf("answer %s", a)
			}
		}
		if delivered == 0 || refusedN+delivered != 20 {
			t.Fatalf("%d delivered, %d refused", delivered, refusedN)
		}
		if got := h.metrics.Get("braze_currents_events_received"); got != float64(delivered) {
			t.Fatalf("events received %v, want %d (refused requests are not received)", got, delivered)
		}
	})
}

// Shutdown: readiness turns 503, new requests get 503, and a request whose
// events were not delivered gets 503, never a 2xx.
func TestBrazeCurrentsShutdownNeverAnswers2xxForUndelivered(t *testing.T) {
	g := newBrazeGate()
	h := brazeStart(t, "", "braze_gate: {}", brazeGateOutput(g))
	answer := h.postAsync(brazeEnvelopeOf("sd-1"))
	g.next(t) // held until the engine gives up on the output

	stopped := make(chan struct{})
	go func() { h.stop(2 * time.Second); close(stopped) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(h.origin + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				break
			}
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("readiness never turned 503 while draining (%v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if a := h.post(brazeTestToken, brazeEnvelopeOf("sd-2"), false); a.err == nil && a.status != http.StatusServiceUnavailable {
		t.Fatalf("new request while draining: %s", a)
	}
	a := brazeAwaitAnswer(t, answer)
	if a.err == nil && a.status/100 == 2 {
		t.Fatalf("an undelivered request was answered %s", a)
	}
	if a.err == nil && (a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "") {
		t.Fatalf("undelivered request at shutdown: %s", a)
	}
	<-stopped
	if _, err := http.Get(h.origin + "/ready"); err == nil {
		t.Fatal("the server still listens after the stream stopped")
	}
	if strings.Contains(h.logs.String(), brazeTestToken) {
		t.Fatal("the token is in the logs")
	}
}

// Readiness answers 200 while running; the readiness and 404 paths need no
// token, the batch path does.
func TestBrazeCurrentsReadiness(t *testing.T) {
	h := brazeStart(t, "allow_unauthenticated: true", "drop: {}", nil)
	resp, err := http.Get(h.origin + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ready: %d", resp.StatusCode)
	}
	if a := h.post("", brazeEnvelopeOf("u-1"), false); a.status != http.StatusOK {
		t.Fatalf("allow_unauthenticated: %s", a)
	}
	if !strings.Contains(h.logs.String(), "NO AUTHENTICATION") {
		t.Fatal("running without authentication must be visible in the start line")
	}
}

// With cert_file and key_file the input serves HTTPS.
func TestBrazeCurrentsTLS(t *testing.T) {
	certFile, keyFile, pool := testcert.Write(t)
	col := &brazeCollect{}
	h := brazeStart(t, "cert_file: "+certFile+"\nkey_file: "+keyFile, "braze_collect: {}", func(env *service.Environment) {
		_ = env.RegisterOutput("braze_collect", service.NewConfigSpec(),
			func(*service.ParsedConfig, *service.Resources) (service.Output, int, error) { return col, 1, nil })
	})
	if !strings.HasPrefix(h.url, "https://") {
		t.Fatalf("URL %s", h.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(brazeEnvelopeOf("tls-1")))
	req.Header.Set("Authorization", "Bearer "+brazeTestToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(col.all()) != 1 {
		t.Fatalf("HTTPS: %d, %d delivered", resp.StatusCode, len(col.all()))
	}
}

// The component on its own: Connect binds (Addr tells where), Read hands
// over one request with its metadata, the ack func answers it, and Close
// answers 503 to a request that was read but never acked.
func TestBrazeCurrentsInputComponent(t *testing.T) {
	conf, err := brazeCurrentsInputSpec().ParseYAML("address: 127.0.0.1:0\nbearer_token: "+brazeTestToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newBrazeCurrentsInputFromParsed(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	if in.Addr() != "" {
		t.Fatal("an address before Connect")
	}
	ctx := t.Context()
	if err := in.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	url := "http://" + in.Addr() + "/"

	// The first message is the readiness probe; /ready and requests get 503
	// until it is acknowledged.
	probe, probeAck, err := in.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := probe.AsBytes(); string(body) != `{"events":[]}` {
		t.Fatalf("probe %s", body)
	}
	if id, ok := probe.MetaGet(metaBrazeReadinessProbe); !ok || !strings.HasPrefix(id, "readiness-probe-") {
		t.Fatalf("the probe is not marked: %q", id)
	}
	if got := brazeReadyStatus(t, "http://"+in.Addr()); got != http.StatusServiceUnavailable {
		t.Fatalf("/ready before the probe's ack: %d", got)
	}
	if a := brazePost(url, brazeTestToken, brazeEnvelopeOf("c-0"), false, nil); a.status != http.StatusServiceUnavailable {
		t.Fatalf("a request before the probe's ack: %s", a)
	}
	if err := probeAck(ctx, nil); err != nil {
		t.Fatal(err)
	}
	brazeAwaitReady(t, "http://"+in.Addr())

	answer := make(chan brazeAnswer, 1)
	go func() { answer <- brazePost(url, brazeTestToken, brazeEnvelopeOf("c-1", "c-2"), true, nil) }()
	msg, ack, err := in.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := msg.AsBytes(); string(body) != string(brazeEnvelopeOf("c-1", "c-2")) {
		t.Fatalf("message %s, want the decoded envelope", body)
	}
	if n, _ := msg.MetaGet(metaBrazeEventCount); n != "2" {
		t.Fatalf("event count %q", n)
	}
	brazeNoAnswerYet(t, answer, "before the ack")
	if err := ack(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if a := brazeAwaitAnswer(t, answer); a.status != http.StatusOK {
		t.Fatalf("after the ack: %s", a)
	}

	go func() { answer <- brazePost(url, brazeTestToken, brazeEnvelopeOf("c-3"), false, nil) }()
	if _, _, err := in.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if a := brazeAwaitAnswer(t, answer); a.status != http.StatusServiceUnavailable {
		t.Fatalf("read, never acked, closed: %s", a)
	}
	if _, _, err := in.Read(ctx); err != service.ErrEndOfInput {
		t.Fatalf("Read after Close: %v", err)
	}
}

// ---------------------------------------------------------------- issue 13

// brazeSlowBuffer is a test buffer that takes nothing until opened, as a
// disk buffer opening and checking a large backlog does; it refuses the
// first refuse writes (the input's message is nacked), then stores.
type brazeSlowBuffer struct {
	opened  chan struct{}
	openOne sync.Once
	msgs    chan service.MessageBatch
	end     chan struct{}
	endOnce sync.Once

	mu     sync.Mutex
	refuse int
	writes int
}

func newBrazeSlowBuffer(refuse int) *brazeSlowBuffer {
	return &brazeSlowBuffer{opened: make(chan struct{}), msgs: make(chan service.MessageBatch, 100), end: make(chan struct{}), refuse: refuse}
}

func (b *brazeSlowBuffer) open() { b.openOne.Do(func() { close(b.opened) }) }

func (b *brazeSlowBuffer) WriteBatch(ctx context.Context, batch service.MessageBatch, ack service.AckFunc) error {
	select {
	case <-b.opened:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	b.writes++
	refuse := b.refuse > 0
	if refuse {
		b.refuse--
	}
	b.mu.Unlock()
	if refuse {
		return errors.New("the backlog is damaged")
	}
	select {
	case b.msgs <- batch:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Stored: the input may answer.
	return ack(ctx, nil)
}

func (b *brazeSlowBuffer) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	select {
	case m := <-b.msgs:
		return m, func(context.Context, error) error { return nil }, nil
	case <-b.end:
		return nil, nil, service.ErrEndOfBuffer
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

func (b *brazeSlowBuffer) EndOfInput()                 { b.endOnce.Do(func() { close(b.end) }) }
func (b *brazeSlowBuffer) Close(context.Context) error { return nil }

func (b *brazeSlowBuffer) register(env *service.Environment) {
	if err := env.RegisterBatchBuffer("braze_slow", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchBuffer, error) { return b, nil }); err != nil {
		panic(err)
	}
}

// brazeNeverOutput never connects: nothing downstream ever takes a message.
type brazeNeverOutput struct{}

func (brazeNeverOutput) Connect(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}
func (brazeNeverOutput) Write(context.Context, *service.Message) error { return errors.New("never") }
func (brazeNeverOutput) Close(context.Context) error                   { return nil }

// brazeStaysUnready checks /ready answers 503 for a while, and that a
// request posted meanwhile is not answered 200.
func brazeStaysUnready(t *testing.T, h *brazeHarness, what string) {
	t.Helper()
	for range 10 {
		if got := brazeReadyStatus(t, h.origin); got != http.StatusServiceUnavailable {
			t.Fatalf("%s: /ready answered %d", what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if a := h.post(brazeTestToken, brazeEnvelopeOf("early-"+strings.ReplaceAll(what, " ", "-")), false); a.status != http.StatusServiceUnavailable {
		t.Fatalf("%s: a request was answered %s", what, a)
	}
}

// /ready answers 200 only once the pipeline behind the input acknowledged
// the readiness probe: not while a buffer is still opening (as the disk
// buffer opening a large backlog), not after it refused the probe (retried
// with backoff), never when nothing downstream takes messages. Requests
// posted before get 503, never 200.
func TestBrazeCurrentsReadyOnlyOnceThePipelineTakesRequests(t *testing.T) {
	t.Run("buffer slow to open, then refusing once", func(t *testing.T) {
		buf := newBrazeSlowBuffer(1)
		col := &brazeCollect{}
		h := brazeRun(t, brazeConfig("", "buffer:\n  braze_slow: {}\npipeline:\n  processors:\n    - currents_to_segment: {}\n", "braze_collect: {}"),
			func(env *service.Environment) {
				buf.register(env)
				_ = env.RegisterOutput("braze_collect", service.NewConfigSpec(),
					func(*service.ParsedConfig, *service.Resources) (service.Output, int, error) { return col, 1, nil })
			})
		brazeStaysUnready(t, h, "buffer not open")
		buf.open() // the first write (the probe) is refused, the next stored
		brazeAwaitReady(t, h.origin)
		buf.mu.Lock()
		writes := buf.writes
		buf.mu.Unlock()
		if writes != 2 {
			t.Fatalf("%d writes to the buffer, want 2 (a refused probe, then its retry)", writes)
		}
		if a := h.post(brazeTestToken, brazeEnvelopeOf("after-ready"), false); a.status != http.StatusOK {
			t.Fatalf("once ready: %s", a)
		}
		// With a buffer, the 200 means stored: the output sees the event
		// after it.
		for deadline := time.Now().Add(10 * time.Second); len(col.all()) == 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // room for a probe, were one to get through
		if n := len(col.all()); n != 1 {
			t.Fatalf("the output saw %d messages, want the one event: the probe must map to nothing", n)
		}
		logs := h.logs.String()
		if !strings.Contains(logs, "refused the readiness probe") || !strings.Contains(logs, "the backlog is damaged") ||
			!strings.Contains(logs, "acknowledged the readiness probe") {
			t.Fatalf("the probe's story is not logged:\n%s", logs)
		}
	})
	t.Run("output slow, probe reaching it", func(t *testing.T) {
		// Without currents_to_segment the probe reaches the output, and
		// readiness waits for the output's acknowledgement.
		g := newBrazeGate()
		h := brazeRun(t, brazeConfig("", "", "braze_gate: {}"), brazeGateOutput(g))
		probe := g.next(t)
		if id, _ := probe.MetaGet(metaBrazeReadinessProbe); !strings.HasPrefix(id, "readiness-probe-") {
			t.Fatalf("the output saw %v, not the probe", id)
		}
		brazeStaysUnready(t, h, "probe held by the output")
		g.Open()
		brazeAwaitReady(t, h.origin)
	})
	t.Run("nothing downstream takes messages", func(t *testing.T) {
		h := brazeRun(t, brazeConfig("ack_timeout: 200ms\nwrite_timeout: 10s", "", "braze_never: {}"), func(env *service.Environment) {
			_ = env.RegisterOutput("braze_never", service.NewConfigSpec(),
				func(*service.ParsedConfig, *service.Resources) (service.Output, int, error) {
					return brazeNeverOutput{}, 1, nil
				})
		})
		brazeStaysUnready(t, h, "output never connected")
		h.stop(2 * time.Second)
		if got := brazeReadyStatus(t, h.origin); got == http.StatusOK {
			t.Fatal("/ready answered 200 after the stop")
		}
	})
}

// The input's own cross-field mistakes are lint errors, each saying what to
// change; the constructor keeps refusing them too.
func TestBrazeCurrentsLintRules(t *testing.T) {
	env := service.NewEnvironment()
	conf := func(fields string) string {
		return "input:\n  braze_currents:\n    bearer_token: " + brazeTestToken + "\n" + brazeIndent(fields, "    ") + "\noutput:\n  drop: {}\n"
	}
	for fields, want := range map[string]string{
		"write_timeout: 20s": "write_timeout (20s) must exceed queue_timeout (5s) + ack_timeout (30s): raise write_timeout",
		"ack_timeout: 1m\nqueue_timeout: 30s\nwrite_timeout: 90s": "write_timeout (90s) must exceed queue_timeout (30s) + ack_timeout (1m)",
		"ack_timeout: 1m25s":            "write_timeout (90s) must exceed queue_timeout (5s) + ack_timeout (1m25s)",
		"path: /ready":                  "path /ready is the input's readiness endpoint: choose another path",
		"max_events_per_request: 20000": "max_events_per_request (20000) must not exceed max_in_flight_events (10000)",
		"max_in_flight_events: 500":     "max_events_per_request (1000) must not exceed max_in_flight_events (500)",
		"cert_file: a.crt":              "cert_file and key_file must be set together",
	} {
		err := env.NewStreamBuilder().SetYAML(conf(fields))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("lint of %q = %v, want %q", fields, err, want)
		}
		if err != nil && strings.Contains(err.Error(), brazeTestToken) {
			t.Errorf("the lint error quotes the token: %v", err)
		}
	}
	for _, fields := range []string{
		"path: /currents",
		"ack_timeout: 1m\nwrite_timeout: 1m5s500ms",
		"write_timeout: 1h",
		"ack_timeout: 500ms\nqueue_timeout: 0.5s\nwrite_timeout: 1001ms",
		"max_in_flight_events: 500\nmax_events_per_request: 500",
	} {
		if err := env.NewStreamBuilder().SetYAML(conf(fields)); err != nil {
			t.Errorf("lint of %q: %v", fields, err)
		}
	}
	// brazehttp.New, through the constructor, refuses them too, for configs
	// that skip the linter.
	for fields, want := range map[string]string{
		"write_timeout: 20s":            "write_timeout (20s) must exceed queue_timeout + ack_timeout (35s)",
		"path: /ready":                  "readiness endpoint",
		"max_events_per_request: 20000": "max_events_per_request (20000) must not exceed max_in_flight_events (10000)",
	} {
		pc, err := brazeCurrentsInputSpec().ParseYAML("bearer_token: x\n"+fields, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newBrazeCurrentsInputFromParsed(pc, service.MockResources()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("constructor with %q: %v, want %q", fields, err, want)
		}
	}
}

// Every counter and gauge the input documents exists at zero from the
// start, so increase(...) > 0 fires on the first event.
func TestBrazeCurrentsMetricsExistAtZeroFromStart(t *testing.T) {
	h := brazeStart(t, "", "drop: {}", nil)
	keys := strings.Join(h.metrics.keys(), " ")
	for _, status := range []string{"200", "400", "401", "413", "415", "429", "503", "client_closed"} {
		if !strings.Contains(keys, "braze_currents_requests{") || !regexp.MustCompile(`braze_currents_requests\{[^}]*\b`+status+`\}`).MatchString(keys) {
			t.Errorf("braze_currents_requests{status=%q} is absent: %s", status, keys)
		}
	}
	for _, name := range []string{"braze_currents_events_received{", "braze_currents_requests_in_flight{", "braze_currents_events_in_flight{"} {
		if !strings.Contains(keys, name) {
			t.Errorf("%s} is absent: %s", name, keys)
		}
	}
	if h.metrics.Get("braze_currents_requests") != 0 || h.metrics.Get("braze_currents_events_received") != 0 {
		t.Fatalf("not zero: %v", keys)
	}
}

// brazeFileText shows a log file's content when printed.
type brazeFileText string

func (f brazeFileText) String() string {
	b, _ := os.ReadFile(string(f))
	return string(b)
}

// brazeSecretForms are the forms a leaked token takes: plain, in the Basic
// and Bearer headers' base64, URL-encoded, and its prefix.
func brazeSecretForms(token string) map[string]string {
	forms := map[string]string{
		"plain":        token,
		"query-escape": url.QueryEscape(token),
		"path-escape":  url.PathEscape(token),
		"prefix":       token[:8],
	}
	for _, v := range []string{token, token + ":", ":" + token, "Bearer " + token} {
		for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.URLEncoding, "raw-std": base64.RawStdEncoding, "raw-url": base64.RawURLEncoding} {
			forms["base64-"+name+"("+v[:min(len(v), 7)]+"...)"] = enc.EncodeToString([]byte(v))
		}
	}
	return forms
}

func brazeCheckNoSecret(t *testing.T, where, text, token string) {
	t.Helper()
	for name, form := range brazeSecretForms(token) {
		if strings.Contains(text, form) {
			t.Errorf("the token's %s form %q is in %s", name, form, where)
		}
	}
}

// The bearer token appears in no form in any log line at TRACE (Benthos's
// most verbose level, DEBUG included), in any answer, lint or config error,
// metric or echoed config, through 200s, 400s, 401s, 413s, 415s, 405s,
// 503s (nacks, not ready) and a readiness probe.
func TestBrazeCurrentsTokenNeverLeaks(t *testing.T) {
	const token = "brz+T0KEN/4c1d=never%log&me"
	logFile := filepath.Join(t.TempDir(), "trace.log")
	env := service.NewEnvironment()
	metrics := newCaptureMetrics()
	if err := metrics.register(env); err != nil {
		t.Fatal(err)
	}
	inputs := brazeCaptureInput(t, env)
	g := newBrazeGate()
	brazeGateOutput(g)(env)
	conf := `
input:
  braze_currents:
    address: 127.0.0.1:0
    path: /currents
    bearer_token: '` + token + `'
    max_body_bytes: 4096
    max_events_per_request: 3
    ack_timeout: 500ms
pipeline:
  processors:
    - currents_to_segment: {}
output:
  braze_gate: {}
metrics:
  capture: {}
logger:
  level: TRACE
  format: logfmt
  file:
    path: ` + logFile + `
    rotate: false
`
	b := env.NewStreamBuilder()
	if err := b.SetYAML(conf); err != nil {
		t.Fatal(err)
	}
	echoed, err := b.AsYAML()
	if err != nil {
		t.Fatal(err)
	}
	brazeCheckNoSecret(t, "the echoed config", echoed, token)
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stream.Run(t.Context()) }()

	base := brazeAwaitURL(t, inputs, brazeFileText(logFile))
	origin := strings.TrimSuffix(base, "/currents")
	brazeAwaitReady(t, origin)

	var answers []string
	record := func(a brazeAnswer) {
		answers = append(answers, a.String())
		for k, v := range a.header {
			answers = append(answers, k+": "+strings.Join(v, ","))
		}
	}
	// Wrong credentials, some of them derived from the token.
	for _, hdr := range []string{"", "Bearer wrong", "Bearer " + token[:8], "Bearer " + token + "x",
		"Basic " + base64.StdEncoding.EncodeToString([]byte(token+":")), token} {
		hdrs := map[string]string{}
		if hdr != "" {
			hdrs["Authorization"] = hdr
		}
		record(brazePost(base, "", brazeEnvelopeOf("w"), false, hdrs))
	}
	// The right token, through every answer.
	record(brazePost(base, token, brazeEnvelopeOf("ok-1"), true, nil)) // held by the gate
	g.Open()
	for _, body := range [][]byte{[]byte(`not json`), bytes.Repeat([]byte("x"), 5000), brazeEnvelopeOf("a", "b", "c", "d")} {
		record(brazePost(base, token, body, false, nil))
	}
	record(brazePost(base, token, []byte("not gzip"), false, map[string]string{"Content-Encoding": "gzip"}))
	record(brazePost(base, token, brazeEnvelopeOf("br"), false, map[string]string{"Content-Encoding": "br"}))
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	record(brazeDo(req))
	_ = stream.StopWithin(3 * time.Second)
	<-done
	record(brazePost(base, token, brazeEnvelopeOf("after"), false, nil)) // refused or not listening

	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := string(raw)
	if !strings.Contains(logs, "level=trace") && !strings.Contains(logs, "level=debug") {
		t.Fatalf("the run did not log at TRACE/DEBUG:\n%s", logs)
	}
	for _, want := range []string{"with 401", "with 400", "with 413", "with 415"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q line: the run did not go through every answer:\n%s", want, logs)
		}
	}
	brazeCheckNoSecret(t, "the TRACE log", logs, token)
	brazeCheckNoSecret(t, "the answers", strings.Join(answers, "\n"), token)
	brazeCheckNoSecret(t, "the metrics", strings.Join(metrics.keys(), "\n"), token)

	// Lint and config errors.
	for _, fields := range []string{"path: /ready", "write_timeout: 1s", "max_events_per_request: 99999", "cert_file: x", "allow_unauthenticated: true"} {
		yaml := "input:\n  braze_currents:\n    bearer_token: '" + token + "'\n    " + fields + "\noutput:\n  drop: {}\n"
		if err := env.NewStreamBuilder().SetYAML(yaml); err != nil {
			brazeCheckNoSecret(t, "a lint error", err.Error(), token)
		} else {
			t.Errorf("%s: no lint error", fields)
		}
		pc, err := brazeCurrentsInputSpec().ParseYAML("bearer_token: '"+token+"'\n"+fields, nil)
		if err != nil {
			brazeCheckNoSecret(t, "a parse error", err.Error(), token)
			continue
		}
		if _, err := newBrazeCurrentsInputFromParsed(pc, service.MockResources()); err != nil {
			brazeCheckNoSecret(t, "a config error", err.Error(), token)
		} else {
			t.Errorf("%s: no config error", fields)
		}
	}
}
