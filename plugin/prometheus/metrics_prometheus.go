// Package prometheus is the currents-segment Prometheus metrics exporter, a
// package of its own so that a build which has another exporter of that
// name (Redpanda Connect's) can leave it out: Benthos keeps the last
// component registered under a name, silently. The currents-segment binary
// imports it:
//
//	import _ "github.com/currents-segment/currents-segment/plugin/prometheus"
package prometheus

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/componentname"
)

const (
	pmFieldPrefix         = "prefix"
	pmFieldTimerType      = "timer_type"
	pmFieldTimerBuckets   = "timer_buckets"
	pmFieldGoMetrics      = "add_go_metrics"
	pmFieldProcessMetrics = "add_process_metrics"
)

func prometheusMetricsSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Version("0.1.0").
		Summary("Exposes every Benthos and currents-segment metric in the Prometheus text format at `/metrics` on the binary's HTTP server.").
		Description(`
The metrics are served by the HTTP server every Benthos binary runs (`+"`http.address`"+`, `+"`0.0.0.0:4195`"+` by default) at
`+"`/metrics`"+` (and `+"`/stats`"+`): Benthos hands a metrics exporter's HTTP handler to that server, so no
second port is needed. Scrape it with a job such as `+"`static_configs: [{targets: [\"currents-segment:4195\"]}]`"+`.

Every metric keeps its Benthos name and labels, with characters Prometheus does not allow replaced by `+"`_`"+`:
counters and gauges as they are (for example `+"`currents_events_mapped{event_type=...}`, `segment_messages_failed{class=...}`, `buffer_disk_backlog_messages`, `buffer_disk_oldest_message_age_seconds`"+`),
and timers, which Benthos measures in nanoseconds, as histograms (or summaries) in seconds with a `+"`_ns`"+` suffix
turned into `+"`_seconds`"+`, for example `+"`segment_request_latency_seconds`"+`. Benthos adds the labels `+"`label`"+` and `+"`path`"+`
naming the component.`).
		Fields(
			service.NewStringField(pmFieldPrefix).
				Description("A prefix for every metric name except the Go and process collectors', for example `currents_segment` to turn `input_received` into `currents_segment_input_received`. An underscore is added between them.").
				Example("currents_segment").
				Default(""),
			service.NewStringAnnotatedEnumField(pmFieldTimerType, map[string]string{
				"histogram": "A histogram in seconds with the buckets of `" + pmFieldTimerBuckets + "`: aggregatable across instances, for `histogram_quantile`.",
				"summary":   "A summary in seconds with the 0.5, 0.9 and 0.99 quantiles over the last 10 minutes, computed in the process.",
			}).
				Description("How timers (latencies) are exposed.").
				Default("histogram"),
			service.NewFloatListField(pmFieldTimerBuckets).
				Description("The upper bounds, in seconds, of the histogram buckets of every timer.").
				Default([]any{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0}).
				Advanced(),
			service.NewBoolField(pmFieldGoMetrics).
				Description("Whether to add the Go runtime metrics (`go_goroutines`, `go_memstats_heap_inuse_bytes`, garbage collection, ...).").
				Default(true).
				Advanced(),
			service.NewBoolField(pmFieldProcessMetrics).
				Description("Whether to add the process metrics (`process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds`, ...).").
				Default(true).
				Advanced(),
		).
		Example("Scrape at :4195/metrics", "Serves every metric, with a prefix, on Benthos's HTTP server.", `
http:
  address: 0.0.0.0:4195
metrics:
  prometheus:
    prefix: currents_segment
`)
}

func init() {
	err := service.RegisterMetricsExporter(componentname.PrometheusMetrics, prometheusMetricsSpec(),
		func(conf *service.ParsedConfig, log *service.Logger) (service.MetricsExporter, error) {
			return newPrometheusMetricsFromParsed(conf, log)
		})
	if err != nil {
		panic(err)
	}
}

