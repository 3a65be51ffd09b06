package plugin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/currents-segment/currents-segment/internal/segment"
	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
)

// ---------------------------------------------------------------- helpers

// segAnswer is one scripted answer of segFakeAPI.
type segAnswer struct {
	status     int
	retryAfter string
	body       string
	drop       bool
	delay      time.Duration
}

type segRequest struct {
	at     time.Time
	key    string
	body   []byte
	status int
}

// segFakeAPI is a /v1/batch handler that plays scripted answers (then, or
// when always is set, that answer forever) and records every request.
type segFakeAPI struct {
	mu      sync.Mutex
	script  []segAnswer
	always  *segAnswer
	reqs    []segRequest
	arrived chan struct{}
}

func newSegFakeAPI(script ...segAnswer) *segFakeAPI {
	return &segFakeAPI{script: script, arrived: make(chan struct{}, 1000)}
}

func (f *segFakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key, _, _ := r.BasicAuth()
	f.mu.Lock()
	a := segAnswer{status: 200, body: `{"success":true}`}
	switch {
	case len(f.script) > 0:
		a, f.script = f.script[0], f.script[1:]
	case f.always != nil:
		a = *f.always
	}
	if r.URL.Path != "/v1/batch" {
		a = segAnswer{status: 404}
	}
	status := a.status
	if a.drop || a.delay > 0 {
		status = 0
	}
	f.reqs = append(f.reqs, segRequest{at: time.Now(), key: key, body: body, status: status})
	f.mu.Unlock()
	select {
	case f.arrived <- struct{}{}:
	default:
	}
	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.drop {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func (f *segFakeAPI) requests() []segRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]segRequest(nil), f.reqs...)
}

// accepted returns the raw messages of requests answered 2xx.
func (f *segFakeAPI) accepted(t *testing.T) []json.RawMessage {
	var out []json.RawMessage
	for _, r := range f.requests() {
		if r.status >= 200 && r.status < 300 {
			msgs, _ := segParseBody(t, r.body)
			out = append(out, msgs...)
		}
	}
	return out
}

