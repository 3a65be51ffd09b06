package storageexport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/currents-segment/currents-segment/internal/samples"
	"github.com/currents-segment/currents-segment/internal/storageexport/buckettest"
)

var exportStart = time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)

// exportDir writes a generated export of every type, perType events each, in
// the hours of starts.
func exportDir(t *testing.T, perType int, starts ...time.Time) string {
	t.Helper()
	dir := t.TempDir()
	g := samples.New(11)
	for _, s := range starts {
		if err := g.WriteStorageExport(dir, perType, s); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openDir(t *testing.T, dir string) *blob.Bucket {
	t.Helper()
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func startRun(t *testing.T, dir, cpPath string, mod func(*Options)) *Run {
	t.Helper()
	cp, err := OpenCheckpoint(cpPath, Settings{URL: "file://" + dir, Prefix: "currents"})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Bucket: openDir(t, dir), Checkpoint: cp, Selection: Selection{Prefix: "currents"}, BatchRecords: 2}
	if mod != nil {
		mod(&o)
	}
	r, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// drain takes batches until the run ends, acking each with ack(batch).
func drain(t *testing.T, r *Run, ack func(*Batch) error) (records int, damaged []*DamageError, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		b, err := r.Next(ctx)
		if err != nil {
			return records, damaged, err
		}
		records += len(b.Records)
		if b.Damage != nil {
			damaged = append(damaged, b.Damage)
		}
		b.Ack(ack(b))
	}
}

func ackAll(*Batch) error { return nil }

func TestRunBackfillThenResume(t *testing.T) {
	dir := exportDir(t, 5, exportStart, exportStart.Add(time.Hour))
	cp := filepath.Join(t.TempDir(), "cp.db")
	r := startRun(t, dir, cp, nil)
	n, damaged, err := drain(t, r, ackAll)
	if !errors.Is(err, io.EOF) || len(damaged) > 0 {
		t.Fatalf("the run ended with %v, %d damaged", err, len(damaged))
	}
	types := len(samples.Types(samples.ShapeStorage))
	if n != types*5*2 {
		t.Errorf("%d records, want %d", n, types*5*2)
	}
	s := r.Progress()
	if s.Done != int64(types*2) || s.Listed != s.Done || !s.ListingDone || s.Events != int64(n) {
		t.Errorf("progress %+v", s)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Everything is done: a second run reads nothing and ends at once, and
	// that is not "nothing selected".
	r = startRun(t, dir, cp, nil)
	n, _, err = drain(t, r, ackAll)
	if !errors.Is(err, io.EOF) || n != 0 {
		t.Errorf("the rerun read %d records and ended with %v", n, err)
	}
	if s := r.Progress(); s.AlreadyDone != int64(types*2) {
		t.Errorf("the rerun found %d done, want %d", s.AlreadyDone, types*2)
	}
}

// A nacked batch comes back, and the run does not end before it is acked.
func TestRunRedeliversNacks(t *testing.T) {
	dir := exportDir(t, 3, exportStart)
	r := startRun(t, dir, filepath.Join(t.TempDir(), "cp.db"), func(o *Options) {
		o.Selection.Types = []string{"users.messages.email.Send"}
	})
	var mu sync.Mutex
	seen := map[string]int{}
	n, _, err := drain(t, r, func(b *Batch) error {
		mu.Lock()
		defer mu.Unlock()
		key := string(b.Records[0])
		seen[key]++
		if seen[key] <= 2 {
			return errors.New("segment is down")
		}
		return nil
	})
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	// 3 records in batches of 2: two batches, each handed on three times.
	if n != 9 || len(seen) != 2 {
		t.Errorf("%d records handed on in %d distinct batches, want 9 in 2", n, len(seen))
	}
}

func TestRunNothingSelected(t *testing.T) {
	dir := exportDir(t, 1, exportStart)
	for name, mod := range map[string]func(*Options){
		"prefix": func(o *Options) { o.Selection.Prefix = "curents/" },
		"hours":  func(o *Options) { o.Selection.Since = exportStart.Add(24 * time.Hour) },
		"type":   func(o *Options) { o.Selection.Types = []string{"users.messages.email.Sent"} },
	} {
		r := startRun(t, dir, filepath.Join(t.TempDir(), "cp.db"), mod)
		_, _, err := drain(t, r, ackAll)
		var none *NothingSelectedError
		if !errors.As(err, &none) || !strings.Contains(err.Error(), "check the url and the prefix") {
			t.Errorf("%s matching nothing: err = %v, want a *NothingSelectedError", name, err)
		}
	}
}

// A truncated object gives its good records and one damage batch, and is
// done; the others are read in full.
func TestRunDamagedObject(t *testing.T) {
	dir := exportDir(t, 6, exportStart)
	var victim string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if victim == "" && strings.Contains(p, "users.messages.email.Send") && strings.HasSuffix(p, ".avro") {
			victim = p
		}
		return nil
	})
	data, _ := os.ReadFile(victim)
	os.WriteFile(victim, data[:len(data)-10], 0o644)
	var hooked []*DamageError
	var mu sync.Mutex
	r := startRun(t, dir, filepath.Join(t.TempDir(), "cp.db"), func(o *Options) {
		o.Selection.Types = []string{"users.messages.email.Send", "users.canvas.Entry"}
		o.Hooks.Damaged = func(e *DamageError) { mu.Lock(); hooked = append(hooked, e); mu.Unlock() }
	})
	n, damaged, err := drain(t, r, ackAll)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if len(damaged) != 1 || len(hooked) != 1 || !strings.Contains(damaged[0].Key, "users.messages.email.Send") {
		t.Fatalf("damage batches %v, hooked %v", damaged, hooked)
	}
	// Block size 1000: the cut loses the only block, so no record of it.
	if n != 6 || damaged[0].Records != 0 {
		t.Errorf("%d records and damage after %d, want the 6 of the good object and none of the cut one", n, damaged[0].Records)
	}
	if s := r.Progress(); s.Done != 2 || s.Damaged != 1 {
		t.Errorf("progress %+v, want 2 done, 1 damaged", s)
	}
}

// Follow mode picks up an object written into the current hour.
func TestRunFollowPicksUpNewObjects(t *testing.T) {
	dir := exportDir(t, 2, exportStart)
	now := exportStart.Add(30 * time.Minute)
	r := startRun(t, dir, filepath.Join(t.TempDir(), "cp.db"), func(o *Options) {
		o.Follow = true
		o.PollInterval = time.Second
		o.Now = func() time.Time { return now }
		o.Selection.Types = []string{"users.canvas.Entry"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := r.Next(ctx)
	if err != nil || len(b.Records) != 2 {
		t.Fatalf("first batch: %v, %v", b, err)
	}
	b.Ack(nil)

	// A new file in the same hour, written after the backfill.
	g := samples.New(99)
	extra := t.TempDir()
	if err := g.WriteStorageExport(extra, 3, exportStart.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	moved := 0
	filepath.WalkDir(extra, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(p, "event_type=users.canvas.Entry/") && strings.HasSuffix(p, ".avro") {
			rel, _ := filepath.Rel(extra, p)
			dst := filepath.Join(dir, rel)
			os.MkdirAll(filepath.Dir(dst), 0o755)
			data, _ := os.ReadFile(p)
			os.WriteFile(dst, data, 0o644)
			moved++
		}
		return nil
	})
	if moved != 1 {
		t.Fatalf("moved %d files", moved)
	}
	got := 0
	for got < 3 {
		b, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("follow did not pick up the new object: %v", err)
		}
		got += len(b.Records)
		b.Ack(nil)
	}
	// Both objects are done (once the last ack is recorded): nothing waits.
	deadline := time.Now().Add(5 * time.Second)
	for r.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r.Pending() != 0 || r.Lag() != 0 {
		t.Errorf("%d pending, lag %v with every object done", r.Pending(), r.Lag())
	}
}

// cutFirstRead answers the first GET of each .avro object with its full
// length announced but only half its bytes, then drops the connection: a
// storage service failing mid-object.
func cutFirstRead(next http.Handler) http.Handler {
	var mu sync.Mutex
	cut := map[string]bool{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ".avro") && !cut[r.URL.Path]
		if first {
			cut[r.URL.Path] = true
		}
		mu.Unlock()
		if !first {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
}

// A connection reset in the middle of an object is retried, and the records
// handed on before it are not handed on again.
func TestRunRetriesStorageFailureWithoutDuplicates(t *testing.T) {
	b := buckettest.S3Through(t, cutFirstRead)
	g := samples.New(3)
	types := []string{"users.messages.email.Send", "users.canvas.Entry"}
	for _, et := range types {
		recs := make([]map[string]any, 2500)
		for i := range recs {
			recs[i] = g.Record(et)
		}
		var buf bytes.Buffer
		if err := samples.WriteOCF(&buf, et, recs, samples.WithBlockSize(250)); err != nil {
			t.Fatal(err)
		}
		b.Put(t, "currents/x/event_type="+et+"/date=2026-11-28-13/f.avro", buf.Bytes())
	}
	cp, err := OpenCheckpoint(filepath.Join(t.TempDir(), "cp.db"), Settings{URL: b.URL, Prefix: "currents"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var retries []error
	r, err := Start(Options{Bucket: b.Open(t), Checkpoint: cp, Selection: Selection{Prefix: "currents"}, BatchRecords: 100,
		Hooks: Hooks{Retry: func(err error, _ time.Duration) { mu.Lock(); retries = append(retries, err); mu.Unlock() }}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	seen := map[string]int{}
	n, damaged, err := drain(t, r, func(b *Batch) error {
		for _, rec := range b.Records {
			var m struct{ ID string }
			json.Unmarshal(rec, &m)
			seen[m.ID]++
		}
		return nil
	})
	if !errors.Is(err, io.EOF) || len(damaged) > 0 {
		t.Fatalf("ended with %v, %d damaged", err, len(damaged))
	}
	if n != 5000 || len(seen) != 5000 {
		t.Errorf("%d records handed on, %d distinct, want 5000 once each", n, len(seen))
	}
	if len(retries) < 2 {
		t.Errorf("%d retries, want one per cut object: %v", len(retries), retries)
	}
	for _, e := range retries {
		var re *ReadError
		if !errors.As(e, &re) {
			t.Errorf("retry for %v, want a *ReadError", e)
		}
	}
}
