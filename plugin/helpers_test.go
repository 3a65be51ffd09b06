package plugin

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/componentname"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// Helpers shared by the tests of this package: a log sink, a metrics
// exporter that records what was counted, and the harness that runs a
// braze_currents pipeline on loopback with a test output.

// logBuffer is a goroutine-safe sink for a slog text handler: a test's
// view of what a component logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) slog() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// brazeGate is a test output: each message is recorded, then held until the
// test releases it (nil acks, an error nacks) or opens the gate for all.
type brazeGate struct {
	seen    chan *service.Message
	verdict chan error
	open    chan struct{}
	once    sync.Once
}

func newBrazeGate() *brazeGate {
	return &brazeGate{seen: make(chan *service.Message, 1000), verdict: make(chan error), open: make(chan struct{})}
}

func (g *brazeGate) Connect(context.Context) error { return nil }
func (g *brazeGate) Close(context.Context) error   { g.Open(); return nil }

func (g *brazeGate) Write(ctx context.Context, msg *service.Message) error {
	g.seen <- msg
	select {
	case <-g.open:
		return nil
	case err := <-g.verdict:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Open lets every message, held and future, through.
func (g *brazeGate) Open() { g.once.Do(func() { close(g.open) }) }

// next returns the next message the output saw, failing after 10s.
func (g *brazeGate) next(t *testing.T) *service.Message {
	t.Helper()
	select {
	case m := <-g.seen:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the output saw no message")
		return nil
	}
}

// brazeCollect is a test output that records every message and acks it.
type brazeCollect struct {
	mu   sync.Mutex
	msgs []*service.Message
}

func (c *brazeCollect) Connect(context.Context) error { return nil }
func (c *brazeCollect) Close(context.Context) error   { return nil }
func (c *brazeCollect) Write(_ context.Context, m *service.Message) error {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	return nil
}

func (c *brazeCollect) all() []*service.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*service.Message(nil), c.msgs...)
}

// brazeHarness is a running pipeline braze_currents → currents_to_segment →
// the given output.
type brazeHarness struct {
	t       *testing.T
	url     string // where Braze posts
	origin  string // http://host:port
	logs    *logBuffer
	metrics *captureMetrics
	stream  *service.Stream
	done    chan error
	stopped bool
}