func segParseBody(t *testing.T, body []byte) ([]json.RawMessage, string) {
	t.Helper()
	var b struct {
		Batch  []json.RawMessage `json:"batch"`
		SentAt string            `json:"sentAt"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("request body is not a Segment batch: %v", err)
	}
	return b.Batch, b.SentAt
}

func segTrack(i int) []byte {
	return fmt.Appendf(nil, `{"type":"track","event":"Email Sent","messageId":"msg-%04d","userId":"u-%d","anonymousId":"braze-%d","timestamp":"2026-11-28T13:00:00.123+01:00","context":{"traits":{"email":"a@b.c"},"device":{"model":"x","type":"ios"},"timezone":"Europe/Paris","extra":{"big":12345678901234567890}},"properties":{"campaign":"c-%d","z":[1.50,true,null]},"integrations":{"All":true,"Mixpanel":false}}`, i, i, i, i)
}

// segJSONEqual reports whether a and b hold the same JSON value.
func segJSONEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if err := da.Decode(&va); err != nil {
		t.Fatalf("not JSON: %s", a)
	}
	if err := db.Decode(&vb); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return reflect.DeepEqual(va, vb)
}

const segTestFastRetry = `
timeout: 300ms
backoff:
  initial_interval: 10ms
  max_interval: 50ms
`

func segNewOutput(t *testing.T, confYAML string, logs *logBuffer) *segmentOutput {
	t.Helper()
	conf, err := segmentOutputSpec().ParseYAML(confYAML, nil)
	if err != nil {
		t.Fatal(err)
	}
	var opts []service.MockResourcesOptFn
	if logs != nil {
		opts = append(opts, service.MockResourcesOptUseLogger(service.NewLoggerFromSlog(logs.slog())))
	}
	o, err := newSegmentOutputFromParsed(conf, service.MockResources(opts...))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o
}

func segBatch(msgs ...[]byte) service.MessageBatch {
	b := make(service.MessageBatch, len(msgs))
	for i, m := range msgs {
		b[i] = service.NewMessage(m)
	}
	return b
}

// segWrite writes batch with o and returns the indexes a *service.BatchError
// marks failed, with their errors, and the error; it fails the test when a
// failure is not a BatchError.
func segWrite(t *testing.T, ctx context.Context, o *segmentOutput, batch service.MessageBatch) (map[int]error, error) {
	t.Helper()
	index := batch.Index()
	err := o.WriteBatch(ctx, batch)
	var bErr *service.BatchError
	if !errors.As(err, &bErr) {
		t.Fatalf("want a *service.BatchError, got %T: %v", err, err)
	}
	out := map[int]error{}
	bErr.WalkMessagesIndexedBy(index, func(i int, _ *service.Message, e error) bool {
		if e != nil {
			out[i] = e
		}
		return true
	})
	return out, err
}

// ---------------------------------------------------------------- config

func TestSegmentOutputConfig(t *testing.T) {
	for _, c := range []struct {
		yaml, endpoint, err string
	}{
		{`write_key: k`, segment.EndpointUS, ""},
		{"write_key: k\nregion: eu", segment.EndpointEU, ""},
		{"write_key: k\nregion: ap", "", "us, eu"},
		{"write_key: k\nendpoint: http://127.0.0.1:9/v1/batch/", "http://127.0.0.1:9", ""},
		{"write_key: k\nendpoint: https://dp.example.com/v1", "https://dp.example.com", ""},
		{"write_key: k\nendpoint: dp.example.com", "", "http"},
		{"write_key: k\nmax_retry_duration: -1s", "", "negative"},
		{"write_key: ''", "", "write_key is empty"},
		{"write_key: 'null'", "", "write_key is empty"},
		{"write_key: k\nbackoff:\n  initial_interval: 2s\n  max_interval: 1s", "", "shorter"},
	} {
		conf, err := segmentOutputSpec().ParseYAML(c.yaml, nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := newSegmentOutputFromParsed(conf, service.MockResources())
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: want error containing %q, got %v", c.yaml, c.err, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		if o.cfg.Endpoint != c.endpoint {
			t.Errorf("%q: endpoint %q, want %q", c.yaml, o.cfg.Endpoint, c.endpoint)
		}
	}

	conf, err := segmentOutputSpec().ParseYAML(`write_key: k`, nil)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := conf.FieldBatchPolicy(sofFieldBatching)
	if err != nil || pol.Count != 250 || pol.Period != "100ms" {
		t.Fatalf("default batching must be count 250 / period 100ms: %+v %v", pol, err)
	}
	o, err := newSegmentOutputFromParsed(conf, service.MockResources())
	if err != nil || o.cfg.MaxRetryDuration != 0 {
		t.Fatalf("by default a request is retried until accepted: %v %v", o.cfg.MaxRetryDuration, err)
	}
	// The bound is backoff.max_elapsed_time; max_retry_duration, deprecated,
	// still sets it.
	for yaml, want := range map[string]time.Duration{
		"write_key: k\nbackoff: { max_elapsed_time: 5m }": 5 * time.Minute,
		"write_key: k\nmax_retry_duration: 2m":            2 * time.Minute,
	} {
		conf, err := segmentOutputSpec().ParseYAML(yaml, nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := newSegmentOutputFromParsed(conf, service.MockResources())
		if err != nil || o.cfg.MaxRetryDuration != want {
			t.Errorf("%q: retry bound %s (%v), want %s", yaml, o.cfg.MaxRetryDuration, err, want)
		}
	}
}

func TestSegmentOutputLintRules(t *testing.T) {
	for yamlStr, want := range map[string]string{
		"output:\n  segment:\n    write_key: k\n    region: ap\n":                                   "ap",
		"output:\n  segment:\n    write_key: k\n    region: eu\n    endpoint: http://127.0.0.1:1\n": "endpoint overrides region",
	} {
		err := service.NewStreamBuilder().SetYAML(yamlStr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("lint of %q: want %q, got %v", yamlStr, want, err)
		}
	}
	t.Setenv("SEGMENT_WRITE_KEY", "from-env")
	if err := service.NewStreamBuilder().SetYAML("output:\n  segment:\n    write_key: ${SEGMENT_WRITE_KEY}\n    region: eu\n"); err != nil {
		t.Errorf("valid config linted: %v", err)
	}
}

// ---------------------------------------------------------------- output

func TestSegmentOutputDeliversUntouchedAndGroupsByKey(t *testing.T) {
	api := newSegFakeAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	o := segNewOutput(t, `write_key: '${! meta("wk") }'
endpoint: `+srv.URL+segTestFastRetry, nil)

	var batch service.MessageBatch
	for i := range 6 {
		raw := segTrack(i % 4) // indexes 4 and 5 repeat the messageIds of 0 and 1
		m := service.NewMessage(raw)
		m.MetaSetMut("wk", []string{"key-a", "key-b"}[i%2])
		batch = append(batch, m)
	}
	if err := o.WriteBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	reqs := api.requests()
	if len(reqs) != 2 {
		t.Fatalf("want one request per write key, got %d", len(reqs))
	}
	for _, r := range reqs {
		msgs, _ := segParseBody(t, r.body)
		want := map[string][]int{"key-a": {0, 2, 4}, "key-b": {1, 3, 5}}[r.key]
		if len(msgs) != len(want) {
			t.Fatalf("key %s: %d messages, want %d", r.key, len(msgs), len(want))
		}
		for j, i := range want {
			orig, _ := batch[i].AsBytes()
			if !bytes.Equal(msgs[j], orig) || !segJSONEqual(t, msgs[j], orig) {
				t.Fatalf("message %d not sent as is:\n got %s\nwant %s", i, msgs[j], orig)
			}
		}
	}
}

func TestSegmentOutputValidationFailsOnlyInvalidMessages(t *testing.T) {
	api := newSegFakeAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	o := segNewOutput(t, "write_key: k\nendpoint: "+srv.URL+segTestFastRetry, nil)

	oversize := fmt.Appendf(nil, `{"type":"track","event":"Big","messageId":"too-big","userId":"u","properties":{"p":%q}}`, strings.Repeat("x", segment.MaxMessageBytes))
	batch := segBatch(
		segTrack(0),
		oversize,
		[]byte(`{"type":"track","messageId":"no-event","userId":"u"}`),
		[]byte(`{"type":"track","event":"Anon","messageId":"no-id"}`),
		[]byte(`not json`),
		[]byte(`{"type":"identify","event":"x","userId":"u","messageId":"ident"}`),
		fmt.Appendf(nil, `{"type":"track","event":"e","userId":"u","messageId":%q}`, strings.Repeat("m", 101)),
		segTrack(7),
	)
	failed, _ := segWrite(t, context.Background(), o, batch)
	want := map[int][]string{
		1: {"message 1", `"too-big"`, `"Big"`, segment.RuleMessageSize},
		2: {"message 2", `"no-event"`, segment.RuleEventRequired},
		3: {"message 3", `"no-id"`, segment.RuleIdentity},
		4: {"message 4", segment.RuleJSONObject},
		5: {"message 5", `"ident"`, segment.RuleTypeTrack},
		6: {"message 6", segment.RuleMessageIDLen},
	}
	if len(failed) != len(want) {
		t.Fatalf("failed indexes %v, want %v", failed, want)
	}
	for i, parts := range want {
		for _, p := range parts {
			if !strings.Contains(failed[i].Error(), p) {
				t.Errorf("error of message %d lacks %q: %v", i, p, failed[i])
			}
		}
		if class := segment.ClassOf(failed[i]).String(); class != "invalid" {
			t.Errorf("message %d: class %q", i, class)
		}
	}
	got := api.accepted(t)
	if len(got) != 2 {
		t.Fatalf("server saw %d messages, want the 2 valid ones", len(got))
	}
	for _, r := range api.requests() {
		if bytes.Contains(r.body, []byte("too-big")) {
			t.Fatal("the oversize message reached the server")
		}
	}
}

func TestSegmentOutputRetriesTransientFailuresWithoutLoss(t *testing.T) {
	api := newSegFakeAPI(
		segAnswer{status: 500, body: "boom"},
		segAnswer{status: 429, retryAfter: "1", body: "slow down"},
		segAnswer{drop: true},
		segAnswer{delay: 2 * time.Second}, // longer than timeout: 300ms
		segAnswer{status: 503, retryAfter: time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)},
	)
	srv := httptest.NewServer(api)
	defer srv.Close()
	o := segNewOutput(t, "write_key: k\nendpoint: "+srv.URL+"\nmax_retry_duration: 30s"+segTestFastRetry, nil)

	var raws [][]byte
	for i := range 20 {
		raws = append(raws, segTrack(i))
	}
	if err := o.WriteBatch(context.Background(), segBatch(raws...)); err != nil {
		t.Fatalf("transient failures must be retried until accepted: %v", err)
	}
	reqs := api.requests()
	if len(reqs) != 6 {
		t.Fatalf("want 5 failed attempts then success, got %d requests", len(reqs))
	}
	if gap := reqs[2].at.Sub(reqs[1].at); gap < time.Second {
		t.Errorf("retry %s after a 429 with Retry-After: 1", gap)
	}
	sentAts := map[string]bool{}
	for _, r := range reqs {
		msgs, sentAt := segParseBody(t, r.body)
		if len(msgs) != 20 {
			t.Fatalf("attempt carried %d messages", len(msgs))
		}
		if sentAts[sentAt] {
			t.Errorf("sentAt %s reused by a retry", sentAt)
		}
		sentAts[sentAt] = true
	}
	got := api.accepted(t)
	for i := range raws {
		if !bytes.Equal(got[i], raws[i]) {
			t.Fatalf("message %d changed: %s", i, got[i])
		}
	}
}

func TestSegmentOutputPermanentFailureFailsRequestAndMovesOn(t *testing.T) {
	api := newSegFakeAPI()
	api.always = &segAnswer{status: 400, body: `{"error":"bad request: ` + strings.Repeat("b", 2000) + `"}`}
	srv := httptest.NewServer(api)
	defer srv.Close()
	o := segNewOutput(t, "write_key: k\nendpoint: "+srv.URL+segTestFastRetry, nil)

	batch := segBatch(segTrack(0), segTrack(1))
	failed, _ := segWrite(t, context.Background(), o, batch)
	if len(failed) != 2 {
		t.Fatalf("both messages refused on their own must fail: %v", failed)
	}
	for i, err := range failed {
		if segment.ClassOf(err) != segment.ClassPermanent || !strings.Contains(err.Error(), "400") ||
			!strings.Contains(err.Error(), "bad request") || !strings.Contains(err.Error(), "truncated") ||
			!strings.Contains(err.Error(), "splitting its request 1 times") {
			t.Errorf("message %d: %v", i, err)
		}
	}
	// The request, then each message alone; none of them again.
	if n := len(api.requests()); n != 3 {
		t.Fatalf("a refusal must be split, not retried: %d requests", n)
	}
	api.mu.Lock()
	api.always = nil
	api.mu.Unlock()
	if err := o.WriteBatch(context.Background(), segBatch(segTrack(2))); err != nil {
		t.Fatalf("later batches must flow: %v", err)
	}
}

func TestSegmentOutputKeyRejectedIsHeldLoggedOnceAndRecovers(t *testing.T) {
	const key = "wk_live_0123456789abcdefSECRET"
	api := newSegFakeAPI()
	api.always = &segAnswer{status: 401, body: `{"error":"invalid write key ` + key + `"}`}
	srv := httptest.NewServer(api)
	defer srv.Close()
	logs := &logBuffer{}
	o := segNewOutput(t, "write_key: "+key+"\nendpoint: "+srv.URL+"\nmax_retry_duration: 20s"+segTestFastRetry, logs)

	go func() {
		time.Sleep(1500 * time.Millisecond)
		api.mu.Lock()
		api.always = nil
		api.mu.Unlock()
	}()
	if err := o.WriteBatch(context.Background(), segBatch(segTrack(0), segTrack(1))); err != nil {
		t.Fatalf("a rejected key must be held and retried: %v", err)
	}
	if n := len(api.accepted(t)); n != 2 {
		t.Fatalf("accepted %d messages", n)
	}
	out := logs.String()
	if strings.Contains(out, key) {
		t.Fatalf("write key in logs:\n%s", out)
	}
	fp := segment.KeyFingerprint(key)
	if n := strings.Count(out, "level=ERROR"); n != 1 || !strings.Contains(out, fp) {
		t.Fatalf("want exactly one ERROR naming %s, got %d:\n%s", fp, n, out)
	}
}

func TestSegmentOutputShutdownNacksUndelivered(t *testing.T) {
	for _, how := range []string{"ctx", "close"} {
		t.Run(how, func(t *testing.T) {
			api := newSegFakeAPI()
			api.always = &segAnswer{status: 503}
			srv := httptest.NewServer(api)
			defer srv.Close()
			o := segNewOutput(t, "write_key: k\nendpoint: "+srv.URL+"\nmax_retry_duration: 1m"+segTestFastRetry, nil)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-api.arrived
				<-api.arrived
				if how == "ctx" {
					cancel()
				} else {
					_ = o.Close(context.Background())
				}
			}()
			batch := segBatch(segTrack(0), segTrack(1), segTrack(2))
			failed, _ := segWrite(t, ctx, o, batch)
			if len(failed) != 3 {
				t.Fatalf("every undelivered message must be nacked: %v", failed)
			}
			for _, err := range failed {
				if segment.ClassOf(err) != segment.ClassAborted {
					t.Fatalf("want aborted, got %v", err)
				}
			}
		})
	}
}

func TestSegmentOutputWriteKeyNeverLeaks(t *testing.T) {
	const key = "wk_live_LEAKCHECK_9f8e7d6c5b4a"
	api := newSegFakeAPI()
	api.always = &segAnswer{status: 401, body: "no such key " + key}
	srv := httptest.NewServer(api)
	defer srv.Close()
	logs := &logBuffer{}
	o := segNewOutput(t, "write_key: "+key+"\nendpoint: "+srv.URL+"\nmax_retry_duration: 200ms"+segTestFastRetry, logs)

	batch := segBatch(segTrack(0), []byte(`{"type":"track"}`))
	failed, err := segWrite(t, context.Background(), o, batch)
	if segment.ClassOf(failed[0]) != segment.ClassKeyRejected {
		t.Fatalf("want key rejected, got %v", failed[0])
	}
	texts := []string{err.Error(), logs.String()}
	for _, e := range failed {
		texts = append(texts, e.Error())
	}
	// What `echo` prints: the config marshalled with secrets scrubbed.
	var parsed any
	if err := yaml.Unmarshal([]byte("output:\n  segment:\n    write_key: "+key+"\n    region: eu\n"), &parsed); err != nil {
		t.Fatal(err)
	}
	echoed, err := service.GlobalEnvironment().FullConfigSchema("", "").NewStreamConfigMarshaller().SetScrubSecrets(true).AnyToYAML(parsed)
	if err != nil {
		t.Fatal(err)
	}
	texts = append(texts, echoed)
	for _, s := range texts {
		if strings.Contains(s, key) {
			t.Fatalf("write key leaked in %q", s)
		}
	}
	if !strings.Contains(echoed, "segment") {
		t.Fatalf("echo output lacks the output: %s", echoed)
	}
	if !strings.Contains(logs.String(), segment.KeyFingerprint(key)) {
		t.Fatal("logs must name the source by fingerprint")
	}
}

// ---------------------------------------------------------------- pipelines

func segStartReceiver(t *testing.T, keys ...string) *segmenttest.Receiver {
	t.Helper()
	rc, err := segmenttest.Start("127.0.0.1:0", segmenttest.Config{WriteKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

func segRunStream(t *testing.T, b *service.StreamBuilder) (stop func()) {
	t.Helper()
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	return func() {
		_ = stream.StopWithin(10 * time.Second)
		<-done
	}
}

func TestSegmentPipelineDeliversEverythingThroughFaults(t *testing.T) {
	rc := segStartReceiver(t, "pipeline-key")
	rc.QueueFaults(
		segmenttest.Fault{Status: 500},
		segmenttest.Fault{Status: 429, RetryAfter: 1},
		segmenttest.Fault{DropConnection: true},
		segmenttest.Fault{Delay: 2 * time.Second},
		segmenttest.Fault{Status: 502},
	)
	b := service.NewStreamBuilder()
	b.SetLogger((&logBuffer{}).slog())
	produce, err := b.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddOutputYAML(`
segment:
  write_key: pipeline-key
  endpoint: ` + rc.URL() + `/v1/
  max_in_flight: 4
  max_retry_duration: 30s
  timeout: 500ms
  backoff: { initial_interval: 10ms, max_interval: 100ms }
  batching: { count: 25, period: 50ms }
`); err != nil {
		t.Fatal(err)
	}
	stop := segRunStream(t, b)
	defer stop()

	sent := map[string][]byte{}
	var wg sync.WaitGroup
	for p := range 4 {
		var batch service.MessageBatch
		for i := range 50 {
			raw := segTrack(p*50 + i)
			sent[fmt.Sprintf("msg-%04d", p*50+i)] = raw
			batch = append(batch, service.NewMessage(raw))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := produce(context.Background(), batch); err != nil {
				t.Errorf("batch %d nacked: %v", p, err)
			}
		}()
	}
	wg.Wait()
	got := rc.Messages()
	if len(got) != len(sent) || rc.PendingFaults() != 0 {
		t.Fatalf("receiver has %d of %d messages, %d faults unused", len(got), len(sent), rc.PendingFaults())
	}
	for _, m := range got {
		if !bytes.Equal(m.Raw, sent[m.ID]) {
			t.Fatalf("message %s changed:\n got %s\nwant %s", m.ID, m.Raw, sent[m.ID])
		}
	}
}

func TestSegmentPipelineKeyRejectedWindowThenRecovery(t *testing.T) {
	rc := segStartReceiver(t, "window-key")
	rc.RejectKeysFor(2 * time.Second)
	env := service.NewEnvironment()
	metrics := newCaptureMetrics()
	if err := metrics.register(env); err != nil {
		t.Fatal(err)
	}
	b := env.NewStreamBuilder()
	logs := &logBuffer{}
	b.SetLogger(logs.slog())
	// generate retries nacked messages itself: max_retry_duration shorter than
	// the window makes the output hand batches back to Benthos at least once.
	if err := b.SetYAML(`
input:
  generate:
    count: 30
    interval: ""
    batch_size: 10
    mapping: |
      let n = counter()
      root = {"type":"track","event":"Email Sent","messageId":"gen-%d".format($n),"userId":"u-%d".format($n),"timestamp":"2026-11-28T13:00:00Z"}
output:
  segment:
    write_key: window-key
    endpoint: ` + rc.URL() + `
    max_retry_duration: 700ms
    backoff: { initial_interval: 50ms, max_interval: 200ms }
    batching: { count: 10, period: 50ms }
metrics:
  capture: {}
`); err != nil {
		t.Fatal(err)
	}
	stop := segRunStream(t, b)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rc.WaitForCount(ctx, 30); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range rc.Messages() {
		ids[m.ID] = true
	}
	if len(ids) != 30 {
		t.Fatalf("%d distinct messages delivered", len(ids))
	}
	if metrics.Get("segment_write_key_rejected") == 0 || metrics.Get("segment_requests_failed", "401") == 0 {
		t.Fatal("rejected key attempts must be counted")
	}
	// The receiver records a request before its answer reaches the output.
	for deadline := time.Now().Add(10 * time.Second); metrics.Get("segment_messages_accepted") < 30 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if metrics.Get("segment_messages_accepted") < 30 || metrics.Get("segment_messages_failed", "401") == 0 {
		t.Fatalf("accepted %v, failed(401) %v", metrics.Get("segment_messages_accepted"), metrics.Get("segment_messages_failed", "401"))
	}
	if strings.Contains(logs.String(), "window-key") {
		t.Fatal("write key in logs")
	}
}

func TestSegmentPipelineDeadLetter(t *testing.T) {
	rc := segStartReceiver(t, "dl-key")
	rc.AddRule(segmenttest.RejectMessageID("poison", 400))
	dlq := filepath.Join(t.TempDir(), "dead-letter.jsonl")
	b := service.NewStreamBuilder()
	b.SetLogger((&logBuffer{}).slog())
	produce, err := b.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddOutputYAML(`
fallback:
  - segment:
      write_key: dl-key
      endpoint: ` + rc.URL() + `
      max_retry_duration: 5s
      backoff: { initial_interval: 10ms, max_interval: 50ms }
      batching: { count: 1, period: 10ms }
  - switch:
      cases:
        - check: '@fallback_error.or("").contains("request refused permanently") || @fallback_error.or("").contains("invalid Segment track")'
          output:
            file:
              path: ` + dlq + `
              codec: lines
            processors:
              - mapping: |
                  root.message = content().string().parse_json()
                  root.reason = @fallback_error
                  root.fallback_error = @fallback_error
        - output:
            reject: 'not a permanent failure: ${! @fallback_error }'
`); err != nil {
		t.Fatal(err)
	}
	stop := segRunStream(t, b)

	send := func(raw string) error {
		return produce(context.Background(), service.MessageBatch{service.NewMessage([]byte(raw))})
	}
	good := func(id string) string {
		return `{"type":"track","event":"Email Sent","messageId":"` + id + `","userId":"u"}`
	}
	for _, raw := range []string{good("before"), good("poison"), `{"type":"track","event":"No Id","messageId":"anon-less"}`, good("after-1"), good("after-2")} {
		if err := send(raw); err != nil {
			t.Fatalf("dead-lettered messages must be acked by the dead-letter output: %v", err)
		}
	}
	stop()

	var ids []string
	for _, m := range rc.Messages() {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "before,after-1,after-2" {
		t.Fatalf("receiver got %v", ids)
	}
	f, err := os.Open(dlq)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reasons := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Message struct {
				MessageID string `json:"messageId"`
			} `json:"message"`
			Reason        string `json:"reason"`
			FallbackError string `json:"fallback_error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("dead-letter line %s: %v", sc.Text(), err)
		}
		if line.Reason != line.FallbackError {
			t.Errorf("reason %q differs from fallback_error %q", line.Reason, line.FallbackError)
		}
		reasons[line.Message.MessageID] = line.Reason
	}
	if !strings.Contains(reasons["poison"], "400") || !strings.Contains(reasons["poison"], "message poison rejected") {
		t.Errorf("poison reason: %q", reasons["poison"])
	}
	if !strings.Contains(reasons["anon-less"], segment.RuleIdentity) {
		t.Errorf("invalid reason: %q", reasons["anon-less"])
	}
	if len(reasons) != 2 {
		t.Errorf("dead letters: %v", reasons)
	}
}