func newPrometheusMetricsFromParsed(conf *service.ParsedConfig, log *service.Logger) (*prometheusMetrics, error) {
	p := &prometheusMetrics{
		reg:     prometheus.NewRegistry(),
		log:     log,
		vectors: map[string]registered{},
	}
	prefix, err := conf.FieldString(pmFieldPrefix)
	if err != nil {
		return nil, err
	}
	if prefix = strings.TrimSuffix(strings.TrimSpace(prefix), "_"); prefix != "" {
		p.prefix = promName(prefix) + "_"
	}
	if p.timerType, err = conf.FieldString(pmFieldTimerType); err != nil {
		return nil, err
	}
	if p.buckets, err = conf.FieldFloatList(pmFieldTimerBuckets); err != nil {
		return nil, err
	}
	for i, b := range p.buckets {
		if b <= 0 || (i > 0 && b <= p.buckets[i-1]) {
			return nil, fmt.Errorf("field %s: buckets must be positive and increasing, got %v", pmFieldTimerBuckets, p.buckets)
		}
	}
	if on, err := conf.FieldBool(pmFieldGoMetrics); err != nil {
		return nil, err
	} else if on {
		p.reg.MustRegister(collectors.NewGoCollector())
	}
	if on, err := conf.FieldBool(pmFieldProcessMetrics); err != nil {
		return nil, err
	} else if on {
		p.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	p.handler = promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{ErrorLog: promLogger{log}})
	return p, nil
}

// prometheusMetrics is a Benthos metrics exporter backed by a Prometheus
// registry of its own. Benthos serves HandlerFunc at /metrics.
type prometheusMetrics struct {
	reg       *prometheus.Registry
	handler   http.Handler
	log       *service.Logger
	prefix    string
	timerType string
	buckets   []float64

	mu      sync.Mutex
	vectors map[string]registered // by exposed name
}

type registered struct {
	kind   string
	labels string
	vec    any
}

// HandlerFunc is found by Benthos, which serves it at /metrics and /stats.
func (p *prometheusMetrics) HandlerFunc() http.HandlerFunc { return p.handler.ServeHTTP }

func (p *prometheusMetrics) Close(context.Context) error { return nil }

// vector returns the vector registered under name, creating it with mk; a
// name already used by another kind or label set gets nil (and a warning),
// and its values are dropped rather than failing the pipeline.
func (p *prometheusMetrics) vector(kind, name string, labels []string, mk func(name string, labels []string) prometheus.Collector) any {
	name = p.prefix + promName(name)
	labels = promLabels(labels)
	key := strings.Join(labels, ",")
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.vectors[name]; ok {
		if r.kind == kind && r.labels == key {
			return r.vec
		}
		p.log.Warnf("Prometheus: metric %s is used both as a %s with labels [%s] and as a %s with labels [%s]; the second is not exported", name, r.kind, r.labels, kind, key)
		return nil
	}
	c := mk(name, labels)
	if err := p.reg.Register(c); err != nil {
		p.log.Warnf("Prometheus: metric %s is not exported: %v", name, err)
		p.vectors[name] = registered{kind: kind, labels: key}
		return nil
	}
	p.vectors[name] = registered{kind: kind, labels: key, vec: c}
	return c
}

func (p *prometheusMetrics) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	vec, _ := p.vector("counter", name, labelKeys, func(n string, l []string) prometheus.Collector {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: n, Help: "Benthos counter " + name + "."}, l)
	}).(*prometheus.CounterVec)
	if vec == nil {
		return func(...string) service.MetricsExporterCounter { return promNoop{} }
	}
	children := newSeriesCache(func(values []string) service.MetricsExporterCounter {
		c, err := vec.GetMetricWithLabelValues(values...)
		if err != nil {
			p.log.Warnf("Prometheus: counter %s %v is not exported: %v", name, values, err)
			return promNoop{}
		}
		return promCounter{c}
	})
	return children.get
}

func (p *prometheusMetrics) NewGaugeCtor(name string, labelKeys ...string) service.MetricsExporterGaugeCtor {
	vec, _ := p.vector("gauge", name, labelKeys, func(n string, l []string) prometheus.Collector {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: n, Help: "Benthos gauge " + name + "."}, l)
	}).(*prometheus.GaugeVec)
	if vec == nil {
		return func(...string) service.MetricsExporterGauge { return promNoop{} }
	}
	children := newSeriesCache(func(values []string) service.MetricsExporterGauge {
		g, err := vec.GetMetricWithLabelValues(values...)
		if err != nil {
			p.log.Warnf("Prometheus: gauge %s %v is not exported: %v", name, values, err)
			return promNoop{}
		}
		return promGauge{g}
	})
	return children.get
}