// brazeCaptureInput registers braze_currents in env as the package does,
// but hands each input built to the returned channel: a test reaches the
// server through the address the input reports.
func brazeCaptureInput(t *testing.T, env *service.Environment) <-chan *brazeCurrentsInput {
	t.Helper()
	inputs := make(chan *brazeCurrentsInput, 1)
	err := env.RegisterInput(componentname.BrazeCurrentsInput, brazeCurrentsInputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Input, error) {
			in, err := newBrazeCurrentsInputFromParsed(conf, mgr)
			if err != nil {
				return nil, err
			}
			select {
			case inputs <- in:
			default: // only the first is waited for
			}
			return in, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return inputs
}

// brazeAwaitURL waits for the input to be built and to listen, and returns
// the URL Braze posts to; logs says what happened when it does not.
func brazeAwaitURL(t *testing.T, inputs <-chan *brazeCurrentsInput, logs fmt.Stringer) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var in *brazeCurrentsInput
	select {
	case in = <-inputs:
	case <-deadline:
		t.Fatalf("the input was never built:\n%s", logs)
	}
	for {
		if u := in.URL(); u != "" {
			return u
		}
		select {
		case <-deadline:
			t.Fatalf("the input never listened:\n%s", logs)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// brazeStart runs a pipeline braze_currents → currents_to_segment → output
// and waits until the input is ready. inputExtra is YAML added under
// braze_currents (one field per line); outputYAML is the output block;
// register adds test components to the environment.
func brazeStart(t *testing.T, inputExtra, outputYAML string, register func(env *service.Environment)) *brazeHarness {
	t.Helper()
	h := brazeRun(t, brazeConfig(inputExtra, "pipeline:\n  processors:\n    - currents_to_segment: {}\n", outputYAML), register)
	brazeAwaitReady(t, h.origin)
	return h
}

// brazeConfig is a stream config: braze_currents with inputExtra, then
// middle (buffer and pipeline sections, as YAML), then the output, and the
// capture metrics.
func brazeConfig(inputExtra, middle, outputYAML string) string {
	input := "    address: 127.0.0.1:0\n"
	if !strings.Contains(inputExtra, "bearer_token") && !strings.Contains(inputExtra, "allow_unauthenticated") {
		input += "    bearer_token: " + brazeTestToken + "\n"
	}
	for _, line := range strings.Split(strings.TrimSpace(inputExtra), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			input += "    " + line + "\n"
		}
	}
	return "input:\n  braze_currents:\n" + input + middle + "output:\n" + brazeIndent(strings.TrimSpace(outputYAML), "  ") + `
metrics:
  capture: {}
`
}

// brazeRun builds and runs the stream conf and returns once the input
// listens, ready or not.
func brazeRun(t *testing.T, conf string, register func(env *service.Environment)) *brazeHarness {
	t.Helper()
	env := service.NewEnvironment()
	metrics := newCaptureMetrics()
	if err := metrics.register(env); err != nil {
		t.Fatal(err)
	}
	inputs := brazeCaptureInput(t, env)
	if register != nil {
		register(env)
	}
	b := env.NewStreamBuilder()
	if err := b.SetYAML(conf); err != nil {
		t.Fatalf("config:\n%s\n%v", conf, err)
	}
	logs := &logBuffer{}
	b.SetLogger(logs.slog())
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	h := &brazeHarness{t: t, logs: logs, metrics: metrics, stream: stream, done: make(chan error, 1)}
	// Run returns when the test ends; the cleanup then stops the stream.
	go func() { h.done <- stream.Run(t.Context()) }()
	t.Cleanup(func() { h.stop(5 * time.Second) })

	h.url = brazeAwaitURL(t, inputs, logs)
	u, err := url.Parse(h.url)
	if err != nil {
		t.Fatal(err)
	}
	h.origin = u.Scheme + "://" + u.Host
	return h
}

func brazeIndent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func (h *brazeHarness) stop(within time.Duration) {
	if h.stopped {
		return
	}
	h.stopped = true
	_ = h.stream.StopWithin(within)
	select {
	case <-h.done:
	case <-time.After(within + 5*time.Second):
		h.t.Error("the stream did not stop")
	}
}

type brazeAnswer struct {
	status int
	header http.Header
	body   string
	err    error
}

func (a brazeAnswer) String() string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, strings.TrimSpace(a.body))
}

// post sends body the way Braze does; token "" sends no Authorization.
func (h *brazeHarness) post(token string, body []byte, gz bool) brazeAnswer {
	return brazePost(h.url, token, body, gz, nil)
}

func brazePost(url, token string, body []byte, gz bool, hdr map[string]string) brazeAnswer {
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = buf.Bytes()
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return brazeAnswer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Braze-Currents-Version", "1")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return brazeDo(req)
}

func brazeDo(req *http.Request) brazeAnswer {
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return brazeAnswer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return brazeAnswer{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// postAsync posts in the background; the answer arrives on the channel.
func (h *brazeHarness) postAsync(body []byte) <-chan brazeAnswer {
	ch := make(chan brazeAnswer, 1)
	go func() { ch <- h.post(brazeTestToken, body, false) }()
	return ch
}

// brazeEvent is a valid HTTP-shape email Send event of an identified user.
func brazeEvent(id string) string {
	return fmt.Sprintf(`{"event_type":"users.messages.email.Send","id":%q,"time":1764334800,`+
		`"user":{"user_id":"u-%s","external_user_id":"ext-%s","timezone":"Europe/Paris"},`+
		`"properties":{"campaign_id":"camp-1","campaign_name":"Welcome","dispatch_id":"disp-1","email_address":"a@example.com"}}`, id, id, id)
}

func brazeEnvelope(events ...string) []byte {
	return []byte(`{"events":[` + strings.Join(events, ",") + `]}`)
}

func brazeEnvelopeOf(ids ...string) []byte {
	var evs []string
	for _, id := range ids {
		evs = append(evs, brazeEvent(id))
	}
	return brazeEnvelope(evs...)
}

func brazeMessageID(t *testing.T, m *service.Message) string {
	t.Helper()
	b, err := m.AsBytes()
	if err != nil {
		t.Fatal(err)
	}
	var call struct {
		MessageID string `json:"messageId"`
	}
	if err := json.Unmarshal(b, &call); err != nil {
		t.Fatalf("not a track call: %s", b)
	}
	return call.MessageID
}

// noAnswerYet fails if the request was already answered: a negative check,
// given time for a wrong early answer to show up.
func brazeNoAnswerYet(t *testing.T, ch <-chan brazeAnswer, what string) {
	t.Helper()
	select {
	case a := <-ch:
		t.Fatalf("%s: answered %s", what, a)
	case <-time.After(300 * time.Millisecond):
	}
}

func brazeAwaitAnswer(t *testing.T, ch <-chan brazeAnswer) brazeAnswer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(20 * time.Second):
		t.Fatal("no answer")
		return brazeAnswer{}
	}
}