func TestSegmentPipelineShutdownMidRetryAcksNothing(t *testing.T) {
	rc := segStartReceiver(t, "sd-key")
	rc.SetFault(segmenttest.Fault{Status: 503})
	b := service.NewStreamBuilder()
	b.SetLogger((&logBuffer{}).slog())
	produce, err := b.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddOutputYAML(`
segment:
  write_key: sd-key
  endpoint: ` + rc.URL() + `
  max_retry_duration: 1m
  backoff: { initial_interval: 20ms, max_interval: 100ms }
`); err != nil {
		t.Fatal(err)
	}
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	done := make(chan error, 1)
	go func() { done <- stream.Run(runCtx) }()

	result := make(chan error, 1)
	// The producer learns of the nack, or (if the engine stops before passing
	// it on) gives up waiting: either way the batch is not acked.
	prodCtx, cancelProd := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelProd()
	go func() {
		result <- produce(prodCtx, service.MessageBatch{service.NewMessage(segTrack(1)), service.NewMessage(segTrack(2))})
	}()
	for len(rc.Requests()) < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	_ = stream.StopWithin(2 * time.Second)
	if err := <-result; err == nil {
		t.Fatal("a batch interrupted mid-retry must be nacked, not acked")
	}
	cancelRun()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	if rc.Count() != 0 {
		t.Fatalf("receiver accepted %d messages during an outage", rc.Count())
	}
}

