package plugin

import (
	"context"
	"strings"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"
)

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
