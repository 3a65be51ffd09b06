package plugin

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/brazehttp"
)

// The documented memory bound of braze_currents (docs/braze-currents-input.md,
// the max_in_flight_events field): the live heap the input lets into the
// pipeline is at most
//
//	max_in_flight_requests × max_body_bytes × brazeBodyFactor + max_in_flight_events × brazeEventCost
//
// over the process's baseline, for any mix of event sizes. The body factor
// covers a body while it is read and what it becomes downstream: the
// envelope (kept until acknowledged), its events' Segment calls (about as
// large as the events), and the segment output's copies and encoded
// requests (measured: 2.1–2.3 × the body for 1,000 events of 10 KiB held by the
// segment output during an outage). The event cost covers what an event
// costs whatever its size (measured: 3.3 to 4.1 KiB for the smallest valid
// events held by the segment output, 1 KiB by an output that only holds
// them).
const (
	brazeBodyFactor = 4
	brazeEventCost  = 6 << 10
)

func brazeMemoryBound(requests, bodyBytes, events int) int64 {
	return int64(requests)*int64(bodyBytes)*brazeBodyFactor + int64(events)*brazeEventCost
}

// brazeMemoryNoise is what the heap varies by with nothing held: the 64
// connections' buffers, goroutines, the metrics and the logs of the run.
const brazeMemoryNoise = 16 << 20

// brazeHold is a test output that takes every message and holds it until
// released, so that everything the input let in stays in memory.
type brazeHold struct {
	release chan struct{}
	once    sync.Once
	seen    atomic.Int64
}

func (o *brazeHold) Connect(context.Context) error { return nil }
func (o *brazeHold) Close(context.Context) error   { o.Release(); return nil }
func (o *brazeHold) Release()                      { o.once.Do(func() { close(o.release) }) }