// ---------------------------------------------------------------- benchmark

// BenchmarkSegmentOutputWriteBatch delivers b.N messages in batches of 250
// to an in-process receiver, four batches in flight.
func BenchmarkSegmentOutputWriteBatch(b *testing.B) {
	rc := segmenttest.New(segmenttest.Config{CountOnly: true, MaxRecordedRequests: -1})
	srv := httptest.NewServer(rc)
	defer srv.Close()
	conf, err := segmentOutputSpec().ParseYAML("write_key: bench\nendpoint: "+srv.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	o, err := newSegmentOutputFromParsed(conf, service.MockResources())
	if err != nil {
		b.Fatal(err)
	}
	if err := o.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer o.Close(context.Background())

	const batchSize, inFlight = 250, 4
	batches := make(chan service.MessageBatch, inFlight)
	var wg sync.WaitGroup
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				if err := o.WriteBatch(context.Background(), batch); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n += batchSize {
		batch := make(service.MessageBatch, 0, batchSize)
		for i := n; i < n+batchSize && i < b.N; i++ {
			batch = append(batch, service.NewMessage(segTrack(i)))
		}
		batches <- batch
	}
	close(batches)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	if rc.Count() < b.N {
		b.Fatalf("receiver counted %d of %d", rc.Count(), b.N)
	}
}

// ---------------------------------------------------------------- outcomes through batching

// segOutcomePipeline is the shipped delivery pattern: segment with output
// batching inside a fallback whose switch dead-letters what Segment refused
// and nacks the rest. It returns a producer and the dead-letter file.
func segOutcomePipeline(t *testing.T, rc *segmenttest.Receiver, key string) (produce service.MessageBatchHandlerFunc, deadLetters func() map[string]string, stop func()) {
	t.Helper()
	dlq := filepath.Join(t.TempDir(), "dead-letter.jsonl")
	b := service.NewStreamBuilder()
	b.SetLogger((&logBuffer{}).slog())
	produce, err := b.AddBatchProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddOutputYAML(`
fallback:
  - segment:
      write_key: ` + key + `
      endpoint: ` + rc.URL() + `
      backoff: { initial_interval: 10ms, max_interval: 50ms }
      batching: { count: 250, period: 100ms }
  - switch:
      cases:
        - check: '@fallback_error.or("").contains("request refused permanently") || @fallback_error.or("").contains("invalid Segment track")'
          output:
            file:
              path: ` + dlq + `
              codec: lines
            processors:
              - mapping: |
                  root.id = content().string().parse_json().messageId
                  root.reason = @fallback_error
        - output:
            reject: 'not delivered: ${! @fallback_error }'
`); err != nil {
		t.Fatal(err)
	}
	stop = segRunStream(t, b)
	deadLetters = func() map[string]string {
		out := map[string]string{}
		data, err := os.ReadFile(dlq)
		if os.IsNotExist(err) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var d struct{ ID, Reason string }
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				t.Fatalf("dead letter %q: %v", line, err)
			}
			out[d.ID] = d.Reason
		}
		return out
	}
	return produce, deadLetters, stop
}

