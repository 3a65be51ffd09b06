package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/samples"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

func parseProcessor(t testing.TB, yaml string) (*currentsToSegment, error) {
	t.Helper()
	conf, err := currentsToSegmentSpec().ParseYAML(yaml, nil)
	if err != nil {
		return nil, err
	}
	return newCurrentsToSegmentFromParsed(conf, service.MockResources())
}

func TestCurrentsToSegmentConfigErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{`events: [ users.messages.email.Sent ]`, `events: unknown event type "users.messages.email.Sent": did you mean "users.messages.email.Send"?`},
		{`event_names: { users.messages.nope.Send: X }`, `event_names: unknown event type "users.messages.nope.Send"`},
		{`anonymous_users: maybe`, `anonymous_users`},
		{`properties: some`, `properties`},
		{`unknown_event_types: keep`, `unknown_event_types`},
	} {
		_, err := parseProcessor(t, c.yaml)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.yaml, err, c.want)
		}
	}
	if _, err := parseProcessor(t, `{}`); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// TestCurrentsToSegmentLintsEventTypes: an unknown type in events or
// event_names is a lint error, with the closest known type, before any start.
func TestCurrentsToSegmentLintsEventTypes(t *testing.T) {
	for conf, want := range map[string]string{
		"events: [ users.messages.email.Sent, users.messages.email.Open ]":   `events: unknown event type "users.messages.email.Sent": did you mean "users.messages.email.Send"?`,
		"event_names: { users.messages.emial.Click: Clicked }":               `event_names: unknown event type "users.messages.emial.Click": did you mean "users.messages.email.Click"?`,
		"events: [ users.messages.carrierpigeon.Coo ]":                       `events: unknown event type "users.messages.carrierpigeon.Coo"`,
		"unknown_event_types: passthrough\nevent_names: { custom.Thing: T }": "",
		"events: [ default, users.behaviors.Purchase ]":                      "",
		"event_names: { default: Thing }":                                    `event_names: unknown event type "default"`,
		"{}":                                                                 "",
	} {
		yaml := "pipeline:\n  processors:\n    - currents_to_segment:\n" + indentLines(conf, "        ") + "\n"
		err := service.NewStreamBuilder().SetYAML(yaml)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: linted: %v", conf, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: lint %v, want %q", conf, err, want)
		}
	}
}

func indentLines(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func TestCurrentsToSegmentLintsEnums(t *testing.T) {
	env := service.NewEnvironment()
	err := env.NewStreamBuilder().AddProcessorYAML(`currents_to_segment: { anonymous_users: maybe }`)
	if err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Fatalf("lint should refuse an unknown anonymous_users value: %v", err)
	}
}

const (
	evSend = `{"event_type":"users.messages.email.Send","id":"send-1","time":1764334800,"user":{"user_id":"u1","external_user_id":"x1"},"properties":{"email_address":"a@example.com","send_id":"s1","app_group_id":"ag-eu"}}`
	evAnon = `{"event_type":"users.messages.email.Open","id":"open-anon","time":1764334801,"user":{"user_id":"u2"},"properties":{"email_address":"b@example.com"}}`
	evBad  = `{"event_type":"users.messages.email.Click","id":"click-bad","time":"later","user":{"user_id":"u3","external_user_id":"x3"}}`
)

type received struct {
	body string
	meta map[string]string
	err  error
}

