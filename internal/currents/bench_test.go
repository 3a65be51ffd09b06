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

// everyType selects every type of the catalog, so that every event of the
// mix is mapped: the default selection would skip the types outside it,
// which costs less than mapping them.
func everyType() []string {
	var out []string
	for _, t := range DefaultCatalog().Types() {
		out = append(out, t.Name)
	}
	return out
}

func benchmarkMap(b *testing.B, shape samples.Shape, opts Options) {
	events, types := benchEvents(b, shape)
	opts.Events = everyType()
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
		rs := m.Map(events[i%len(events)], &Origin{DefaultType: types[i%len(types)]})
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

// BenchmarkMapEnvelope measures mapping the HTTP batches Braze posts, 20
// events each (the split of the envelope included), per event:
// go test ./internal/currents -run '^$' -bench MapEnvelope -benchmem
func BenchmarkMapEnvelope(b *testing.B) {
	events, _ := benchEvents(b, samples.ShapeHTTPEvent)
	const perBatch = 20
	var batches [][]byte
	var bytesIn int64
	for i := 0; i+perBatch <= len(events); i += perBatch {
		body, err := json.Marshal(map[string]any{"events": rawMessages(events[i : i+perBatch])})
		if err != nil {
			b.Fatal(err)
		}
		batches, bytesIn = append(batches, body), bytesIn+int64(len(body))
	}
	m, err := NewMapper(DefaultCatalog(), Options{AnonymousUsers: AnonymousSend, Events: everyType()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(bytesIn / int64(len(batches)) / perBatch)
	b.ReportAllocs()
	b.ResetTimer()
	var rs []Result
	for i := 0; i < b.N/perBatch+1; i++ {
		rs = m.AppendMap(rs[:0], batches[i%len(batches)], nil)
		if len(rs) != perBatch || rs[0].Outcome == Failed {
			b.Fatalf("%d results: %+v", len(rs), rs[0])
		}
		clear(rs)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func rawMessages(events [][]byte) []json.RawMessage {
	out := make([]json.RawMessage, len(events))
	for i, e := range events {
		out[i] = e
	}
	return out
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