// segProduceAll sends transactions concurrently, as several Braze requests
// in flight do, so that the batch policy merges them, and fails the test if
// one is nacked.
func segProduceAll(t *testing.T, produce service.MessageBatchHandlerFunc, txs [][][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	for i, tx := range txs {
		var batch service.MessageBatch
		for _, raw := range tx {
			batch = append(batch, service.NewMessage(raw))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := produce(context.Background(), batch); err != nil {
				t.Errorf("transaction %d nacked: %v", i, err)
			}
		}()
	}
	wg.Wait()
}

// segCheckDelivered checks that the receiver holds every id in want exactly
// once and nothing else.
func segCheckDelivered(t *testing.T, rc *segmenttest.Receiver, want map[string]bool) {
	t.Helper()
	got := map[string]int{}
	for _, m := range rc.Messages() {
		got[m.ID]++
	}
	if rc.Duplicates() != 0 {
		t.Errorf("%d duplicates reached the receiver", rc.Duplicates())
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("message %s delivered %d times", id, got[id])
		}
	}
	for id := range got {
		if !want[id] {
			t.Errorf("message %s delivered, but it should not be", id)
		}
	}
	t.Logf("delivered %d distinct messages (%d duplicates) of %d expected", len(got), rc.Duplicates(), len(want))
}

