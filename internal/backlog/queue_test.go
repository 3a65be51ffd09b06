package backlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func rec(body string, meta ...string) Record {
	r := Record{Body: []byte(body)}
	for i := 0; i+1 < len(meta); i += 2 {
		r.Meta = append(r.Meta, Meta{Key: meta[i], Kind: 's', Value: []byte(meta[i+1])})
	}
	return r
}

func open(t testing.TB, dir string, opts Options) *Queue {
	t.Helper()
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 1 << 30
	}
	q, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func bodies(l *Lease) []string {
	var out []string
	for _, r := range l.Records {
		out = append(out, string(r.Body))
	}
	return out
}

func appendN(t testing.TB, q *Queue, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := q.Append(ctxT(t), []Record{rec(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFIFOAndMetadataRoundTrip(t *testing.T) {
	q := open(t, t.TempDir(), Options{ReadRecords: 2})
	ctx := ctxT(t)
	in := []Record{rec("a", "k1", "v1", "k2", ""), rec("b"), rec("c", "x", "y")}
	in[2].Meta = append(in[2].Meta, Meta{Key: "n", Kind: 'j', Value: []byte(`{"a":1}`)})
	if err := q.Append(ctx, in[:2]); err != nil {
		t.Fatal(err)
	}
	if err := q.Append(ctx, in[2:]); err != nil {
		t.Fatal(err)
	}
	l1, err := q.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := q.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(bodies(l1), bodies(l2)...); strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("order %v", got)
	}
	if m := l1.Records[0].Meta; len(m) != 2 || m[0].Key != "k1" || string(m[0].Value) != "v1" || m[1].Key != "k2" || len(m[1].Value) != 0 {
		t.Fatalf("meta %+v", m)
	}
	if m := l2.Records[0].Meta; len(m) != 2 || m[1].Kind != 'j' || string(m[1].Value) != `{"a":1}` {
		t.Fatalf("meta %+v", m)
	}
	if l1.Records[0].Written.IsZero() || time.Since(l1.Records[0].Written) > time.Minute {
		t.Fatalf("written %v", l1.Records[0].Written)
	}
	st, _ := q.Stats()
	if st.Records != 3 || st.Leased != 3 || st.Oldest.IsZero() {
		t.Fatalf("stats %+v", st)
	}
	if err := l1.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l2.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ = q.Stats()
	if st.Records != 0 || st.Bytes != 0 || st.Leased != 0 || !st.Oldest.IsZero() {
		t.Fatalf("stats after ack %+v", st)
	}
}

func TestReleaseRedeliversBeforeNewer(t *testing.T) {
	q := open(t, t.TempDir(), Options{ReadRecords: 2, RetryDelay: time.Millisecond})
	ctx := ctxT(t)
	appendN(t, q, 0, 6)
	l1, _ := q.Read(ctx) // 0,1
	l2, _ := q.Read(ctx) // 2,3
	l1.Release()
	l1.Release() // a second release is ignored
	if err := l1.Ack(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("ack after release: %v", err)
	}
	l3, _ := q.Read(ctx)
	if got := strings.Join(bodies(l3), ","); got != "0,1" {
		t.Fatalf("released records not first: %s", got)
	}
	l2.Release()
	l4, _ := q.Read(ctx)
	l5, _ := q.Read(ctx)
	if got := strings.Join(append(bodies(l4), bodies(l5)...), ","); got != "2,3,4,5" {
		t.Fatalf("then %s", got)
	}
	for _, l := range []*Lease{l3, l4, l5} {
		if err := l.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := q.Stats(); st.Records != 0 || st.Retrying != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRestartKeepsUnacknowledged(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, Options{MaxBytes: 1 << 20, ReadRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	appendN(t, q, 0, 10)
	l, _ := q.Read(ctx) // 0,1,2
	if err := l.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = q.Read(ctx) // 3,4,5 leased, never acknowledged
	l, _ = q.Read(ctx) // 6,7,8
	l.Release()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = open(t, dir, Options{ReadRecords: 100})
	st, _ := q.Stats()
	if st.Records != 7 {
		t.Fatalf("after restart %+v", st)
	}
	l, err = q.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(bodies(l), ","); got != "3,4,5,6,7,8,9" {
		t.Fatalf("after restart read %s", got)
	}
	appendN(t, q, 10, 11) // sequence numbers go on after the old ones
	if err := l.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	l, _ = q.Read(ctx)
	if got := strings.Join(bodies(l), ","); got != "10" {
		t.Fatalf("new record %s", got)
	}
}

func TestMaxBytesBlocksThenUnblocks(t *testing.T) {
	one := int64(len(encodeRecord(&Record{Body: []byte("0123456789")}, time.Now())))
	q := open(t, t.TempDir(), Options{MaxBytes: 2 * one})
	ctx := ctxT(t)
	r := Record{Body: []byte("0123456789")}
	for i := 0; i < 2; i++ {
		if err := q.Append(ctx, []Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	if !q.Full(one) {
		t.Fatal("not full")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := q.Append(short, []Record{r}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("append to a full backlog returned %v, want it to block until the deadline", err)
	}
	done := make(chan error, 1)
	go func() { done <- q.Append(ctx, []Record{r}) }()
	select {
	case err := <-done:
		t.Fatalf("append did not block: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	l, err := q.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.Release() // releasing frees nothing
	select {
	case err := <-done:
		t.Fatalf("append unblocked by a release: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	l, _ = q.Read(ctx)
	if err := l.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := q.Stats(); st.Records != 1 || st.Bytes != one {
		t.Fatalf("stats %+v", st)
	}
	var tl *TooLargeError
	if err := q.Append(ctx, []Record{r, r, r}); !errors.As(err, &tl) {
		t.Fatalf("oversized batch: %v", err)
	}
}

func TestLeasesAreBounded(t *testing.T) {
	q := open(t, t.TempDir(), Options{ReadRecords: 4, MaxLeasedRecords: 6})
	ctx := ctxT(t)
	appendN(t, q, 0, 20)
	l1, _ := q.Read(ctx)
	l2, _ := q.Read(ctx)
	if l1.Len()+l2.Len() != 6 {
		t.Fatalf("leased %d+%d", l1.Len(), l2.Len())
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := q.Read(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read past the lease bound: %v", err)
	}
	_ = l1.Ack(ctx)
	if l3, err := q.Read(ctx); err != nil || l3.Len() != 4 {
		t.Fatalf("after ack: %v", err)
	}
}

func TestCloseWritesDrains(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	ctx := ctxT(t)
	appendN(t, q, 0, 2)
	q.CloseWrites()
	if err := q.Append(ctx, []Record{rec("x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after CloseWrites: %v", err)
	}
	l, err := q.Read(ctx)
	if err != nil || l.Len() != 2 {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { _, err := q.Read(ctx); got <- err }()
	_ = l.Ack(ctx)
	if err := <-got; !errors.Is(err, ErrDrained) {
		t.Fatalf("read after drain: %v", err)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, Options{})
	_, err := Open(dir, Options{MaxBytes: 1 << 20, LockTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second open: %v", err)
	}
}

// TestPrepareHoldsNothing: Prepare reports what the file holds, refuses a
// file another Queue holds, and leaves nothing open behind it.
func TestPrepareHoldsNothing(t *testing.T) {
	dir, _ := filled(t, 250, 10)
	rep, err := Prepare(dir, Options{MaxBytes: 1 << 20})
	if err != nil || !rep.Existed || !rep.Checked || rep.Stats.Records != 250 || rep.Stats.Oldest.IsZero() || rep.MetaDamage != nil {
		t.Fatalf("%+v %v", rep, err)
	}
	q := open(t, dir, Options{LockTimeout: 50 * time.Millisecond}) // at once: nothing held
	var locked *LockedError
	if _, err := Prepare(dir, Options{MaxBytes: 1 << 20, LockTimeout: 50 * time.Millisecond}); !errors.As(err, &locked) {
		t.Fatalf("Prepare of a file in use: %v", err)
	}
	q.Close()
	fresh := filepath.Join(t.TempDir(), "new")
	if rep, err := Prepare(fresh, Options{MaxBytes: 1 << 20}); err != nil || rep.Existed || rep.Stats.Records != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	open(t, fresh, Options{LockTimeout: 50 * time.Millisecond})
}

func wantCorrupt(t *testing.T, dir string, wants ...string) {
	t.Helper()
	_, err := Open(dir, Options{MaxBytes: 1 << 20})
	if !IsCorrupt(err) {
		t.Fatalf("want a CorruptError, got %v", err)
	}
	msg := err.Error()
	path := filepath.Join(dir, FileName)
	for _, w := range append(wants, path, "left untouched") {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q: %s", w, msg)
		}
	}
	var corrupt *CorruptError
	errors.As(err, &corrupt)
	runbook := corrupt.Runbook()
	for _, w := range []string{"mv " + path + " " + path + ".damaged", "`currents-segment backlog salvage -from " + path + ".damaged -to " + dir + "`"} {
		if !strings.Contains(runbook, w) {
			t.Errorf("runbook lacks %q: %s", w, runbook)
		}
	}
	if strings.Contains(msg, "salvage -from") {
		t.Errorf("the runbook is in the error, said again on every retry: %s", msg)
	}
}

// filled makes a closed backlog of n records of size bytes.
func filled(t *testing.T, n, size int) (dir, path string) {
	dir = t.TempDir()
	q, err := Open(dir, Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", size)
	batch := make([]Record, 0, 100)
	for i := 0; i < n; i++ {
		batch = append(batch, rec(fmt.Sprintf("%06d%s", i, body), "i", strconv.Itoa(i)))
		if len(batch) == cap(batch) || i == n-1 {
			if err := q.Append(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, FileName)
}

func TestDamagedFilesAreRefusedAndKept(t *testing.T) {
	t.Run("not a bbolt file", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, FileName)
		os.WriteFile(path, []byte(strings.Repeat("not a database ", 1000)), 0o600)
		wantCorrupt(t, dir, "meta pages")
		if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "not a database") {
			t.Fatal("the damaged file was changed")
		}
	})
	t.Run("empty file", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, FileName), nil, 0o600)
		wantCorrupt(t, dir, "empty")
		if info, _ := os.Stat(filepath.Join(dir, FileName)); info.Size() != 0 {
			t.Fatal("the empty file was initialised")
		}
	})
	t.Run("truncated", func(t *testing.T) {
		dir, path := filled(t, 2000, 500)
		info, _ := os.Stat(path)
		if err := os.Truncate(path, info.Size()/2); err != nil {
			t.Fatal(err)
		}
		wantCorrupt(t, dir, "truncated")
		if after, _ := os.Stat(path); after.Size() != info.Size()/2 {
			t.Fatal("the truncated file was changed")
		}
	})
	t.Run("damaged pages", func(t *testing.T) {
		dir, path := filled(t, 2000, 500)
		b, _ := os.ReadFile(path)
		// Scribble over the middle of the file: branch, leaf and overflow
		// pages alike.
		for i := len(b) / 3; i < len(b)/3+3*4096; i++ {
			b[i] ^= 0x5a
		}
		os.WriteFile(path, b, 0o600)
		_, err := Open(dir, Options{MaxBytes: 1 << 20})
		if !IsCorrupt(err) || !strings.Contains(err.Error(), path) {
			t.Fatalf("want a CorruptError naming the file, got %v", err)
		}
		t.Log(err)
	})
	t.Run("damaged record", func(t *testing.T) {
		dir, path := filled(t, 3, 10)
		b, _ := os.ReadFile(path)
		i := strings.Index(string(b), "000001xxxxxxxxxx")
		if i < 0 {
			t.Fatal("record not found in file")
		}
		b[i+7] = 'y' // the page stays valid, the record's checksum does not
		os.WriteFile(path, b, 0o600)
		// The file opens (its pages are sound); the damaged record is handed
		// out as damaged, in its place, and the queue goes on past it.
		q := open(t, dir, Options{ReadRecords: 1})
		ctx := ctxT(t)
		l, err := q.Read(ctx)
		if err != nil || string(l.Records[0].Body[:6]) != "000000" {
			t.Fatalf("first record: %v", err)
		}
		l, err = q.Read(ctx)
		if err != nil {
			t.Fatalf("damaged record: %v", err)
		}
		d := l.Records[0].Damage
		if d == nil || d.Seq != 2 || !strings.Contains(d.Err.Error(), "checksum") || !strings.Contains(string(d.Bytes), "000001xyxx") {
			t.Fatalf("damaged record handed out as %+v", l.Records[0])
		}
		if err := l.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		l, err = q.Read(ctx)
		if err != nil || string(l.Records[0].Body[:6]) != "000002" {
			t.Fatalf("the record after the damaged one: %v", err)
		}
	})
}

// TestCrashKeepsEveryCommittedRecord runs a child process that appends and
// kills itself with SIGKILL mid-stream, then checks that every record whose
// Append returned is in the backlog, in order.
func TestCrashKeepsEveryCommittedRecord(t *testing.T) {
	if dir := os.Getenv("BACKLOG_CRASH_CHILD"); dir != "" {
		q, err := Open(dir, Options{MaxBytes: 1 << 30})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(2)
		}
		// Writers do not wait for the commit in progress, so hundreds of
		// writes can be handed over before the first commit ends: die mid
		// stream, once some were told committed and more are in flight.
		var told atomic.Int64
		for i := 0; ; i++ {
			if i >= 300 && told.Load() >= 100 {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
			done := make(chan error, 1)
			if err := q.AppendAsync(context.Background(), []Record{rec(strconv.Itoa(i))}, func(err error) { done <- err }); err != nil {
				os.Exit(3)
			}
			go func(i int) {
				if <-done == nil {
					fmt.Println("committed", i)
					told.Add(1)
				}
			}(i)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsEveryCommittedRecord$")
	cmd.Env = append(os.Environ(), "BACKLOG_CRASH_CHILD="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := map[int]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			i, _ := strconv.Atoi(n)
			committed[i] = true
		}
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child did not die by signal: %v", err)
	}
	if len(committed) == 0 {
		t.Fatal("child committed nothing")
	}
	// Read the whole backlog, lease after lease: the child may have
	// committed more records than one lease holds, and a record past the
	// first lease is not lost.
	q := open(t, dir, Options{ReadRecords: 1000})
	q.CloseWrites()
	read := 0
	for {
		l, err := q.Read(ctxT(t))
		if errors.Is(err, ErrDrained) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bodies(l) {
			if b != strconv.Itoa(read) {
				t.Fatalf("record %d is %s", read, b)
			}
			delete(committed, read)
			read++
		}
		if err := l.Ack(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if len(committed) > 0 {
		t.Fatalf("%d committed records lost, of %d read", len(committed), read)
	}
	t.Logf("%d records survived the SIGKILL", read)
}

// TestCommitDelayGroupsStreamingWrites hands the queue single-record writes
// without waiting for them, as the Benthos adapter does for an input that
// writes one message at a time: they must share far fewer commits than one
// each, every done must come after its record is committed, and order holds.
func TestCommitDelayGroupsStreamingWrites(t *testing.T) {
	q := open(t, t.TempDir(), Options{CommitDelay: 5 * time.Millisecond, ReadRecords: 5000})
	const n = 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for i := range n {
		wg.Add(1)
		err := q.AppendAsync(ctxT(t), []Record{rec(strconv.Itoa(i))}, func(err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatal(failures[0])
	}
	st, err := q.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != n {
		t.Fatalf("%d records committed once every write was done, want %d", st.Records, n)
	}
	if st.Commits > n/10 {
		t.Fatalf("%d single-record writes took %d commits; they should share them", n, st.Commits)
	}
	l, err := q.Read(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies(l) {
		if b != strconv.Itoa(i) {
			t.Fatalf("record %d is %q: order lost", i, b)
		}
	}
	t.Logf("%d writes in %d commits", n, st.Commits)
}

// TestCommitDelaySparesWaitingWriters: a writer that waits for each commit
// before the next write gains nothing from a held commit. After one hold
// that gathered nothing, no commit is held for the next 100 delays (each
// hold would cost the writer the whole delay).
func TestCommitDelaySparesWaitingWriters(t *testing.T) {
	q := open(t, t.TempDir(), Options{CommitDelay: 200 * time.Millisecond})
	appendN(t, q, 0, 50)
	q.mu.Lock()
	holds := q.holds
	q.mu.Unlock()
	if holds > 1 {
		t.Fatalf("%d commits held open for a writer that waits for each (one probe allowed)", holds)
	}
}

// TestCloseDuringCommitDelayLosesNothing closes the queue while a commit is
// held open: every write gets its verdict, and those told nil are on disk.
func TestCloseDuringCommitDelayLosesNothing(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, Options{MaxBytes: 1 << 30, CommitDelay: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	results := make(chan error, n)
	for i := range n {
		if err := q.AppendAsync(ctxT(t), []Record{rec(strconv.Itoa(i))}, func(err error) { results <- err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	// Close commits what was handed over rather than failing it.
	for range n {
		select {
		case err := <-results:
			if err != nil {
				t.Fatalf("a write handed over before Close failed with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a write never got its verdict")
		}
	}
	if err := q.AppendAsync(ctxT(t), []Record{rec("late")}, func(error) { t.Error("done called for a refused write") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after Close: %v, want ErrClosed", err)
	}
	q = open(t, dir, Options{ReadRecords: n})
	st, err := q.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != n {
		t.Fatalf("%d records on disk after %d writes were told committed", st.Records, n)
	}
}

// TestDoneOnlyAfterCommit: every done of a stream of single-record writes,
// grouped or not, finds its record in the file, read in a transaction of its
// own.
func TestDoneOnlyAfterCommit(t *testing.T) {
	for _, delay := range []time.Duration{0, 5 * time.Millisecond} {
		q := open(t, t.TempDir(), Options{CommitDelay: delay})
		const n = 500
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			seq := uint64(i + 1) // sequence numbers start at 1 in a new file
			err := q.AppendAsync(ctxT(t), []Record{rec(strconv.Itoa(i))}, func(err error) {
				defer wg.Done()
				if err != nil {
					t.Error(err)
					return
				}
				_ = q.db.View(func(tx *bolt.Tx) error {
					if v := getRecord(tx.Bucket(bucketRecords), seqKey(seq)); v == nil {
						t.Errorf("commit_delay %s: write %d was told done before its record was committed", delay, i)
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
	}
}

// TestLoneWriteIsNotHeld: the first write, and each write of a writer that
// waits for its commit before the next, is committed without a hold, however
// long CommitDelay (an hour here: a held write would time the test out).
func TestLoneWriteIsNotHeld(t *testing.T) {
	q := open(t, t.TempDir(), Options{CommitDelay: time.Hour})
	appendN(t, q, 0, 1)
	q.mu.Lock()
	holds := q.holds
	q.mu.Unlock()
	if holds != 0 {
		t.Fatalf("a lone write was held %d times", holds)
	}
}

// TestWritesDuringACommitShareTheNext: with CommitDelay off, writes handed
// over while a commit is in progress do not wait for it and all go into the
// next commit, up to a full commit; a write beyond that waits for the
// committer, so that memory stays bounded when the disk is slow. The first
// write's done runs on the committer and holds it until the test is done
// handing over.
func TestWritesDuringACommitShareTheNext(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	const n = 1 + maxOpsPerCommit
	var wg sync.WaitGroup
	entered, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // a failed test must not leave the committer held
	wg.Add(n)
	if err := q.AppendAsync(ctxT(t), []Record{rec("0")}, func(error) { close(entered); <-release; wg.Done() }); err != nil {
		t.Fatal(err)
	}
	<-entered // the first commit is done and the committer held
	for i := 1; i < n; i++ {
		if err := q.AppendAsync(ctxT(t), []Record{rec(strconv.Itoa(i))}, func(error) { wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.AppendAsync(cancelled, []Record{rec("over")}, func(error) { t.Error("done called for a refused write") }); !errors.Is(err, context.Canceled) {
		t.Fatalf("a write beyond a full queued commit: %v, want it to wait (context.Canceled)", err)
	}
	if st, _ := q.Stats(); st.WaitingWrites != 0 {
		t.Fatalf("a write waiting for the committer counted as waiting for room")
	}
	releaseOnce()
	wg.Wait()
	st, _ := q.Stats()
	if st.Records != n || st.Commits != 2 {
		t.Fatalf("%d writes: %d records in %d commits, want 2 commits", n, st.Records, st.Commits)
	}
	l, err := q.Read(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies(l) {
		if b != strconv.Itoa(i) {
			t.Fatalf("record %d is %q: order lost", i, b)
		}
	}
}
