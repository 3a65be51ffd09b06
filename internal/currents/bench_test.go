package currents

import (
	"encoding/json"
	"testing"

	"github.com/currents-segment/currents-segment/internal/samples"
)

// benchEvents is a realistic mix of every type, as the sample generator
// weights them (email, push, content cards and in-app messages dominate).
// Storage records carry no event_type, so their types are returned beside
// them, as the processor would read them from the object path.
func benchEvents(b *testing.B, shape samples.Shape) (events [][]byte, types []string) {
	b.Helper()
	for typ, ev := range samples.New(42).Mix(5000, shape) {
		raw, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		events, types = append(events, raw), append(types, typ)
	}
	return events, types
}

func benchmarkMap(b *testing.B, shape samples.Shape, opts Options) {
	events, types := benchEvents(b, shape)
	m, err := NewMapper(DefaultCatalog(), opts)
	if err != nil {
		b.Fatal(err)
	}
	var bytesIn int64
	for _, e := range events {
		bytesIn += int64(len(e))
	}
	b.SetBytes(bytesIn / int64(len(events)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		typ := types[i%len(types)]
		rs := m.Map(events[i%len(events)], func() string { return typ })
		if rs[0].Outcome == Failed {
			b.Fatal(rs[0].Err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkMap measures decoding and mapping one event, the processor's
// whole per-event work: go test ./currents -run '^$' -bench Map -benchmem
func BenchmarkMap(b *testing.B) {
	b.Run("http-event", func(b *testing.B) { benchmarkMap(b, samples.ShapeHTTPEvent, Options{AnonymousUsers: AnonymousSend}) })
	b.Run("storage-record", func(b *testing.B) { benchmarkMap(b, samples.ShapeStorage, Options{AnonymousUsers: AnonymousSend}) })
	b.Run("http-event-all-properties", func(b *testing.B) {
		benchmarkMap(b, samples.ShapeHTTPEvent, Options{AnonymousUsers: AnonymousSend, Properties: PropertiesAll})
	})
}

// BenchmarkJSONFloor is the cost of decoding and re-encoding the same events
// with encoding/json into maps: the naive floor the mapper is compared with.
func BenchmarkJSONFloor(b *testing.B) {
	events, _ := benchEvents(b, samples.ShapeHTTPEvent)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var v map[string]any
		if err := json.Unmarshal(events[i%len(events)], &v); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