func segTrackID(id string) []byte {
	return fmt.Appendf(nil, `{"type":"track","event":"Email Sent","messageId":%q,"userId":"u","timestamp":"2026-11-28T13:00:00Z","properties":{"n":1}}`, id)
}

// TestSegmentPipelineOneInvalidMessageAmong250: ten transactions of 25
// messages, merged by the batch policy into one batch of 250, one message
// with a 150-character id: it alone is dead-lettered, with its own reason;
// the 249 others are delivered once and none of them is dead-lettered.
func TestSegmentPipelineOneInvalidMessageAmong250(t *testing.T) {
	rc := segStartReceiver(t, "outcome-key")
	produce, deadLetters, stop := segOutcomePipeline(t, rc, "outcome-key")
	bad := strings.Repeat("x", 150)
	want := map[string]bool{}
	var txs [][][]byte
	for tx := range 10 {
		var msgs [][]byte
		for i := range 25 {
			id := fmt.Sprintf("m-%02d-%02d", tx, i)
			if tx == 6 && i == 13 {
				id = bad
			} else {
				want[id] = true
			}
			msgs = append(msgs, segTrackID(id))
		}
		txs = append(txs, msgs)
	}
	segProduceAll(t, produce, txs)
	stop()
	dl := deadLetters()
	t.Logf("dead-lettered %d", len(dl))
	if len(dl) != 1 || !strings.Contains(dl[bad], segment.RuleMessageIDLen) {
		t.Fatalf("dead letters %v, want only the 150-character id with its reason", dl)
	}
	segCheckDelivered(t, rc, want)
}