func (o *brazeHold) Write(ctx context.Context, _ *service.Message) error {
	o.seen.Add(1)
	select {
	case <-o.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// brazeMemSampler samples the heap and the resident set until stopped.
type brazeMemSampler struct {
	stop                    chan struct{}
	done                    chan struct{}
	peakHeap, peakRSS, base uint64
}

func brazeResident() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func brazeLiveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func startBrazeMemSampler() *brazeMemSampler {
	s := &brazeMemSampler{stop: make(chan struct{}), done: make(chan struct{}), base: brazeLiveHeap()}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			s.peakHeap = max(s.peakHeap, ms.HeapInuse)
			s.peakRSS = max(s.peakRSS, brazeResident())
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *brazeMemSampler) finish() { close(s.stop); <-s.done }

const mib = float64(1 << 20)

// brazeTinyBody returns a gzip'd envelope whose decoded size is just under
// limit, of the smallest events that map to Segment calls, and their count.
func brazeTinyBody(limit int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	n := 0
	for {
		ev := fmt.Sprintf(`{"event_type":"users.messages.email.Send","id":"%07d","time":1764334800,"user":{"user_id":"u%07d","external_user_id":"x%07d"}}`, n, n, n)
		if b.Len()+len(ev)+3 > limit {
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(ev)
		n++
	}
	b.WriteString(`]}`)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(b.Bytes())
	_ = zw.Close()
	return z.Bytes(), n
}

// brazeLargeBody returns a gzip'd envelope of events events of about
// eventBytes each, just under limit decoded.
func brazeLargeBody(limit, events int) []byte {
	per := limit/events - 200
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i := range events {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"event_type":"users.messages.email.Send","id":"L%07d","time":1764334800,"user":{"user_id":"u%07d","external_user_id":"x%07d"},"properties":{"campaign_name":%q}}`,
			i, i, i, strings.Repeat(strconv.Itoa(i%10), per))
	}
	b.WriteString(`]}`)
	if b.Len() > limit {
		panic(fmt.Sprintf("large body of %d bytes", b.Len()))
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(b.Bytes())
	_ = zw.Close()
	return z.Bytes()
}

// 64 concurrent requests at the body limit (10 MiB once decoded), through
// the whole input and currents_to_segment into an output that holds every
// message: the heap stays under the documented bound, whatever the events'
// sizes. Checked twice: the peak heap in use (garbage included) against the
// bound for the limits configured, and the live heap while the admitted
// requests are held against the bound for what was admitted. The shapes:
//   - 77,101 tiny events per request under the default limits: refused 413
//     by max_events_per_request, after a count that allocates nothing;
//   - the same with the per-request limit raised: max_in_flight_events admits
//     one request at a time, the others get 429;
//   - the same into the segment output during a Segment outage;
//   - 1,000 events of 10 KiB per request into the segment output during an
//     outage: the bytes bound (max_in_flight_events admits ten).
//
// Run alone, with the figures: go test ./plugin/ -run BrazeCurrentsMemory -v
func TestBrazeCurrentsMemoryBoundedByBytesAndEvents(t *testing.T) {
	if raceEnabled {
		t.Skip("a memory measurement means nothing under the race detector")
	}
	if testing.Short() {
		t.Skip("posts 64 × 10 MiB")
	}
	const limit = brazehttp.DefaultMaxBodyBytes
	tiny, tinyEvents := brazeTinyBody(limit)
	large := brazeLargeBody(limit, brazehttp.DefaultMaxEventsPerRequest)
	t.Logf("tiny body: %d events, %.1f MiB gzip'd; large body: %d events, %.1f MiB gzip'd",
		tinyEvents, float64(len(tiny))/mib, brazehttp.DefaultMaxEventsPerRequest, float64(len(large))/mib)

	for _, tc := range []struct {
		name         string
		extra        string
		body         []byte
		perRequest   int // events of one request
		inFlightEvts int
		wantAdmitted int
		segment      bool // into the segment output during an outage, instead of a holding output
	}{
		{"tiny events, defaults", "", tiny, tinyEvents, brazehttp.DefaultMaxInFlightEvents, 0, false},
		{"tiny events, per-request limit raised", "max_events_per_request: 100000\nmax_in_flight_events: 100000", tiny, tinyEvents, 100000, 1, false},
		{"tiny events into segment during an outage", "max_events_per_request: 100000\nmax_in_flight_events: 100000", tiny, tinyEvents, 100000, 1, true},
		{"large events into segment during an outage", "", large, brazehttp.DefaultMaxEventsPerRequest, brazehttp.DefaultMaxInFlightEvents, brazehttp.DefaultMaxInFlightEvents / brazehttp.DefaultMaxEventsPerRequest, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &brazeHold{release: make(chan struct{})}
			outYAML := "braze_hold: {}"
			var api *outageAPI
			if tc.segment {
				api = newOutageAPI(t)
				outYAML = "segment:\n  write_key: seg-key\n  endpoint: " + api.URL + "\n  backoff: { initial_interval: 50ms, max_interval: 200ms }"
			}
			h := brazeStart(t, "ack_timeout: 5m\nqueue_timeout: 1m\nwrite_timeout: 7m\nread_timeout: 5m\n"+tc.extra, outYAML, func(env *service.Environment) {
				_ = env.RegisterOutput("braze_hold", service.NewConfigSpec(),
					func(*service.ParsedConfig, *service.Resources) (service.Output, int, error) { return out, 64, nil })
			})
			defer out.Release()
			runtime.GC()
			debug.FreeOSMemory()
			s := startBrazeMemSampler()

			answers := make(chan brazeAnswer, 64)
			for range 64 {
				go func() {
					answers <- brazePost(h.url, brazeTestToken, tc.body, false, map[string]string{"Content-Encoding": "gzip"})
				}()
			}
			// Every request not admitted is answered; the admitted ones wait
			// for the output, which holds their events.
			statuses := map[int]int{}
			for range 64 - tc.wantAdmitted {
				a := brazeAwaitAnswer(t, answers)
				if a.err != nil {
					t.Fatal(a.err)
				}
				statuses[a.status]++
			}
			// What the pipeline takes of the admitted requests is mapped (and
			// so in memory) before the heap is measured: at least one
			// request, then until the count stops growing (the pipeline's
			// threads block on the output, leaving the other admitted
			// requests waiting in the input with their bodies).
			if tc.wantAdmitted > 0 {
				for h.metrics.Get("currents_events_mapped") < float64(tc.perRequest) {
					time.Sleep(10 * time.Millisecond)
				}
				for last := -1.0; ; {
					n := h.metrics.Get("currents_events_mapped")
					if n == last {
						break
					}
					last = n
					time.Sleep(300 * time.Millisecond)
				}
			}
			if tc.segment {
				for api.requests.Load() == 0 { // the output holds its batches in its retry loop
					time.Sleep(10 * time.Millisecond)
				}
			}
			held := brazeLiveHeap()
			s.finish()
			reqs, evts := h.metrics.Get("braze_currents_requests_in_flight"), h.metrics.Get("braze_currents_events_in_flight")
			out.Release()
			if api != nil {
				api.down.Store(false)
			}
			for range tc.wantAdmitted {
				a := brazeAwaitAnswer(t, answers)
				statuses[a.status]++
			}

			grew := func(v uint64) float64 { return (float64(v) - float64(s.base)) / mib }
			bound := brazeMemoryBound(brazehttp.DefaultMaxInFlight, limit, tc.inFlightEvts)
			admitted := brazeMemoryBound(int(reqs), limit, int(evts))
			t.Logf("%v; %v mapped, held with %v requests and %v events in flight: live heap +%.0f MiB (bound for them +%.0f MiB); "+
				"peak heap in use +%.0f MiB (bound for the limits +%.0f MiB); peak RSS %.0f MiB",
				statuses, h.metrics.Get("currents_events_mapped"), reqs, evts, grew(held), float64(admitted)/mib,
				grew(s.peakHeap), float64(bound)/mib, float64(s.peakRSS)/mib)
			if evts > 0 {
				t.Logf("live heap per event held: %.0f bytes", grew(held)*mib/evts)
			}
			if statuses[http.StatusOK] != tc.wantAdmitted {
				t.Errorf("%d requests delivered, want %d", statuses[http.StatusOK], tc.wantAdmitted)
			}
			if int64(s.peakHeap)-int64(s.base) > bound+brazeMemoryNoise {
				t.Errorf("peak heap +%.0f MiB exceeds the documented bound +%.0f MiB", grew(s.peakHeap), float64(bound)/mib)
			}
			if int64(held)-int64(s.base) > admitted+brazeMemoryNoise {
				t.Errorf("live heap +%.0f MiB exceeds the documented bound for %v requests and %v events, +%.0f MiB", grew(held), reqs, evts, float64(admitted)/mib)
			}
		})
	}
}

// outageAPI is a Segment endpoint for the memory test: down (503) until
// told otherwise, then accepting. It streams every body away unread, so the
// heap measured is the pipeline's alone: an in-process receiver that reads
// each body would add a copy of every request in flight to it.
type outageAPI struct {
	*httptest.Server
	down     atomic.Bool
	requests atomic.Int64
}

func newOutageAPI(t *testing.T) *outageAPI {
	a := &outageAPI{}
	a.down.Store(true)
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if a.down.Load() {
			http.Error(w, `{"success":false}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true}`)
	}))
	t.Cleanup(a.Close)
	return a
}
