package plugin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/backlog"
)

func TestDiskBufferConfig(t *testing.T) {
	spec := diskBufferSpec()
	for _, tc := range []struct {
		yaml, err string
		max       int64
	}{
		{yaml: `path: DIR`, max: 1 << 30},
		{yaml: `{path: DIR, max_bytes: 500MB, sync: none}`, max: 500e6},
		{yaml: `{path: DIR, max_bytes: 20GiB}`, max: 20 << 30},
		{yaml: `{path: DIR, max_bytes: 1048576}`, max: 1 << 20},
		{yaml: `{path: DIR, max_bytes: "1.5 KiB"}`, max: 1536},
		{yaml: `{path: DIR, max_bytes: 20 parsecs}`, err: `unknown unit "parsecs"`},
		{yaml: `{path: DIR, max_bytes: 0}`, err: "out of range"},
		{yaml: `{path: DIR, read_batch_size: 0}`, err: "read_batch_size: must be at least 1"},
		{yaml: `{path: DIR, commit_delay: 0s}`, max: 1 << 30},
		{yaml: `{path: DIR, commit_delay: -1ms}`, err: "commit_delay: must be between 0s and 1s, got -1ms"},
		{yaml: `{path: DIR, commit_delay: 2s}`, err: "commit_delay: must be between 0s and 1s, got 2s"},
		{yaml: `{path: DIR, commit_delay: soon}`, err: "commit_delay"},
		{yaml: `{path: ""}`, err: "must name a directory"},
	} {
		dir := t.TempDir()
		conf, err := spec.ParseYAML(strings.ReplaceAll(tc.yaml, "DIR", dir), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		b, err := newDiskBufferFromParsed(conf, service.MockResources())
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		q, err := b.queue(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if !q.Full(tc.max+1) || q.Full(tc.max) {
			t.Errorf("%s: max_bytes is not %d", tc.yaml, tc.max)
		}
		b.Close(context.Background())
	}
}

func TestDiskBufferRefusesDamagedFile(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/"+backlog.FileName, strings.Repeat("garbage", 2000)); err != nil {
		t.Fatal(err)
	}
	conf, _ := diskBufferSpec().ParseYAML(`path: `+dir, nil)
	var logs logBuffer
	_, err := newDiskBufferFromParsed(conf, service.MockResources(service.MockResourcesOptUseLogger(service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil))))))
	if err == nil || !strings.Contains(err.Error(), dir+"/backlog.db is damaged") || strings.Contains(err.Error(), "salvage") {
		t.Fatalf("want the damage said in the error and the runbook kept out of it, got %v", err)
	}
	// The runbook is logged once, beside the error.
	if l := logs.String(); strings.Count(l, "currents-segment backlog salvage -from "+dir+"/backlog.db.damaged -to "+dir) != 1 || !strings.Contains(l, "level=ERROR") {
		t.Fatalf("want the runbook logged once at ERROR, got:\n%s", l)
	}
}

type diskStream struct {
	stream  *service.Stream
	produce service.MessageBatchHandlerFunc
	metrics *captureMetrics
	done    chan error
}

// runDiskStream runs producer → disk buffer → consumer.
func runDiskStream(t *testing.T, bufferYAML string, consume service.MessageHandlerFunc) *diskStream {
	t.Helper()
	env := service.NewEnvironment()
	ds := &diskStream{metrics: newCaptureMetrics(), done: make(chan error, 1)}
	if err := ds.metrics.register(env); err != nil {
		t.Fatal(err)
	}
	b := env.NewStreamBuilder()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.SetMetricsYAML(`capture: {}`))
	must(b.SetLoggerYAML(`level: off`))
	must(b.SetBufferYAML(bufferYAML))
	var err error
	ds.produce, err = b.AddBatchProducerFunc()
	must(err)
	must(b.AddConsumerFunc(consume))
	ds.stream, err = b.Build()
	must(err)
	go func() { ds.done <- ds.stream.Run(context.Background()) }()
	return ds
}

func (ds *diskStream) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = ds.stream.StopWithin(3 * time.Second)
	select {
	case <-ds.done:
	case <-ctx.Done():
		t.Fatal("stream did not stop")
	}
}