// TestSegmentPipelinePoisonMessageIsolated: a stand-in that answers 400 to
// any request holding one poison message: only that message is
// dead-lettered, with the stand-in's answer.
func TestSegmentPipelinePoisonMessageIsolated(t *testing.T) {
	rc := segStartReceiver(t, "poison-key")
	rc.AddRule(segmenttest.RejectMessageID("poison", http.StatusBadRequest))
	produce, deadLetters, stop := segOutcomePipeline(t, rc, "poison-key")
	want := map[string]bool{}
	var txs [][][]byte
	for tx := range 8 {
		var msgs [][]byte
		for i := range 100 {
			id := fmt.Sprintf("p-%d-%03d", tx, i)
			if tx == 3 && i == 57 {
				id = "poison"
			} else {
				want[id] = true
			}
			msgs = append(msgs, segTrackID(id))
		}
		txs = append(txs, msgs)
	}
	segProduceAll(t, produce, txs)
	stop()
	dl := deadLetters()
	t.Logf("dead-lettered %d", len(dl))
	if len(dl) != 1 || !strings.Contains(dl["poison"], "400") || !strings.Contains(dl["poison"], "message poison rejected") {
		t.Fatalf("dead letters %v, want only the poison message with the stand-in's answer", dl)
	}
	segCheckDelivered(t, rc, want)
}