// brazeReadyStatus returns the status of origin's /ready, 0 when it does
// not answer.
func brazeReadyStatus(t *testing.T, origin string) int {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(origin + "/ready")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func brazeAwaitReady(t *testing.T, origin string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for brazeReadyStatus(t, origin) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/ready never answered 200")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func brazeGateOutput(g *brazeGate) func(env *service.Environment) { return brazeGateOutputN(g, 16) }

// gateOutputN registers g as the output braze_gate, with maxInFlight
// messages written at once.
func brazeGateOutputN(g *brazeGate, maxInFlight int) func(env *service.Environment) {
	return func(env *service.Environment) {
		if err := env.RegisterOutput("braze_gate", service.NewConfigSpec(),
			func(*service.ParsedConfig, *service.Resources) (service.Output, int, error) {
				return g, maxInFlight, nil
			}); err != nil {
			panic(err)
		}
	}
}

// captureMetrics is a metrics exporter for tests: it records every counter
// and gauge by name and label values, so tests assert what was counted.
type captureMetrics struct {
	mu     sync.Mutex
	values map[string]float64
}

func newCaptureMetrics() *captureMetrics { return &captureMetrics{values: map[string]float64{}} }

// register adds the exporter to env as "capture".
func (c *captureMetrics) register(env *service.Environment) error {
	return env.RegisterMetricsExporter("capture", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return c, nil })
}

func metricKey(name string, labelValues []string) string {
	return name + "{" + strings.Join(labelValues, ",") + "}"
}

// Get sums a metric over the series whose last label values are the given
// ones (Benthos prepends its own label and path labels), e.g.
// Get("currents_events_skipped", "users.messages.email.Send", "not_selected").
func (c *captureMetrics) Get(name string, labelValues ...string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	suffix := strings.Join(labelValues, ",") + "}"
	var sum float64
	for k, v := range c.values {
		if strings.HasPrefix(k, name+"{") && (len(labelValues) == 0 || strings.HasSuffix(k, ","+suffix) || k == name+"{"+suffix) {
			sum += v
		}
	}
	return sum
}

type captureCounter struct {
	c   *captureMetrics
	key string
}

func (k captureCounter) add(v float64, set bool) {
	k.c.mu.Lock()
	if set {
		k.c.values[k.key] = v
	} else {
		k.c.values[k.key] += v
	}
	k.c.mu.Unlock()
}
func (k captureCounter) Incr(n int64)          { k.add(float64(n), false) }
func (k captureCounter) IncrFloat64(n float64) { k.add(n, false) }
func (k captureCounter) Timing(n int64)        { k.add(1, false) }
func (k captureCounter) Set(n int64)           { k.add(float64(n), true) }
func (k captureCounter) SetFloat64(n float64)  { k.add(n, true) }
func (k captureCounter) Decr(n int64)          { k.add(-float64(n), false) }
func (k captureCounter) DecrFloat64(n float64) { k.add(-n, false) }

func (c *captureMetrics) NewCounterCtor(name string, _ ...string) service.MetricsExporterCounterCtor {
	return func(lv ...string) service.MetricsExporterCounter { return captureCounter{c, metricKey(name, lv)} }
}

func (c *captureMetrics) NewTimerCtor(name string, _ ...string) service.MetricsExporterTimerCtor {
	return func(lv ...string) service.MetricsExporterTimer { return captureCounter{c, metricKey(name, lv)} }
}

func (c *captureMetrics) NewGaugeCtor(name string, _ ...string) service.MetricsExporterGaugeCtor {
	return func(lv ...string) service.MetricsExporterGauge { return captureCounter{c, metricKey(name, lv)} }
}

func (c *captureMetrics) Close(context.Context) error { return nil }

func (c *captureMetrics) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.values {
		out = append(out, k)
	}
	return out
}