func TestDiskBufferDeliversInOrderWithMetadata(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var got []*service.Message
	all := make(chan struct{})
	ds := runDiskStream(t, `disk: { path: `+dir+`, read_batch_size: 7 }`, func(_ context.Context, m *service.Message) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
		if len(got) == 50 {
			close(all)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 10; i++ {
		var batch service.MessageBatch
		for j := 0; j < 5; j++ {
			m := service.NewMessage([]byte(fmt.Sprintf(`{"n":%d}`, i*5+j)))
			m.MetaSetMut("event_type", "users.messages.email.Send")
			m.MetaSetMut("attempt", int64(i))
			m.MetaSetMut("ratio", 0.5)
			m.MetaSetMut("ok", true)
			m.MetaSetMut("raw", []byte("bytes"))
			m.MetaSetMut("obj", map[string]any{"a": "b"})
			batch = append(batch, m)
		}
		if err := ds.produce(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatalf("only %d of 50 delivered", len(got))
	}
	ds.stop(t)
	for i, m := range got {
		b, _ := m.AsBytes()
		if string(b) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("message %d is %s", i, b)
		}
		if v, _ := m.MetaGetMut("attempt"); v != int64(i/5) {
			t.Fatalf("attempt %#v", v)
		}
		et, _ := m.MetaGetMut("event_type")
		ratio, _ := m.MetaGetMut("ratio")
		ok, _ := m.MetaGetMut("ok")
		raw, _ := m.MetaGetMut("raw")
		obj, _ := m.MetaGetMut("obj")
		if et != "users.messages.email.Send" || ratio != 0.5 || ok != true || string(raw.([]byte)) != "bytes" || obj.(map[string]any)["a"] != "b" {
			t.Fatalf("metadata %v %v %v %v %v", et, ratio, ok, raw, obj)
		}
	}
	if w, a := ds.metrics.Get(metricWritten), ds.metrics.Get(metricAcked); w != 50 || a != 50 {
		t.Fatalf("written %v acked %v", w, a)
	}
}

// TestDiskBufferKeepsNackedAcrossRestart: a first run whose output nacks
// everything, then a second run on the same path delivers every message once.
func TestDiskBufferKeepsNackedAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	var nacks sync.WaitGroup
	nacks.Add(1)
	var once sync.Once
	ds := runDiskStream(t, `disk: { path: `+dir+` }`, func(context.Context, *service.Message) error {
		once.Do(nacks.Done)
		return errors.New("segment says 401")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 20; i++ {
		m := service.NewMessage([]byte(strconv.Itoa(i)))
		m.MetaSetMut("i", strconv.Itoa(i))
		if err := ds.produce(ctx, service.MessageBatch{m}); err != nil {
			t.Fatal(err)
		}
	}
	nacks.Wait()
	ds.stop(t)
	if ds.metrics.Get(metricNacked) == 0 || ds.metrics.Get(metricAcked) != 0 {
		t.Fatalf("nacked %v acked %v", ds.metrics.Get(metricNacked), ds.metrics.Get(metricAcked))
	}

	var mu sync.Mutex
	seen := map[string]int{}
	all := make(chan struct{})
	ds = runDiskStream(t, `disk: { path: `+dir+` }`, func(_ context.Context, m *service.Message) error {
		b, _ := m.AsBytes()
		if v, _ := m.MetaGet("i"); v != string(b) {
			t.Errorf("metadata %q on %s", v, b)
		}
		mu.Lock()
		defer mu.Unlock()
		seen[string(b)]++
		if len(seen) == 20 {
			close(all)
		}
		return nil
	})
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatalf("second run delivered %d of 20", len(seen))
	}
	// Let a third run prove nothing acknowledged is delivered again.
	ds.stop(t)
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	ds = runDiskStream(t, `disk: { path: `+dir+` }`, func(_ context.Context, m *service.Message) error {
		b, _ := m.AsBytes()
		t.Errorf("third run delivered %s again", b)
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	ds.stop(t)
}

func TestDiskBufferFullBlocksInputUntilDelivered(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	var delivered sync.WaitGroup
	delivered.Add(4)
	ds := runDiskStream(t, `disk: { path: `+dir+`, max_bytes: 300, read_batch_size: 1 }`, func(ctx context.Context, m *service.Message) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		delivered.Done()
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	body := []byte(strings.Repeat("x", 100)) // about 115 bytes stored: two fit in 300
	for i := 0; i < 2; i++ {
		if err := ds.produce(ctx, service.MessageBatch{service.NewMessage(body)}); err != nil {
			t.Fatal(err)
		}
	}
	third := make(chan error, 1)
	go func() { third <- ds.produce(ctx, service.MessageBatch{service.NewMessage(body)}) }()
	select {
	case err := <-third:
		t.Fatalf("a write to a full buffer returned: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	waitFor(t, func() bool { return ds.metrics.Get(metricBufferFull) == 1 })
	close(release)
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	if err := ds.produce(ctx, service.MessageBatch{service.NewMessage(body)}); err != nil {
		t.Fatal(err)
	}
	delivered.Wait()
	waitFor(t, func() bool {
		return ds.metrics.Get(metricBacklogMessages) == 0 && ds.metrics.Get(metricBufferFull) == 0
	})
	ds.stop(t)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDiskBufferGauges(t *testing.T) {
	dir := t.TempDir()
	hold := make(chan struct{})
	ds := runDiskStream(t, `disk: { path: `+dir+` }`, func(ctx context.Context, m *service.Message) error {
		select {
		case <-hold:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		if err := ds.produce(ctx, service.MessageBatch{service.NewMessage([]byte("event"))}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		return ds.metrics.Get(metricBacklogMessages) == 3 && ds.metrics.Get(metricBacklogBytes) > 15 && ds.metrics.Get(metricOldestAge) > 0
	})
	close(hold)
	waitFor(t, func() bool { return ds.metrics.Get(metricBacklogMessages) == 0 && ds.metrics.Get(metricOldestAge) == 0 })
	ds.stop(t)
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// TestDiskBufferGroupsSingleMessageWrites runs generate → disk buffer → drop
// with one message per write and counts the buffer's commits (a copy of the
// disk buffer registered under another name hands its queue to the test):
// the writes must share commits rather than pay one each, and every message
// must come out.
func TestDiskBufferGroupsSingleMessageWrites(t *testing.T) {
	const n = 3000
	env := service.NewEnvironment()
	var mu sync.Mutex
	var buf *diskBuffer
	err := env.RegisterBatchBuffer("disk_counted", diskBufferSpec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchBuffer, error) {
		b, err := newDiskBufferFromParsed(conf, mgr)
		if err == nil {
			mu.Lock()
			buf = b
			mu.Unlock()
		}
		return b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	sb := env.NewStreamBuilder()
	if err := sb.SetYAML(fmt.Sprintf(`
logger: { level: off }
input:
  generate: { count: %d, interval: "", mapping: 'root = counter()' }
buffer:
  disk_counted: { path: %s, sync: none, commit_delay: 10ms }
`, n, t.TempDir())); err != nil {
		t.Fatal(err)
	}
	var got []int
	if err := sb.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		b, _ := m.AsBytes()
		i, _ := strconv.Atoi(string(b))
		mu.Lock()
		got = append(got, i)
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := stream.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("%d of %d messages delivered", len(got), n)
	}
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("message %d is %d: order lost", i, v)
		}
	}
	st, _ := buf.q.Stats() // ErrClosed after the stream, with the counts still set
	// Writes and acknowledgements share commits; one commit per write
	// would be n and more.
	if st.Commits > n/10 {
		t.Fatalf("%d single-message writes took %d commits; they should share them", n, st.Commits)
	}
	t.Logf("%d single-message writes, %d commits", n, st.Commits)
}

// bufferGoroutines counts the goroutines of open disk buffers: the queue's
// committer and the gauge loop.
func bufferGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return bytes.Count(buf, []byte("backlog.(*Queue).commitLoop")) + bytes.Count(buf, []byte("(*diskBuffer).gaugeLoop"))
}

// TestDiskBufferFailedStartHoldsNothing: Benthos builds the buffer before
// the output and does not close it when the output fails to build. The
// buffer must then hold nothing: the same process can open its path at once
// (no lock held), and no goroutine of it runs.
func TestDiskBufferFailedStartHoldsNothing(t *testing.T) {
	env := service.NewEnvironment()
	err := env.RegisterBatchOutput("failing_output", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			return nil, service.BatchPolicy{}, 0, errors.New("this output never builds")
		})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	before := bufferGoroutines()
	for range 2 { // and again: the first failure left nothing to trip over
		sb := env.NewStreamBuilder()
		if err := sb.SetYAML(fmt.Sprintf(`
logger: { level: off }
input:
  generate: { count: 1, interval: "", mapping: 'root = "x"' }
buffer:
  disk: { path: %s }
output:
  failing_output: {}
`, dir)); err != nil {
			t.Fatal(err)
		}
		stream, err := sb.Build()
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "never builds") {
			t.Fatalf("run: %v", err)
		}
	}
	q, err := backlog.Open(dir, backlog.Options{MaxBytes: 1 << 20, LockTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("the buffer path is still held after a failed start: %v", err)
	}
	q.Close()
	if after := bufferGoroutines(); after != before {
		t.Fatalf("%d buffer goroutines before the failed starts, %d after", before, after)
	}
}

// TestDiskBufferOpensOnFirstUseAndAcksAfterCommit: the constructor leaves
// the file closed; the first write opens it, and the input's ack comes only
// once the write is committed (what a readiness probe through the buffer
// relies on).
func TestDiskBufferOpensOnFirstUseAndAcksAfterCommit(t *testing.T) {
	dir := t.TempDir()
	conf, _ := diskBufferSpec().ParseYAML(`path: `+dir, nil)
	b, err := newDiskBufferFromParsed(conf, service.MockResources())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	if b.q != nil {
		t.Fatal("the constructor opened the queue")
	}
	if q, err := backlog.Open(dir, backlog.Options{MaxBytes: 1 << 20, LockTimeout: 50 * time.Millisecond}); err != nil {
		t.Fatalf("the constructor holds the file: %v", err)
	} else {
		q.Close()
	}
	acked := make(chan backlog.Stats, 1)
	err = b.WriteBatch(context.Background(), service.MessageBatch{service.NewMessage([]byte("probe"))}, func(_ context.Context, err error) error {
		if err != nil {
			t.Errorf("ack with %v", err)
		}
		st, _ := b.q.Stats()
		acked <- st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-acked:
		if st.Records != 1 {
			t.Fatalf("acked with %d records committed", st.Records)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("never acked")
	}
}

// TestDiskBufferDamagedRecordGoesToDeadLetter: a backlog of 3,000 messages
// with one record's bytes flipped on disk (the attack stalled at 1,000). The
// damaged record reaches the dead letter of a switch on errored(), with its
// sequence number, the damage and its bytes; it is counted, logged at ERROR
// and gone from the file; every other message is delivered, in order, and
// the input's new message after them.
func TestDiskBufferDamagedRecordGoesToDeadLetter(t *testing.T) {
	dir := t.TempDir()
	q, err := backlog.Open(dir, backlog.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3000; i += 100 {
		batch := make([]backlog.Record, 100)
		for j := range batch {
			batch[j] = backlog.Record{Body: []byte(fmt.Sprintf(`{"n":%d}`, i+j)), Meta: []backlog.Meta{backlog.MetaOf("n", int64(i+j))}}
		}
		if err := q.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	path := filepath.Join(dir, backlog.FileName)
	raw, _ := os.ReadFile(path)
	at := bytes.Index(raw, []byte(`{"n":1234}`))
	if at < 0 {
		t.Fatal("record not found in the file")
	}
	raw[at+6] ^= 0x01
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	env := service.NewEnvironment()
	metrics := newCaptureMetrics()
	if err := metrics.register(env); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	sb := env.NewStreamBuilder()
	logs := &logBuffer{}
	sb.SetLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError})))
	if err := sb.SetYAML(fmt.Sprintf(`
input:
  generate: { count: 1, interval: "", mapping: 'root.n = "new"' }
buffer:
  disk: { path: %s, read_batch_size: 1000 }
output:
  switch:
    cases:
      - check: errored()
        output:
          file: { path: %s/dead.jsonl, codec: lines }
          processors:
            - mapping: |
                root = this
                root.reason = error()
                root.seq = @buffer_disk_damaged_seq
      - output:
          file: { path: %s/delivered.jsonl, codec: lines }
metrics:
  capture: {}
`, dir, out, out)); err != nil {
		t.Fatal(err)
	}
	stream, err := sb.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stream.Run(ctx); err != nil {
		t.Fatal(err)
	}

	dead, _ := os.ReadFile(filepath.Join(out, "dead.jsonl"))
	var dl struct {
		DamagedRecord struct {
			Seq    uint64 `json:"seq"`
			Damage string `json:"damage"`
			File   string `json:"file"`
			Bytes  []byte `json:"bytes_base64"`
		} `json:"damaged_record"`
		Reason string `json:"reason"`
		Seq    int64  `json:"seq"`
	}
	if lines := bytes.Count(dead, []byte("\n")); lines != 1 {
		t.Fatalf("%d dead letters, want 1:\n%s", lines, dead)
	}
	if err := json.Unmarshal(dead, &dl); err != nil {
		t.Fatalf("dead letter %s: %v", dead, err)
	}
	d := dl.DamagedRecord
	if d.Seq != 1235 || dl.Seq != 1235 || d.File != path || !strings.Contains(d.Damage, "checksum") ||
		!bytes.Contains(d.Bytes, []byte(`{"n":1334}`)) /* the stored bytes, flipped bit included */ || !strings.Contains(dl.Reason, "record 1235 of "+path+" is damaged") {
		t.Fatalf("dead letter %s", dead)
	}
	delivered, _ := os.Open(filepath.Join(out, "delivered.jsonl"))
	defer delivered.Close()
	sc := bufio.NewScanner(delivered)
	n := 0
	for sc.Scan() {
		want := fmt.Sprintf(`{"n":%d}`, n+btoi(n >= 1234))
		if n == 2999 {
			want = `{"n":"new"}`
		}
		if sc.Text() != want {
			t.Fatalf("delivered message %d is %s, want %s", n, sc.Text(), want)
		}
		n++
	}
	if n != 3000 {
		t.Fatalf("%d messages delivered, want 2,999 and the new one", n)
	}
	if v := metrics.Get(metricDamaged); v != 1 {
		t.Fatalf("%s is %v", metricDamaged, v)
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "record 1235 is damaged") {
		t.Fatalf("no ERROR log naming the record:\n%s", l)
	}
	q, err = backlog.Open(dir, backlog.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if st, _ := q.Stats(); st.Records != 0 {
		t.Fatalf("%d records left in the buffer", st.Records)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestDiskBufferMetricsExistFromStart: every gauge and counter of the
// buffer is exported before the first message (an increase() alert must
// fire on the first event, including on the first damaged record).
func TestDiskBufferMetricsExistFromStart(t *testing.T) {
	ds := runDiskStream(t, `disk: { path: `+t.TempDir()+` }`, func(context.Context, *service.Message) error { return nil })
	defer ds.stop(t)
	for _, name := range []string{metricBacklogMessages, metricBacklogBytes, metricOldestAge, metricBufferFull, metricMaxBytes,
		metricWritten, metricAcked, metricNacked, metricDamaged} {
		waitFor(t, func() bool {
			ds.metrics.mu.Lock()
			defer ds.metrics.mu.Unlock()
			for k := range ds.metrics.values {
				if strings.HasPrefix(k, name+"{") {
					return true
				}
			}
			return false
		})
	}
}

// TestDiskBufferUnwritablePath: a buffer directory the process may not
// write is reported as such, with the path and the fix, not as damage.
func TestDiskBufferUnwritablePath(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root, where chmod does not stop writes; backlog's TestUnwritableBacklogIsNoDamage runs the same checks as an unprivileged user")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	conf, _ := diskBufferSpec().ParseYAML(`path: `+dir, nil)
	_, err := newDiskBufferFromParsed(conf, service.MockResources())
	if err == nil || !strings.Contains(err.Error(), "cannot write "+dir+"/backlog.db: permission denied") ||
		!strings.Contains(err.Error(), "or set path to a directory") || strings.Contains(err.Error(), "damaged") {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkDiskBufferSingleMessages runs generate → disk buffer → drop with
// one message per write, as the file input and most inputs without batching
// hand messages to the buffer: the cost of the buffer per event when every
// write is small. One op is one event. buffer=none is the same stream
// without a buffer, for reference.
func BenchmarkDiskBufferSingleMessages(b *testing.B) {
	body := strings.Repeat("x", 1000)
	run := func(b *testing.B, bufferYAML string) {
		env := service.NewEnvironment()
		sb := env.NewStreamBuilder()
		must := func(err error) {
			b.Helper()
			if err != nil {
				b.Fatal(err)
			}
		}
		must(sb.SetLoggerYAML(`level: off`))
		must(sb.AddInputYAML(fmt.Sprintf(`generate: { count: %d, interval: "", mapping: 'root = "%s"' }`, b.N, body)))
		if bufferYAML != "" {
			must(sb.SetBufferYAML(bufferYAML))
		}
		must(sb.AddOutputYAML(`drop: {}`))
		stream, err := sb.Build()
		must(err)
		b.ReportAllocs()
		b.ResetTimer()
		must(stream.Run(context.Background()))
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("buffer=none", func(b *testing.B) { run(b, "") })
	for _, syncPolicy := range []string{"always", "none"} {
		for _, delay := range []string{"0s", "1ms"} {
			b.Run("sync="+syncPolicy+"/commit_delay="+delay, func(b *testing.B) {
				run(b, fmt.Sprintf(`disk: { path: %s, sync: %s, commit_delay: %s }`, b.TempDir(), syncPolicy, delay))
			})
		}
	}
}
