package backlog

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// event1K is a record the size of a Currents event as a Segment track call
// (about 1 KB) with the metadata the pipeline sets.
func event1K(i int) Record {
	body := []byte(fmt.Sprintf(`{"type":"track","event":"Email Sent","messageId":"%036d","userId":"x-%d","timestamp":"2026-11-28T13:00:00Z","properties":{`, i, i))
	for len(body) < 1000 {
		body = append(body, `"k":"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",`...)
	}
	body = append(body[:len(body)-1], "}}"...)
	return Record{Body: body, Meta: []Meta{
		{Key: "currents_event_type", Kind: 's', Value: []byte("users.messages.email.Send")},
		{Key: "currents_event_id", Kind: 's', Value: []byte(strconv.Itoa(i))},
	}}
}

func batchOf(n, from int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = event1K(from + i)
	}
	return out
}

func benchAppend(b *testing.B, sync SyncPolicy, batch int) {
	q := open(b, b.TempDir(), Options{Sync: sync})
	recs := batchOf(batch, 0)
	ctx := context.Background()
	b.SetBytes(int64(batch * 1000))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.Append(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppend: one writer, each Append waits for its commit (what the
// Benthos input sees per request).
func BenchmarkAppend(b *testing.B) {
	for _, bs := range []int{1, 100} {
		b.Run(fmt.Sprintf("sync=always/batch=%d", bs), func(b *testing.B) { benchAppend(b, SyncEveryCommit, bs) })
		b.Run(fmt.Sprintf("sync=none/batch=%d", bs), func(b *testing.B) { benchAppend(b, SyncNone, bs) })
	}
}

// BenchmarkAppendAsync: the adapter's path, AppendAsync without waiting, so
// that concurrent batches share commits (group commit).
func BenchmarkAppendAsync(b *testing.B) {
	for _, pol := range []struct {
		name string
		p    SyncPolicy
	}{{"always", SyncEveryCommit}, {"none", SyncNone}} {
		b.Run("sync="+pol.name+"/batch=100", func(b *testing.B) {
			q := open(b, b.TempDir(), Options{Sync: pol.p})
			recs := batchOf(100, 0)
			var wg sync.WaitGroup
			b.SetBytes(100 * 1000)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				wg.Add(1)
				if err := q.AppendAsync(context.Background(), recs, func(error) { wg.Done() }); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAppendAsyncSingle: one record per AppendAsync, handed over
// without waiting, as the Benthos adapter does for an input that writes one
// message at a time (file, most inputs without batching); with and without
// CommitDelay, so the two are measured side by side.
func BenchmarkAppendAsyncSingle(b *testing.B) {
	for _, pol := range []struct {
		name string
		p    SyncPolicy
	}{{"always", SyncEveryCommit}, {"none", SyncNone}} {
		for _, delay := range []time.Duration{0, time.Millisecond} {
			b.Run(fmt.Sprintf("sync=%s/commit_delay=%s", pol.name, delay), func(b *testing.B) {
				q := open(b, b.TempDir(), Options{Sync: pol.p, CommitDelay: delay})
				recs := batchOf(1, 0)
				var wg sync.WaitGroup
				b.SetBytes(1000)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					wg.Add(1)
					if err := q.AppendAsync(context.Background(), recs, func(error) { wg.Done() }); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
				b.StopTimer()
				st, _ := q.Stats()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(b.N)/float64(max(st.Commits, 1)), "events/commit")
			})
		}
	}
}

// BenchmarkReadAck: leases of 100 events read and acknowledged (each Ack
// waits for its delete to be committed), from a backlog filled beforehand.
func BenchmarkReadAck(b *testing.B) {
	q := open(b, b.TempDir(), Options{ReadRecords: 100})
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if err := q.Append(ctx, batchOf(100, i*100)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(100 * 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, err := q.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Ack(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestMillionEventBacklogHeap fills a backlog with BACKLOG_EVENTS (default
// one million) events of about 1 KB, reopens it, reads and acknowledges part
// of it, and reports the heap in use (after GC) at each step. It runs only
// with BACKLOG_MEASURE=1 (cmd/bench/disk-backlog.sh); it needs about 2.5 GB of
// disk per million events in BACKLOG_DIR (default a temporary directory).
func TestMillionEventBacklogHeap(t *testing.T) {
	if os.Getenv("BACKLOG_MEASURE") != "1" {
		t.Skip("set BACKLOG_MEASURE=1 to run (cmd/bench/disk-backlog.sh)")
	}
	n := 1_000_000
	if s := os.Getenv("BACKLOG_EVENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	dir := os.Getenv("BACKLOG_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else {
		os.RemoveAll(dir)
		defer os.RemoveAll(dir)
	}
	ctx := context.Background()
	const mib = 1 << 20
	report := func(step string, q *Queue, took time.Duration) uint64 {
		h := heapInUse()
		st, _ := q.Stats()
		info, _ := os.Stat(q.Path())
		t.Logf("%-32s heap in use %6.1f MiB  backlog %8d events %7.0f MiB  file %7.0f MiB  %v", step,
			float64(h)/mib, st.Records, float64(st.Bytes)/mib, float64(info.Size())/mib, took.Round(time.Millisecond))
		return h
	}
	base := heapInUse()
	t.Logf("heap in use before opening: %.1f MiB", float64(base)/mib)
	q, err := Open(dir, Options{MaxBytes: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	var peak uint64
	const batch = 100 // a Braze request
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i += batch {
		wg.Add(1)
		if err := q.AppendAsync(ctx, batchOf(min(batch, n-i), i), func(err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		}); err != nil {
			t.Fatal(err)
		}
		if (i+batch)%(n/4) == 0 {
			wg.Wait()
			peak = max(peak, report(fmt.Sprintf("written %d", i+batch), q, time.Since(start)))
		}
	}
	wg.Wait()
	fill := time.Since(start)
	t.Logf("filled %d events in %v: %.0f events/s", n, fill.Round(time.Millisecond), float64(n)/fill.Seconds())
	q.Close()

	// As the disk buffer starts: Prepare (the check) in its constructor,
	// Open without the check when the stream first uses it.
	start = time.Now()
	if _, err := Prepare(dir, Options{MaxBytes: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	prepared := time.Since(start)
	q, err = Open(dir, Options{MaxBytes: 1 << 40, SkipCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	report(fmt.Sprintf("prepared in %v, then opened", prepared.Round(time.Millisecond)), q, time.Since(start))
	q.Close()
	start = time.Now()
	q, err = Open(dir, Options{MaxBytes: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	peak = max(peak, report("reopened (with page check)", q, time.Since(start)))
	if os.Getenv("BACKLOG_SALVAGE") == "1" {
		to, err := Open(t.TempDir(), Options{MaxBytes: 1 << 40, Sync: SyncNone})
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		rep, err := Salvage(ctx, q.Path(), to)
		t.Logf("salvaged the whole file (tree walk) in %v: %+v %v", time.Since(start).Round(time.Millisecond), rep, err)
		to.Close()
	}
	start = time.Now()
	drain := min(n, 200_000)
	for got := 0; got < drain; {
		l, err := q.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got == 0 && string(l.Records[0].Meta[1].Value) != "0" {
			t.Fatalf("first record is %s", l.Records[0].Meta[1].Value)
		}
		got += l.Len()
		if err := l.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	peak = max(peak, report(fmt.Sprintf("read+acked %d", drain), q, took))
	t.Logf("read and acknowledged %d events in %v: %.0f events/s", drain, took.Round(time.Millisecond), float64(drain)/took.Seconds())
	t.Logf("peak heap in use %.1f MiB (%.1f MiB above the start)", float64(peak)/mib, float64(peak-min(peak, base))/mib)
	if peak > base+64*mib {
		t.Errorf("the heap grew by %.0f MiB with the backlog", float64(peak-base)/mib)
	}
}

// procWritten is the bytes this process has handed to write calls so far
// (wchar in /proc/self/io), or -1 where there is no such file.
func procWritten() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// BenchmarkFlowLargeRecords: the braze_currents path's records (one per
// Braze request, 60 KB) appended by 8 writers at a time while a reader
// leases and acknowledges them, as the disk buffer runs. written/stored is
// the bytes written to the file per byte of record: 2.08 when such records
// were values of the records bucket, 1.08 in buckets of their own (store.go).
func BenchmarkFlowLargeRecords(b *testing.B) {
	q := open(b, b.TempDir(), Options{Sync: SyncEveryCommit})
	body := make([]byte, 60000)
	ctx := context.Background()
	n := b.N
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8)
	b.SetBytes(int64(len(body)))
	w0 := procWritten()
	b.ResetTimer()
	go func() {
		for i := 0; i < n; i++ {
			slots <- struct{}{}
			wg.Add(1)
			if err := q.AppendAsync(ctx, []Record{{Body: body}}, func(error) { <-slots; wg.Done() }); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for got := 0; got < n; {
		l, err := q.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		got += l.Len()
		if err := l.Ack(ctx); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	if w0 >= 0 {
		b.ReportMetric(float64(procWritten()-w0)/float64(n*len(body)), "written/stored")
	}
}
