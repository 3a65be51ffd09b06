package plugin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/samples"
	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
	"github.com/currents-segment/currents-segment/internal/storageexport/buckettest"
)

var storageStart = time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)

// storageExport writes a generated export of every type, perType events
// each, for each hour of starts, into a new directory.
func storageExport(t *testing.T, perType int, starts ...time.Time) string {
	t.Helper()
	dir := t.TempDir()
	g := samples.New(5)
	for _, s := range starts {
		if err := g.WriteStorageExport(dir, perType, s, samples.WithCompression(samples.CompressionDeflate)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// expectedIDs reads the export under dir with goavro itself and returns the
// Currents ids currents_to_segment's defaults send: events of the default
// selection with an external_user_id, of objects accepted by keep.
func expectedIDs(t *testing.T, dir string, keep func(key string) bool) []string {
	t.Helper()
	cat := currents.DefaultCatalog()
	var ids []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".avro") {
			return err
		}
		key, _ := filepath.Rel(dir, p)
		key = filepath.ToSlash(key)
		if keep != nil && !keep(key) {
			return nil
		}
		et := key[strings.Index(key, "event_type=")+len("event_type="):]
		et = et[:strings.IndexByte(et, '/')]
		typ, ok := cat.Lookup(et)
		if !ok || !typ.Default {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, err := goavro.NewOCFReader(bytes.NewReader(data))
		if err != nil {
			return err
		}
		for r.Scan() {
			v, err := r.Read()
			if err != nil {
				return err
			}
			rec := v.(map[string]any)
			if ext, _ := rec["external_user_id"].(map[string]any); ext != nil && ext["string"] != "" {
				ids = append(ids, rec["id"].(string))
			}
		}
		return r.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

type storageHarness struct {
	stream *service.Stream
	logs   *logBuffer
	done   chan error
}

// storageStream runs input (a braze_storage block) → currents_to_segment →
// segment into rc, with mapping failures and damaged files collected in dead.
func storageStream(t *testing.T, input string, rc *segmenttest.Receiver, dead *brazeCollect) *storageHarness {
	t.Helper()
	return storageStreamWith(t, input, rc, dead, nil)
}

// storageStreamWith is storageStream with register run on the environment
// first (a metrics capture).
func storageStreamWith(t *testing.T, input string, rc *segmenttest.Receiver, dead *brazeCollect, register func(*service.Environment) error) *storageHarness {
	t.Helper()
	env := service.NewEnvironment()
	if register != nil {
		if err := register(env); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.RegisterOutput("collect_dead", service.NewConfigSpec(), func(*service.ParsedConfig, *service.Resources) (service.Output, int, error) {
		return dead, 1, nil
	}); err != nil {
		t.Fatal(err)
	}
	b := env.NewStreamBuilder()
	logs := &logBuffer{}
	b.SetLogger(logs.slog())
	conf := `
input:
` + brazeIndent(strings.TrimSpace(input), "  ") + `
pipeline:
  processors:
    - currents_to_segment: {}
output:
  switch:
    cases:
      - check: errored()
        output:
          collect_dead: {}
      - output:
          segment:
            write_key: storage-key
            endpoint: ` + rc.URL() + `
            timeout: 2s
            backoff: { initial_interval: 20ms, max_interval: 200ms }
            max_in_flight: 4
            batching: { count: 100, period: 20ms }
`
	if register != nil {
		conf += "metrics:\n  capture: {}\n"
	}
	if err := b.SetYAML(conf); err != nil {
		t.Fatalf("%v\n%s", err, conf)
	}
	stream, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	h := &storageHarness{stream: stream, logs: logs, done: make(chan error, 1)}
	go func() { h.done <- stream.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = stream.StopWithin(5 * time.Second)
	})
	return h
}

// wait waits for a bounded run to end by itself.
func (h *storageHarness) wait(t *testing.T, within time.Duration) RunSummary {
	t.Helper()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("the stream failed: %v\n%s", err, h.logs)
		}
	case <-time.After(within):
		t.Fatalf("the run did not end within %s\n%s", within, h.logs)
	}
	return StreamSummary(h.stream.Resources())
}

// storageInputYAML is the input's config; extra fields are appended, and a
// progress_interval among them replaces the default of 100ms.
func storageInputYAML(url, checkpoint string, extra ...string) string {
	s := "braze_storage:\n  url: " + url + "\n  prefix: currents\n  checkpoint: " + checkpoint + "\n"
	progress := "  progress_interval: 100ms\n"
	for _, e := range extra {
		if strings.HasPrefix(e, "progress_interval:") {
			progress = ""
		}
		s += "  " + e + "\n"
	}
	return s + progress
}

func fileURL(dir string) string { return "file://" + filepath.ToSlash(dir) + "?metadata=skip" }

// A bounded backfill of every type over two hours delivers every event the
// processor sends, once, ends by itself and says so; the rerun reads nothing.
func TestBrazeStorageBackfillDeliversEverything(t *testing.T) {
	dir := storageExport(t, 4, storageStart, storageStart.Add(time.Hour))
	want := expectedIDs(t, dir, nil)
	rc := segStartReceiver(t, "storage-key")
	cp := filepath.Join(t.TempDir(), "cp.db")
	dead := &brazeCollect{}
	// A tick every millisecond: the whole run can take less than the
	// default 100ms on a fast machine, and then no progress line is due
	// before it ends (it failed CI that way).
	h := storageStream(t, storageInputYAML(fileURL(dir), cp, "progress_interval: 1ms"), rc, dead)
	sum := h.wait(t, time.Minute)

	got := rc.MessageIDs()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d ids, want %d", len(got), len(want))
	}
	if rc.Duplicates() != 0 || len(dead.all()) != 0 {
		t.Errorf("%d duplicates, %d dead letters", rc.Duplicates(), len(dead.all()))
	}
	types := len(samples.Types(samples.ShapeStorage))
	if sum.ObjectsDone != int64(2*types) || !sum.Complete() || sum.Delivered != int64(len(want)) {
		t.Errorf("summary %+v", sum)
	}
	for _, line := range []string{"Backfill complete", "Progress: "} {
		if !strings.Contains(h.logs.String(), line) {
			t.Errorf("the log lacks %q:\n%s", line, h.logs)
		}
	}

	rc.Reset()
	h = storageStream(t, storageInputYAML(fileURL(dir), cp), rc, dead)
	sum = h.wait(t, time.Minute)
	if rc.Count() != 0 || !sum.Complete() || !strings.Contains(h.logs.String(), "Nothing left to read") {
		t.Errorf("the rerun delivered %d, summary %+v\n%s", rc.Count(), sum, h.logs)
	}
}

// since, until and event_types cut what is read.
func TestBrazeStorageSelection(t *testing.T) {
	dir := storageExport(t, 3, storageStart, storageStart.Add(time.Hour), storageStart.Add(2*time.Hour))
	types := []string{"users.messages.email.Send", "users.canvas.Entry"}
	want := expectedIDs(t, dir, func(key string) bool {
		return strings.Contains(key, "date=2026-11-28-14/") &&
			(strings.Contains(key, "event_type="+types[0]+"/") || strings.Contains(key, "event_type="+types[1]+"/"))
	})
	if len(want) == 0 {
		t.Fatal("no events expected: the test selects nothing")
	}
	rc := segStartReceiver(t, "storage-key")
	h := storageStream(t, storageInputYAML(fileURL(dir), filepath.Join(t.TempDir(), "cp.db"),
		"since: 2026-11-28-14", "until: 2026-11-28T14:59:00Z", "event_types: [ "+strings.Join(types, ", ")+" ]"), rc, &brazeCollect{})
	sum := h.wait(t, time.Minute)
	got := rc.MessageIDs()
	slices.Sort(got)
	if !slices.Equal(got, want) || sum.ObjectsDone != 2 {
		t.Errorf("delivered %d ids of %d objects, want %d of 2", len(got), sum.ObjectsDone, len(want))
	}
}

// A prefix that matches nothing is a failure the binary exits non-zero on.
func TestBrazeStorageNothingMatchedFails(t *testing.T) {
	dir := storageExport(t, 1, storageStart)
	rc := segStartReceiver(t, "storage-key")
	h := storageStream(t, storageInputYAML(fileURL(dir), filepath.Join(t.TempDir(), "cp.db"), "since: 2027-01-01"), rc, &brazeCollect{})
	sum := h.wait(t, time.Minute)
	if sum.Complete() || len(sum.Failures) != 1 || !strings.Contains(sum.Failures[0], "no export object") || !strings.Contains(sum.Failures[0], "2027-01-01-00") {
		t.Errorf("summary %+v", sum)
	}
}

// A truncated file is reported with its key and dead-lettered as a whole-file
// record; every other object is delivered and the run ends.
func TestBrazeStorageDamagedFileIsDeadLettered(t *testing.T) {
	dir := storageExport(t, 3, storageStart)
	var victim string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(p, "event_type=users.messages.email.Send/") && strings.HasSuffix(p, ".avro") {
			victim = p
		}
		return nil
	})
	data, _ := os.ReadFile(victim)
	if err := os.WriteFile(victim, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	want := expectedIDs(t, dir, func(key string) bool { return !strings.Contains(key, "email.Send/") })
	rc := segStartReceiver(t, "storage-key")
	dead := &brazeCollect{}
	h := storageStream(t, storageInputYAML(fileURL(dir), filepath.Join(t.TempDir(), "cp.db")), rc, dead)
	sum := h.wait(t, time.Minute)
	got := rc.MessageIDs()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("delivered %d, want %d", len(got), len(want))
	}
	dl := dead.all()
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want the one whole-file record", len(dl))
	}
	key, _ := filepath.Rel(dir, victim)
	body, _ := dl[0].AsBytes()
	if p, _ := dl[0].MetaGet("path"); p != filepath.ToSlash(key) || !strings.Contains(string(body), "damaged") || dl[0].GetError() == nil {
		t.Errorf("dead letter %s (path %q, error %v)", body, p, dl[0].GetError())
	}
	for k, want := range map[string]string{"currents_event_type": "users.messages.email.Send", "currents_export_hour": "2026-11-28-13", "currents_storage_damaged": "true"} {
		if got, _ := dl[0].MetaGet(k); got != want {
			t.Errorf("dead letter metadata %s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(h.logs.String(), filepath.ToSlash(key)) || sum.ObjectsDamaged != 1 || !sum.Complete() {
		t.Errorf("summary %+v; the log does not name the damaged key:\n%s", sum, h.logs)
	}
}

// Segment rejects the write key for a while during a bounded run: the run
// waits, then finishes, and nothing is lost.
func TestBrazeStorageWaitsOutRejectedKey(t *testing.T) {
	dir := storageExport(t, 3, storageStart)
	want := expectedIDs(t, dir, nil)
	rc := segStartReceiver(t, "storage-key")
	rc.RejectKeysFor(2 * time.Second)
	h := storageStream(t, storageInputYAML(fileURL(dir), filepath.Join(t.TempDir(), "cp.db")), rc, &brazeCollect{})
	sum := h.wait(t, time.Minute)
	got := rc.MessageIDs()
	slices.Sort(got)
	if !slices.Equal(got, want) || !sum.Complete() {
		t.Errorf("delivered %d of %d; summary %+v", len(got), len(want), sum)
	}
}

// Three shards over one export: every object read by exactly one of them.
func TestBrazeStorageShards(t *testing.T) {
	dir := storageExport(t, 2, storageStart, storageStart.Add(time.Hour))
	want := expectedIDs(t, dir, nil)
	rc := segStartReceiver(t, "storage-key")
	var objects int64
	for i := range 3 {
		h := storageStream(t, storageInputYAML(fileURL(dir), filepath.Join(t.TempDir(), "cp.db"),
			"shard: { index: "+string(rune('0'+i))+", count: 3 }"), rc, &brazeCollect{})
		sum := h.wait(t, time.Minute)
		if sum.ObjectsDone == 0 {
			t.Errorf("shard %d read nothing", i)
		}
		objects += sum.ObjectsDone
	}
	got := rc.MessageIDs()
	slices.Sort(got)
	if !slices.Equal(got, want) || rc.Duplicates() != 0 || objects != int64(2*len(samples.Types(samples.ShapeStorage))) {
		t.Errorf("delivered %d (%d duplicates) of %d objects, want %d once", len(got), rc.Duplicates(), objects, len(want))
	}
}

func TestBrazeStorageConfigErrors(t *testing.T) {
	spec := brazeStorageInputSpec()
	for conf, want := range map[string]string{
		"url: s3://b\ncheckpoint: /tmp/x\nsince: last week":                     "since",
		"url: s3://b\ncheckpoint: /tmp/x\nshard: { index: 3, count: 3 }":        "shard index 3 of 3",
		"url: s3://b\ncheckpoint: /tmp/x\nsince: 2026-11-02\nuntil: 2026-11-01": "before since",
		"url: ''\ncheckpoint: /tmp/x":                                           "url is empty",
		"url: s3://b\ncheckpoint: ''":                                           "checkpoint is empty",
		"url: s3://b\ncheckpoint: /tmp/x\nbatch_size: 0":                        "batch_size",
	} {
		parsed, err := spec.ParseYAML(conf, nil)
		if err == nil {
			_, err = newBrazeStorageFromParsed(parsed, service.MockResources())
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want one naming %q", conf, err, want)
		}
	}
}

// A checkpoint of another export is refused at connect with what to do.
func TestBrazeStorageRefusesAnotherRunsCheckpoint(t *testing.T) {
	cp := filepath.Join(t.TempDir(), "cp.db")
	mk := func(prefix string) *brazeStorageInput {
		parsed, err := brazeStorageInputSpec().ParseYAML("url: "+fileURL(t.TempDir())+"\nprefix: "+prefix+"\ncheckpoint: "+cp, nil)
		if err != nil {
			t.Fatal(err)
		}
		in, err := newBrazeStorageFromParsed(parsed, service.MockResources())
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	a := mk("currents")
	if err := a.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	a.Close(t.Context())
	err := mk("other").Connect(t.Context())
	if err == nil || !strings.Contains(err.Error(), "belongs to another run") {
		t.Errorf("err = %v", err)
	}
}

// The same backfill from each storage Braze exports to, each through its
// real protocol and SDK: S3 (gofakes3 via the AWS SDK), Google Cloud Storage
// (fake-gcs-server), Azure Blob Storage (Azurite) and a local directory.
func TestBrazeStorageEveryBackend(t *testing.T) {
	dir := storageExport(t, 2, storageStart, storageStart.Add(time.Hour))
	want := expectedIDs(t, dir, nil)
	objects := int64(2 * len(samples.Types(samples.ShapeStorage)))
	for name, start := range map[string]func(testing.TB) buckettest.Bucket{
		"s3": buckettest.S3, "gcs": buckettest.GCS, "azure": buckettest.Azurite, "file": buckettest.File,
	} {
		t.Run(name, func(t *testing.T) {
			b := start(t)
			if n := uploadWithSchemaIDs(t, b, dir); n != int(objects) {
				t.Fatalf("uploaded %d objects, want %d", n, objects)
			}
			rc := segStartReceiver(t, "storage-key")
			h := storageStream(t, storageInputYAML(b.URL, filepath.Join(t.TempDir(), "cp.db")), rc, &brazeCollect{})
			sum := h.wait(t, 2*time.Minute)
			got := rc.MessageIDs()
			slices.Sort(got)
			if !slices.Equal(got, want) || rc.Duplicates() != 0 || sum.ObjectsDone != objects || !sum.Complete() {
				t.Errorf("delivered %d of %d (%d duplicates), %d of %d objects done; summary %+v", len(got), len(want), rc.Duplicates(), sum.ObjectsDone, objects, sum)
			}
		})
	}
}

// uploadWithSchemaIDs uploads the export under dir in Braze's full layout,
// with the schema-id and zone folders between the hour and the file: the
// first hour's files under schema 484, the next hour's under 485 (a schema
// change), so a run reads several schema ids.
func uploadWithSchemaIDs(t *testing.T, b buckettest.Bucket, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		schema := "484"
		if strings.Contains(rel, "date="+storageStart.Add(time.Hour).Format("2006-01-02-15")+"/") {
			schema = "485"
		}
		i := strings.LastIndexByte(rel, '/')
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b.Put(t, rel[:i]+"/"+schema+"/us-east-1"+rel[i:], data)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Follow mode reads what is there, then picks up objects Braze writes into
// the current hour while it runs, and does not end.
func TestBrazeStorageFollowPicksUpNewObjects(t *testing.T) {
	b := buckettest.S3(t)
	now := time.Now().UTC()
	first := storageExport(t, 2, now.Add(-5*time.Minute))
	b.UploadDir(t, first, "")
	rc := segStartReceiver(t, "storage-key")
	metrics := newCaptureMetrics()
	h := storageStreamWith(t, storageInputYAML(b.URL, filepath.Join(t.TempDir(), "cp.db"), "follow: true", "poll_interval: 1s"), rc, &brazeCollect{}, metrics.register)
	wantFirst := expectedIDs(t, first, nil)
	waitCount := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := rc.WaitForCount(ctx, n); err != nil {
			t.Fatalf("%d of %d delivered: %v\n%s", rc.Count(), n, err, h.logs)
		}
	}
	waitCount(len(wantFirst))

	// Braze writes a new file into the current hour.
	g := samples.New(77)
	more := t.TempDir()
	if err := g.WriteStorageExport(more, 3, now); err != nil {
		t.Fatal(err)
	}
	b.UploadDir(t, more, "")
	wantMore := expectedIDs(t, more, nil)
	waitCount(len(wantFirst) + len(wantMore))
	select {
	case err := <-h.done:
		t.Fatalf("a follow run ended by itself: %v", err)
	default:
	}
	if rc.Duplicates() != 0 {
		t.Errorf("%d duplicates", rc.Duplicates())
	}
	types := float64(len(samples.Types(samples.ShapeStorage)))
	for deadline := time.Now().Add(10 * time.Second); metrics.Get("braze_storage_objects_done") < 2*types && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if got := metrics.Get("braze_storage_objects_done"); got != 2*types {
		t.Errorf("braze_storage_objects_done = %v, want %v", got, 2*types)
	}
	// The gauges are refreshed every second, so the lag reads 0 within a
	// refresh or two of the last object being done, not at once.
	for deadline := time.Now().Add(5 * time.Second); metrics.Get("braze_storage_lag_seconds") != 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := metrics.Get("braze_storage_lag_seconds"); got != 0 {
		t.Errorf("braze_storage_lag_seconds = %v five seconds after every object was done", got)
	}
}

// A misspelt event type is a lint error naming the closest known one, once.
func TestBrazeStorageLintsEventTypes(t *testing.T) {
	b := service.NewStreamBuilder()
	err := b.AddInputYAML("braze_storage:\n  url: s3://b\n  checkpoint: /tmp/cp.db\n  event_types: [ users.messages.email.Sent, users.canvas.Entry ]\n")
	if err == nil || !strings.Contains(err.Error(), `did you mean "users.messages.email.Send"`) {
		t.Fatalf("err = %v, want a lint error with the closest type", err)
	}
	if n := strings.Count(err.Error(), "users.messages.email.Sent"); n != 1 {
		t.Errorf("the misspelt type is named %d times: %v", n, err)
	}
	if err := service.NewStreamBuilder().AddInputYAML("braze_storage:\n  url: s3://b\n  checkpoint: /tmp/cp.db\n  event_types: [ users.canvas.Entry ]\n"); err != nil {
		t.Errorf("a known type: %v", err)
	}
}
