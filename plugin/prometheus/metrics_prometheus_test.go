package prometheus

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	// The stream test runs the Currents components with this exporter.
	_ "github.com/currents-segment/currents-segment/plugin"
)

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newTestPrometheus(t testing.TB, yaml string) *prometheusMetrics {
	t.Helper()
	conf, err := prometheusMetricsSpec().ParseYAML(yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPrometheusMetricsFromParsed(conf, service.MockResources().Logger())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func wantLines(t *testing.T, page string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Errorf("metrics page lacks %q", w)
		}
	}
	if t.Failed() {
		t.Log(page)
	}
}

func TestPrometheusExporterKinds(t *testing.T) {
	p := newTestPrometheus(t, `{prefix: cs, add_go_metrics: false, add_process_metrics: false}`)
	p.NewCounterCtor("currents_events_mapped", "label", "path", "event_type")("", "root.pipeline", "users.messages.email.Send").Incr(3)
	p.NewCounterCtor("weird-name.with dots", "bad-label")("v").Incr(1)
	p.NewGaugeCtor("buffer_disk_oldest_message_age_seconds")().(interface{ SetFloat64(float64) }).SetFloat64(1.5)
	p.NewGaugeCtor("buffer_disk_backlog_messages")().Set(42)
	p.NewTimerCtor("segment_request_latency_ns", "class")("2xx").Timing(int64(20 * time.Millisecond))
	p.NewTimerCtor("9lives_ns")().Timing(1)
	// The same name as another kind is dropped, not a panic.
	p.NewGaugeCtor("currents_events_mapped", "label", "path", "event_type")("", "x", "y").Set(1)
	p.NewCounterCtor("currents_events_mapped", "other")("z").Incr(1)
	page := scrape(t, p.handler)
	wantLines(t, page,
		`cs_currents_events_mapped{event_type="users.messages.email.Send",label="",path="root.pipeline"} 3`,
		`cs_weird_name_with_dots{bad_label="v"} 1`,
		`cs_buffer_disk_oldest_message_age_seconds 1.5`,
		`cs_buffer_disk_backlog_messages 42`,
		`cs_segment_request_latency_seconds_bucket{class="2xx",le="0.025"} 1`,
		`cs_segment_request_latency_seconds_bucket{class="2xx",le="0.01"} 0`,
		`cs_segment_request_latency_seconds_sum{class="2xx"} 0.02`,
		`cs__9lives_seconds_count 1`,
	)
	if strings.Contains(page, "go_goroutines") || strings.Contains(page, "process_") {
		t.Error("collectors added though disabled")
	}

	s := newTestPrometheus(t, `timer_type: summary`)
	s.NewTimerCtor("output_latency_ns")().Timing(int64(time.Second))
	wantLines(t, scrape(t, s.handler), `output_latency_seconds{quantile="0.5"} 1`, "go_goroutines", "process_cpu_seconds_total")
}

// TestPrometheusServedAtMetrics runs a stream whose HTTP endpoints go to a
// mux, as the binary's HTTP server does, and scrapes /metrics for Benthos's
// metrics and ours.
func TestPrometheusServedAtMetrics(t *testing.T) {
	env := service.NewEnvironment()
	b := env.NewStreamBuilder()
	mux := http.NewServeMux()
	b.SetHTTPMux(mux)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.SetLoggerYAML(`level: off`))
	must(b.SetMetricsYAML(`prometheus: {}`))
	must(b.SetBufferYAML(`disk: { path: ` + t.TempDir() + ` }`))
	produce, err := b.AddProducerFunc()
	must(err)
	must(b.AddProcessorYAML(`currents_to_segment: {}`))
	got := make(chan struct{}, 10)
	must(b.AddConsumerFunc(func(context.Context, *service.Message) error { got <- struct{}{}; return nil }))
	stream, err := b.Build()
	must(err)
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	defer func() { _ = stream.StopWithin(5 * time.Second); <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ev := `{"event_type":"users.messages.email.Send","id":"prom-1","time":1764334800,"user":{"user_id":"u1","external_user_id":"x1"},"properties":{"email_address":"a@example.com"}}`
	must(produce(ctx, service.NewMessage([]byte(ev))))
	<-got
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var page string
	waitFor(t, func() bool {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		page = string(body)
		return strings.Contains(page, "buffer_disk_messages_acked{")
	})
	wantLines(t, page,
		`currents_events_mapped{event_type="users.messages.email.Send"`,
		"buffer_disk_backlog_messages{", "buffer_disk_oldest_message_age_seconds{", "buffer_disk_messages_written{", "buffer_disk_messages_nacked{",
		"buffer_received{", "buffer_latency_seconds_bucket{", "processor_latency_seconds_bucket{",
		"go_goroutines", "process_resident_memory_bytes",
	)
}

// TestPrometheusSeriesCache increments the same and different label values
// from several goroutines: every series is its own, no increment is lost,
// and label lists that would join to the same text stay apart.
func TestPrometheusSeriesCache(t *testing.T) {
	p := newTestPrometheus(t, `{add_go_metrics: false, add_process_metrics: false}`)
	ctor := p.NewCounterCtor("events", "a", "b")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				ctor("x", "y").Incr(1)
				ctor("xy", "").Incr(2)
				ctor("", "xy").Incr(3)
				ctor(strconv.Itoa(g), strconv.Itoa(i%3)).Incr(1)
			}
		}()
	}
	wg.Wait()
	// Invalid UTF-8 cannot be a Prometheus label value: dropped with a
	// warning instead of client_golang's panic.
	ctor("\xff", "y").Incr(1)
	wantLines(t, scrape(t, p.handler),
		`events{a="x",b="y"} 4000`,
		`events{a="xy",b=""} 8000`,
		`events{a="",b="xy"} 12000`,
		`events{a="0",b="0"} 334`,
		`events{a="3",b="2"} 333`,
	)
}

func BenchmarkPrometheusCounterIncr(b *testing.B) {
	p := newTestPrometheus(b, `{add_go_metrics: false, add_process_metrics: false}`)
	ctor := p.NewCounterCtor("currents_events_mapped", "label", "path", "event_type")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ctor("", "root.pipeline.processors.0", "users.messages.email.Send").Incr(1)
	}
}