// runProcessor runs messages through a real stream: producer → processor →
// consumer, with the capture metrics exporter.
func runProcessor(t *testing.T, procYAML string, inputs []*service.Message) ([]received, *captureMetrics) {
	t.Helper()
	env := service.NewEnvironment()
	metrics := newCaptureMetrics()
	if err := metrics.register(env); err != nil {
		t.Fatal(err)
	}
	b := env.NewStreamBuilder()
	if err := b.SetMetricsYAML(`capture: {}`); err != nil {
		t.Fatal(err)
	}
	if err := b.SetLoggerYAML(`level: off`); err != nil {
		t.Fatal(err)
	}
	produce, err := b.AddProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddProcessorYAML(procYAML); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out []received
	if err := b.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		body, _ := m.AsBytes()
		meta := map[string]string{}
		_ = m.MetaWalk(func(k, v string) error { meta[k] = v; return nil })
		mu.Lock()
		out = append(out, received{string(body), meta, m.GetError()})
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream.Run(ctx) }()
	for _, m := range inputs {
		if err := produce(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	return out, metrics
}

func TestCurrentsToSegmentStream(t *testing.T) {
	envelope := service.NewMessage([]byte(`{"events":[` + evSend + `,` + evAnon + `,` + evBad + `]}`))
	storage := service.NewMessage([]byte(`{"id":"st-1","user_id":{"string":"u4"},"external_user_id":{"string":"x4"},"time":1764334802,"app_id":"app","platform":"ios","device_model":{"string":"iPhone15,2"},"content_card_id":"cc-1"}`))
	storage.MetaSetMut("path", "/exports/currents/dataexport.prod-01.S3.integration.abc/event_type=users.messages.contentcard.Click/date=2025-11-28-13/0.avro")
	configured := service.NewMessage([]byte(`{"id":"wh-1","user_id":"u5","external_user_id":"x5","time":1764334803}`))
	configured.MetaSetMut("table", "users.messages.webhook.Send")
	notJSON := service.NewMessage([]byte(`this is not json`))
	loneBad := service.NewMessage([]byte(`{"events":[` + strings.Replace(evBad, "click-bad", "lone-bad", 1) + `]}`))

	out, metrics := runProcessor(t, `
currents_to_segment:
  event_type: ${! @table }
  event_names:
    users.messages.webhook.Send: Webhook Delivered
`, []*service.Message{envelope, storage, configured, notJSON, loneBad})

	if len(out) != 6 {
		t.Fatalf("got %d messages, want 6 (send, bad click, card click, webhook, not JSON, lone bad): %+v", len(out), out)
	}
	byID := map[string]received{}
	for _, r := range out {
		byID[r.meta["currents_event_id"]] = r
	}
	send := byID["send-1"]
	if send.err != nil || send.meta["currents_event_type"] != "users.messages.email.Send" || send.meta["segment_event"] != "Email Sent" || send.meta["currents_app_group_id"] != "ag-eu" {
		t.Fatalf("send: %+v", send)
	}
	var call map[string]any
	if err := json.Unmarshal([]byte(send.body), &call); err != nil || call["messageId"] != "send-1" || call["userId"] != "x1" {
		t.Fatalf("send body %s (%v)", send.body, err)
	}
	bad := byID["click-bad"]
	if bad.err == nil || !strings.Contains(bad.err.Error(), `field "time": expected a number of UNIX seconds, got string "later"`) || bad.body != evBad {
		t.Fatalf("bad event must flow on, flagged, with its own JSON: %+v", bad)
	}
	if lone := byID["lone-bad"]; lone.err == nil || lone.body != strings.Replace(evBad, "click-bad", "lone-bad", 1) {
		t.Fatalf("a batch of one bad event must dead-letter the event, not the batch: %+v", lone)
	}
	card := byID["st-1"]
	if card.err != nil || card.meta["segment_event"] != "Content Card Clicked" || !strings.Contains(card.body, `"card_id":"cc-1"`) || !strings.Contains(card.body, `"device":{"model":"iPhone15,2","type":"ios"}`) {
		t.Fatalf("storage record typed by path: %+v", card)
	}
	if wh := byID["wh-1"]; wh.err != nil || wh.meta["segment_event"] != "Webhook Delivered" {
		t.Fatalf("configured type and rename: %+v", wh)
	}
	if nj := byID[""]; nj.err == nil || nj.body != "this is not json" || !strings.Contains(nj.err.Error(), "message is not a Currents event: expected a JSON object") {
		t.Fatalf("not JSON: %+v", nj)
	}

	for _, c := range []struct {
		labels []string
		name   string
		want   float64
	}{
		{[]string{"users.messages.email.Send"}, "currents_events_mapped", 1},
		{[]string{"users.messages.contentcard.Click"}, "currents_events_mapped", 1},
		{[]string{"users.messages.webhook.Send"}, "currents_events_mapped", 1},
		{[]string{"users.messages.email.Open", "no_external_user_id"}, "currents_events_skipped", 1},
		{[]string{"users.messages.email.Click", "invalid_field"}, "currents_events_failed", 2},
		{[]string{"none", "invalid_json"}, "currents_events_failed", 1},
	} {
		if got := metrics.Get(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v (have %v)", c.name, c.labels, got, c.want, metrics.keys())
		}
	}
}

func TestCurrentsToSegmentUnknownTypeMetricsAreBounded(t *testing.T) {
	in := []*service.Message{
		service.NewMessage([]byte(`{"event_type":"garbage.1","id":"a","time":1,"user":{"user_id":"u","external_user_id":"x"}}`)),
		service.NewMessage([]byte(`{"event_type":"garbage.2","id":"b","time":1,"user":{"user_id":"u","external_user_id":"x"}}`)),
	}
	out, metrics := runProcessor(t, `currents_to_segment: { unknown_event_types: skip }`, in)
	if len(out) != 0 {
		t.Fatalf("skipped unknown types must not be emitted: %+v", out)
	}
	if got := metrics.Get("currents_events_skipped", "unknown", "unknown_event_type"); got != 2 {
		t.Fatalf("unknown types share one label: %v", got)
	}
}

func TestCurrentsToSegmentConcurrentUse(t *testing.T) {
	p, err := parseProcessor(t, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				batch, err := p.Process(context.Background(), service.NewMessage([]byte(`{"events":[`+evSend+`,`+evBad+`]}`)))
				if err != nil || len(batch) != 2 {
					t.Errorf("batch %d: %v", len(batch), err)
					return
				}
				if b, _ := batch[0].AsBytes(); !strings.Contains(string(b), `"messageId":"send-1"`) {
					t.Errorf("wrong body %s", b)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestCurrentsToSegmentEvaluatesEventTypeOnlyWhenNeeded: a static event_type
// types flat records, and an interpolated one is evaluated only for the
// records that name no type, never for events that carry their own. The
// count() function tells: the first evaluation returns 1.
func TestCurrentsToSegmentEvaluatesEventTypeOnlyWhenNeeded(t *testing.T) {
	flat := `{"id":"wh-1","user_id":"u5","external_user_id":"x5","time":1764334803}`

	p, err := parseProcessor(t, `event_type: " users.messages.webhook.Send "`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Process(context.Background(), service.NewMessage([]byte(flat)))
	if err != nil || len(out) != 1 || out[0].GetError() != nil {
		t.Fatalf("static type: %v %v", out, err)
	}
	if typ, _ := out[0].MetaGet(metaEventType); typ != "users.messages.webhook.Send" {
		t.Fatalf("static type: got %q", typ)
	}

	p, err = parseProcessor(t, `{ event_type: '${! count("cts-event-type-evaluations") }', unknown_event_types: passthrough }`)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := p.Process(context.Background(), service.NewMessage([]byte(`{"events":[`+evSend+`]}`))); err != nil {
			t.Fatal(err)
		}
	}
	out, err = p.Process(context.Background(), service.NewMessage([]byte(flat)))
	if err != nil || len(out) != 1 || out[0].GetError() != nil {
		t.Fatalf("interpolated type: %v %v", out, err)
	}
	if typ, _ := out[0].MetaGet(metaEventType); typ != "1" {
		t.Fatalf("the interpolated event_type was evaluated %s times, want once (only for the flat record)", typ)
	}
}

// BenchmarkCurrentsToSegmentProcess is the processor's own per-event cost,
// Mapper.Map included, on messages carrying the metadata the file input sets.
// Compare with currents' BenchmarkMap for what the plugin layer adds.
func BenchmarkCurrentsToSegmentProcess(b *testing.B) {
	var buf bytes.Buffer
	if err := samples.New(42).WriteJSONLines(&buf, 1000, samples.ShapeHTTPEvent); err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	conf, err := currentsToSegmentSpec().ParseYAML(`anonymous_users: send`, nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := newCurrentsToSegmentFromParsed(conf, service.MockResources())
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]*service.Message, len(lines))
	for i, l := range lines {
		msgs[i] = service.NewMessage(l)
		msgs[i].MetaSetMut("path", "/data/events.jsonl")
		msgs[i].MetaSetMut("mod_time_unix", 1764334800)
		msgs[i].MetaSetMut("mod_time", "2026-11-28T13:00:00Z")
	}
	benchProcess(b, p, msgs)
}

// benchProcess runs p over msgs in turn, b.N times.
func benchProcess(b *testing.B, p *currentsToSegment, msgs []*service.Message) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A shallow copy shares the metadata read-only, as Benthos hands a
		// message to the processor, so the first metadata write pays the copy.
		if _, err := p.Process(ctx, msgs[i%len(msgs)].Copy()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCurrentsToSegmentProcessRequest is the processor on Braze's HTTP
// requests of 100 events, as braze_currents hands them over: the mark of
// the conforming calls and the metadata of each are in it. Reported per
// event.
func BenchmarkCurrentsToSegmentProcessRequest(b *testing.B) {
	var buf bytes.Buffer
	if err := samples.New(42).WriteHTTPBatches(&buf, 10000, 100); err != nil {
		b.Fatal(err)
	}
	bodies := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	p, err := parseProcessor(b, `anonymous_users: send`)
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]*service.Message, len(bodies))
	for i, body := range bodies {
		msgs[i] = service.NewMessage(body)
		msgs[i].MetaSetMut(metaBrazeRequestID, "req-1")
		msgs[i].MetaSetMut(metaBrazeEventCount, int64(100))
		msgs[i].MetaSetMut(metaBrazeRemoteAddr, "10.0.0.1:4711")
	}
	benchProcess(b, p, msgs)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/event")
}

// TestCurrentsToSegmentPassesFlaggedMessagesOn: a message flagged before the
// processor (a damaged disk-buffer record) keeps its bytes and its error, for
// the dead-letter route, instead of getting an error about its bytes.
func TestCurrentsToSegmentPassesFlaggedMessagesOn(t *testing.T) {
	p, err := parseProcessor(t, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	msg := service.NewMessage([]byte("\x00\x01 not an event"))
	msg.SetError(errors.New("disk buffer: record 42 is damaged"))
	out, err := p.Process(context.Background(), msg)
	if err != nil || len(out) != 1 {
		t.Fatalf("process: %d messages, %v", len(out), err)
	}
	body, _ := out[0].AsBytes()
	if string(body) != "\x00\x01 not an event" || out[0].GetError() == nil || out[0].GetError().Error() != "disk buffer: record 42 is damaged" {
		t.Fatalf("flagged message changed: %q, %v", body, out[0].GetError())
	}
}

// The default selection is Braze's connector: a known type outside it is
// skipped as not_selected (never failed as unknown, whatever
// unknown_event_types says), and mapped once listed in events, named by its
// type where Braze publishes no name.
func TestCurrentsToSegmentDefaultSelection(t *testing.T) {
	custom := `{"event_type":"users.behaviors.CustomEvent","id":"ce-1","time":1764334800,"user":{"user_id":"u","external_user_id":"x"},"properties":{"name":"played","app_id":"app"}}`
	agent := `{"event_type":"agentconsole.AgentExecuted","id":"ag-1","time":1764334800,"user":{"user_id":"u","external_user_id":"x"},"properties":{"agent_id":"a"}}`
	dismiss := `{"event_type":"users.messages.banner.Dismiss","id":"bd-1","time":1764334800,"user":{"user_id":"u","external_user_id":"x"},"properties":{"banner_placement_id":"top"}}`
	in := func() []*service.Message {
		return []*service.Message{service.NewMessage([]byte(`{"events":[` + custom + `,` + agent + `,` + dismiss + `]}`))}
	}
	out, metrics := runProcessor(t, `currents_to_segment: { unknown_event_types: reject }`, in())
	if len(out) != 1 || out[0].err != nil || out[0].meta["segment_event"] != "users.messages.banner.Dismiss" {
		t.Fatalf("want only the banner dismissal, mapped under its type: %+v", out)
	}
	for _, typ := range []string{"users.behaviors.CustomEvent", "agentconsole.AgentExecuted"} {
		if got := metrics.Get("currents_events_skipped", typ, "not_selected"); got != 1 {
			t.Errorf("%s skipped as not_selected: %v (have %v)", typ, got, metrics.keys())
		}
	}
	if got := metrics.Get("currents_events_failed", "unknown", "unknown_event_type"); got != 0 {
		t.Errorf("a known type counted as unknown: %v", got)
	}
	out, _ = runProcessor(t, `currents_to_segment: { events: [ users.behaviors.CustomEvent ] }`, in())
	// A custom event is sent under its own name.
	if len(out) != 1 || out[0].err != nil || out[0].meta["segment_event"] != "played" || !strings.Contains(out[0].body, `"event":"played"`) {
		t.Fatalf("selected by name: %+v", out)
	}
}

// The mapped counter is added to once per type and message (see typeTally):
// every event still counts, under its own type, however the types of one
// request interleave.
func TestCurrentsToSegmentCountsEveryEventOfABatch(t *testing.T) {
	send := func(id string) string { return strings.Replace(evSend, "send-1", id, 1) }
	open := func(id string) string {
		return strings.Replace(strings.Replace(evAnon, "open-anon", id, 1), `"user_id":"u2"`, `"user_id":"u2","external_user_id":"x2"`, 1)
	}
	first := service.NewMessage([]byte(`{"events":[` + strings.Join([]string{send("s1"), open("o1"), send("s2"), send("s3"), open("o2")}, ",") + `]}`))
	second := service.NewMessage([]byte(`{"events":[` + strings.Join([]string{open("o3"), send("s4")}, ",") + `]}`))
	out, metrics := runProcessor(t, `currents_to_segment: {}`, []*service.Message{first, second})
	if len(out) != 7 {
		t.Fatalf("got %d calls, want 7: %+v", len(out), out)
	}
	if got := metrics.Get("currents_events_mapped", "users.messages.email.Send"); got != 4 {
		t.Errorf("Send mapped = %v, want 4 (have %v)", got, metrics.keys())
	}
	if got := metrics.Get("currents_events_mapped", "users.messages.email.Open"); got != 3 {
		t.Errorf("Open mapped = %v, want 3 (have %v)", got, metrics.keys())
	}
}