func (p *prometheusMetrics) NewTimerCtor(name string, labelKeys ...string) service.MetricsExporterTimerCtor {
	exposed := strings.TrimSuffix(name, "_ns") + "_seconds"
	if strings.HasSuffix(name, "_seconds") {
		exposed = name
	}
	vec, _ := p.vector("timer", exposed, labelKeys, func(n string, l []string) prometheus.Collector {
		help := "Benthos timer " + name + ", in seconds."
		if p.timerType == "summary" {
			return prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: n, Help: help,
				Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}}, l)
		}
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: n, Help: help, Buckets: p.buckets}, l)
	}).(prometheus.ObserverVec)
	if vec == nil {
		return func(...string) service.MetricsExporterTimer { return promNoop{} }
	}
	children := newSeriesCache(func(values []string) service.MetricsExporterTimer {
		o, err := vec.GetMetricWithLabelValues(values...)
		if err != nil {
			p.log.Warnf("Prometheus: timer %s %v is not exported: %v", exposed, values, err)
			return promNoop{}
		}
		return promTimer{o}
	})
	return children.get
}

// seriesCache maps label values to the exporter's child for them. Benthos
// resolves the child on every increment (each message passing each
// component), and client_golang's lookup validates and hashes the values
// every time: with the cache a known series costs one map read, without a
// lock or an allocation. The map is replaced, never changed, when a series is
// added, which happens once per series.
type seriesCache[T any] struct {
	mk func(values []string) T

	mu   sync.Mutex // serialises additions
	byID atomic.Pointer[map[string]T]
}

func newSeriesCache[T any](mk func(values []string) T) *seriesCache[T] {
	c := &seriesCache[T]{mk: mk}
	c.byID.Store(&map[string]T{})
	return c
}

func (c *seriesCache[T]) get(values ...string) T {
	var buf [256]byte
	key := seriesKey(buf[:0], values)
	if v, ok := (*c.byID.Load())[string(key)]; ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.byID.Load()
	if v, ok := old[string(key)]; ok {
		return v
	}
	v := c.mk(values)
	next := make(map[string]T, len(old)+1)
	for k, x := range old {
		next[k] = x
	}
	next[string(key)] = v
	c.byID.Store(&next)
	return v
}

// seriesKey joins label values with a length prefix each, so that no two
// lists of values share a key.
func seriesKey(dst []byte, values []string) []byte {
	for _, v := range values {
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

type promCounter struct{ c prometheus.Counter }

func (c promCounter) Incr(n int64) {
	if n > 0 {
		c.c.Add(float64(n))
	}
}

func (c promCounter) IncrFloat64(n float64) {
	if n > 0 {
		c.c.Add(n)
	}
}

type promGauge struct{ g prometheus.Gauge }

func (g promGauge) Set(v int64)          { g.g.Set(float64(v)) }
func (g promGauge) SetFloat64(v float64) { g.g.Set(v) }

type promTimer struct{ o prometheus.Observer }

func (t promTimer) Timing(ns int64) { t.o.Observe(float64(ns) / 1e9) }

type promNoop struct{}

func (promNoop) Incr(int64)          {}
func (promNoop) IncrFloat64(float64) {}
func (promNoop) Set(int64)           {}
func (promNoop) SetFloat64(float64)  {}
func (promNoop) Timing(int64)        {}

type promLogger struct{ log *service.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn(fmt.Sprint(v...)) }

// promName makes a metric name valid: [a-zA-Z_:][a-zA-Z0-9_:]*.
func promName(s string) string { return sanitise(s, true) }

// promLabels makes label names valid, [a-zA-Z_][a-zA-Z0-9_]* and not starting
// with "__".
func promLabels(in []string) []string {
	out := make([]string, len(in))
	for i, l := range in {
		l = sanitise(l, false)
		if strings.HasPrefix(l, "__") {
			l = "x" + l
		}
		out[i] = l
	}
	return out
}

func sanitise(s string, colon bool) string {
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (colon && r == ':') || (i > 0 && r >= '0' && r <= '9')
		if !ok && i == 0 && r >= '0' && r <= '9' {
			b.WriteByte('_')
			b.WriteRune(r)
			continue
		}
		if !ok {
			r = '_'
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
