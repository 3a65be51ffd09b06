package plugin

import (
	"bufio"
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/samples"
	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
)

// TestPipelineDeliversEveryEventExactlyAsMapped runs generated Braze POST
// bodies of every type through currents_to_segment and the segment output into
// the local receiver while it fails in every transient way. Every call must
// arrive, byte for byte as the mapper wrote it.
func TestPipelineDeliversEveryEventExactlyAsMapped(t *testing.T) {
	var buf bytes.Buffer
	if err := samples.New(2026).WriteHTTPBatches(&buf, 1000, 50); err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	want := map[string][]byte{}
	mapper, err := currents.NewMapper(currents.DefaultCatalog(), currents.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		body := append([]byte(nil), sc.Bytes()...)
		bodies = append(bodies, body)
		for _, r := range mapper.Map(body, nil) {
			if r.Outcome == currents.Mapped {
				want[r.EventID] = r.Track
			}
		}
	}
	if len(want) < 800 {
		t.Fatalf("only %d identified events generated", len(want))
	}

	rc := segStartReceiver(t, "e2e-key")
	rc.QueueFaults(
		segmenttest.Fault{Status: 500},
		segmenttest.Fault{Status: 429, RetryAfter: 1},
		segmenttest.Fault{DropConnection: true},
		segmenttest.Fault{Delay: 2 * time.Second}, // longer than the attempt timeout
		segmenttest.Fault{Status: 503},
	)
	b := service.NewStreamBuilder()
	b.SetLogger((&logBuffer{}).slog())
	produce, err := b.AddProducerFunc()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddProcessorYAML(`currents_to_segment: {}`); err != nil {
		t.Fatal(err)
	}
	if err := b.AddOutputYAML(`
segment:
  write_key: e2e-key
  endpoint: ` + rc.URL() + `
  timeout: 500ms
  backoff: { initial_interval: 20ms, max_interval: 200ms }
  max_in_flight: 4
  batching: { count: 100, period: 50ms }
`); err != nil {
		t.Fatal(err)
	}
	stop := segRunStream(t, b)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, body := range bodies {
		// Returns once every event of the body was acked: as Braze's 2xx.
		if err := produce(ctx, service.NewMessage(body)); err != nil {
			t.Fatal(err)
		}
	}
	got := rc.Messages()
	if len(got) != len(want) {
		t.Fatalf("receiver has %d distinct calls, want %d", len(got), len(want))
	}
	for _, m := range got {
		if !bytes.Equal(m.Raw, want[m.ID]) {
			t.Fatalf("call %s differs from the mapping\n got %s\nwant %s", m.ID, m.Raw, want[m.ID])
		}
	}
	if rc.PendingFaults() != 0 {
		t.Fatalf("%d faults were never hit", rc.PendingFaults())
	}
}