// TestSegmentPipelineSmallRequestLimitLosesNothing: a stand-in that takes
// requests of at most 64 KB answers 413 to the output's 250-message
// requests; they are split and resent, all delivered, none dead-lettered.
func TestSegmentPipelineSmallRequestLimitLosesNothing(t *testing.T) {
	rc, err := segmenttest.Start("127.0.0.1:0", segmenttest.Config{WriteKeys: []string{"limit-key"}, MaxRequestBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	produce, deadLetters, stop := segOutcomePipeline(t, rc, "limit-key")
	want := map[string]bool{}
	var txs [][][]byte
	pad := strings.Repeat("p", 900)
	for tx := range 10 {
		var msgs [][]byte
		for i := range 100 {
			id := fmt.Sprintf("l-%d-%03d", tx, i)
			want[id] = true
			msgs = append(msgs, fmt.Appendf(nil, `{"type":"track","event":"e","messageId":%q,"userId":"u","properties":{"p":%q}}`, id, pad))
		}
		txs = append(txs, msgs)
	}
	segProduceAll(t, produce, txs)
	stop()
	dl := deadLetters()
	t.Logf("dead-lettered %d", len(dl))
	if len(dl) != 0 {
		t.Fatalf("%d messages dead-lettered for size: %v", len(dl), dl)
	}
	segCheckDelivered(t, rc, want)
	refused := 0
	for _, r := range rc.Requests() {
		if r.Status == http.StatusRequestEntityTooLarge {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("the stand-in never answered 413: the test does not test splitting")
	}
	t.Logf("%d requests answered 413 and split", refused)
}
