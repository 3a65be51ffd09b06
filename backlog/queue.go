package backlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SyncPolicy says when commits reach the disk.
type SyncPolicy int

const (
	// SyncEveryCommit fsyncs every commit before any caller is told its
	// records are stored: they survive a process crash, a kernel crash and a
	// power loss. Concurrent appends share one commit, so one fsync.
	SyncEveryCommit SyncPolicy = iota
	// SyncNone leaves writing back to the kernel: a commit is in the page
	// cache when Append returns, so it survives a crash of the process (kill
	// -9, out of memory) but the last seconds of records can be lost, or the
	// file damaged, by a kernel crash or a power loss. Several times faster
	// on slow disks.
	SyncNone
)

// Options configure a Queue. Only MaxBytes is required.
type Options struct {
	// MaxBytes bounds the encoded size of the records held (the payload of
	// the file, not its size on disk, which bbolt pages and never shrinks).
	// Append blocks while a batch would not fit.
	MaxBytes int64
	// Sync is when commits are flushed to disk; the default is SyncEveryCommit.
	Sync SyncPolicy
	// ReadRecords and ReadBytes bound one lease: at most ReadRecords records,
	// and no more records once ReadBytes is reached. Defaults 100 and 1 MiB.
	ReadRecords int
	ReadBytes   int
	// MaxLeasedRecords bounds the records leased and not yet acknowledged or
	// released; Read blocks at the limit. Default 10,000.
	MaxLeasedRecords int
	// RetryDelay is how long released records wait before they are read
	// again; it doubles with every release up to MaxRetryDelay and falls
	// back after an acknowledgement. Defaults 100ms and 5s.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// LockTimeout is how long Open waits for another process to let go of
	// the file. Default 1s.
	LockTimeout time.Duration
	// CommitDelay is how long the committer may hold a commit open for more
	// writes while writes are streaming in, so that many small appends
	// (inputs that write one message at a time) share one transaction and
	// one fsync. Writes that piled up during the previous commit show a
	// stream; a lone write after a quiet moment, or from a writer that waits
	// for each commit, is committed at once. Zero disables it: each commit
	// takes what was handed over while the previous one ran.
	CommitDelay time.Duration
	// SkipCheck skips the walk of every page at Open. Open still checks the
	// meta pages and the file length.
	SkipCheck bool

	now func() time.Time
}

func (o *Options) setDefaults() error {
	if o.MaxBytes <= 0 {
		return fmt.Errorf("backlog: MaxBytes must be above 0, got %d", o.MaxBytes)
	}
	if o.ReadRecords <= 0 {
		o.ReadRecords = 100
	}
	if o.ReadBytes <= 0 {
		o.ReadBytes = 1 << 20
	}
	if o.MaxLeasedRecords <= 0 {
		o.MaxLeasedRecords = 10000
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 100 * time.Millisecond
	}
	if o.MaxRetryDelay < o.RetryDelay {
		o.MaxRetryDelay = 5 * time.Second
		if o.MaxRetryDelay < o.RetryDelay {
			o.MaxRetryDelay = o.RetryDelay
		}
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.now == nil {
		o.now = time.Now
	}
	return nil
}

var (
	// ErrClosed is returned by calls on a closed Queue.
	ErrClosed = errors.New("backlog: closed")
	// ErrDrained is returned by Read once CloseWrites was called and every
	// record was acknowledged.
	ErrDrained = errors.New("backlog: drained")
)

// TooLargeError is returned by Append for a batch that exceeds MaxBytes on its
// own and so could never be stored.
type TooLargeError struct{ Bytes, MaxBytes int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("backlog: a batch of %d bytes can never fit in a backlog of at most %d bytes", e.Bytes, e.MaxBytes)
}

var (
	bucketRecords = []byte("records")
	bucketMeta    = []byte("meta")
	keyFormat     = []byte("format")
	keyCount      = []byte("count")
	keyBytes      = []byte("bytes")
)

// Commit limits: one transaction takes at most this many operations or bytes.
const (
	maxOpsPerCommit   = 1024
	maxBytesPerCommit = 16 << 20
)

// Queue is a durable FIFO of Records in one bbolt file. It is safe for
// concurrent use; Read serves one caller at a time.
type Queue struct {
	path string
	db   *bolt.DB
	opts Options

	stop chan struct{}
	wake chan struct{} // capacity 1: the queue became non-empty or full
	wg   sync.WaitGroup
	// seq is the last sequence number assigned; only the committer uses it.
	seq uint64

	readMu sync.Mutex

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every change
	closed       bool
	writesClosed bool
	fatal        error
	count, bytes int64 // committed and not acknowledged
	reserved     int64 // bytes of appends handed over, not committed yet
	pending      int   // appends handed over, not committed yet
	waiting      int   // appends waiting for room
	lastSeq      uint64
	nextRead     uint64
	leased       int
	retry        []uint64 // released sequence numbers, ascending
	retryAt      time.Time
	retryDelay   time.Duration
	commits      int64
	holds        int64 // commits held open for CommitDelay (for tests)
	// queue is what was handed to the committer and not taken yet, in call
	// order. A slice rather than a channel: a writer never waits for the
	// commit in progress to hand over its next write, so writes that arrive
	// during a commit (and its fsync) all go into the next one.
	queue       []*op
	queuedBytes int64
	spare       []*op // the last batch's backing array, for the next queue
}

type op struct {
	puts     [][]byte
	putBytes int64
	dels     []uint64
	done     func(error)
}

// Open opens the backlog in dir, creating dir and the file if missing. An
// existing file is checked first; a damaged one is refused with a
// *CorruptError and left as it is.
func Open(dir string, opts Options) (q *Queue, err error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("backlog: creating directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	existed := false
	if _, err := os.Stat(path); err == nil {
		existed = true
		if err := preflight(path); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("backlog: %w", err)
	}
	corrupt := func(reason string, e error) error { return &CorruptError{Path: path, Reason: reason, Err: e} }
	defer func() {
		if r := recover(); r != nil {
			q, err = nil, corrupt("bbolt failed reading it", fmt.Errorf("%v", r))
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        opts.LockTimeout,
		NoSync:         opts.Sync == SyncNone,
		NoGrowSync:     opts.Sync == SyncNone,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("backlog file %s is locked by another process: is another currents-segment using the same path? Each process needs its own directory", path)
	}
	if err != nil {
		if existed {
			return nil, corrupt("bbolt cannot open it", err)
		}
		return nil, fmt.Errorf("backlog: creating %s: %w", path, err)
	}
	q = &Queue{path: path, db: db, opts: opts, stop: make(chan struct{}), wake: make(chan struct{}, 1),
		changed: make(chan struct{}), retryDelay: opts.RetryDelay}
	if err := q.load(existed); err != nil {
		db.Close()
		return nil, err
	}
	q.wg.Add(1)
	go q.commitLoop()
	return q, nil
}

func (q *Queue) load(existed bool) error {
	corrupt := func(reason string, e error) error { return &CorruptError{Path: q.path, Reason: reason, Err: e} }
	err := q.db.Update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		rb := tx.Bucket(bucketRecords)
		if mb == nil {
			if rb != nil {
				return corrupt("it has records but no meta bucket", nil)
			}
			var err error
			if mb, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if _, err = tx.CreateBucket(bucketRecords); err != nil {
				return err
			}
			return errors.Join(mb.Put(keyFormat, u64(formatVersion)), mb.Put(keyCount, u64(0)), mb.Put(keyBytes, u64(0)))
		}
		if v := mb.Get(keyFormat); len(v) != 8 || getU64(v) != formatVersion {
			return corrupt(fmt.Sprintf("unknown format version %x (this build reads version %d); an older or newer build wrote it", v, formatVersion), nil)
		}
		if rb == nil {
			return corrupt("the records bucket is missing", nil)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if existed && !q.opts.SkipCheck {
		var errs []error
		_ = q.db.View(func(tx *bolt.Tx) error {
			for e := range tx.Check() {
				if len(errs) < 5 {
					errs = append(errs, e)
				}
			}
			return nil
		})
		if len(errs) > 0 {
			return corrupt("its page check failed", errors.Join(errs...))
		}
	}
	return q.db.View(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		q.count, q.bytes = int64(getU64(mb.Get(keyCount))), int64(getU64(mb.Get(keyBytes)))
		c := tx.Bucket(bucketRecords).Cursor()
		first, _ := c.First()
		last, _ := c.Last()
		if first == nil {
			if q.count != 0 {
				return corrupt(fmt.Sprintf("it counts %d records but holds none", q.count), nil)
			}
			q.nextRead = 1
			return nil
		}
		q.seq, q.lastSeq, q.nextRead = keySeq(last), keySeq(last), keySeq(first)
		return nil
	})
}

// Path is the backlog file.
func (q *Queue) Path() string { return q.path }

func (q *Queue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Append stores recs as one unit, after any records appended before, and
// returns once they are committed. It blocks while they would not fit in
// MaxBytes, until room is made or ctx is done.
func (q *Queue) Append(ctx context.Context, recs []Record) error {
	res := make(chan error, 1)
	if err := q.AppendAsync(ctx, recs, func(err error) { res <- err }); err != nil {
		return err
	}
	return <-res
}

// AppendAsync waits for room like Append, hands recs to the committer and
// returns without waiting for the commit in progress; done is then called
// exactly once, from another goroutine, with nil once the records are
// committed (and synced under SyncEveryCommit) or with the error that
// prevented it. Calls from one goroutine are stored in call order. An error
// returned by AppendAsync itself means done will not be called.
func (q *Queue) AppendAsync(ctx context.Context, recs []Record, done func(error)) error {
	return q.appendAsync(ctx, recs, false, done)
}

// appendAsync is AppendAsync; keepTime keeps the records' own Written times
// (for Salvage).
func (q *Queue) appendAsync(ctx context.Context, recs []Record, keepTime bool, done func(error)) error {
	now := q.opts.now()
	o := &op{puts: make([][]byte, len(recs)), done: done}
	for i := range recs {
		written := now
		if keepTime && !recs[i].Written.IsZero() {
			written = recs[i].Written
		}
		o.puts[i] = encodeRecord(&recs[i], written)
		o.putBytes += int64(len(o.puts[i]))
	}
	if o.putBytes > q.opts.MaxBytes {
		return &TooLargeError{Bytes: o.putBytes, MaxBytes: q.opts.MaxBytes}
	}
	q.mu.Lock()
	for {
		switch {
		case q.closed || q.writesClosed:
			q.mu.Unlock()
			return ErrClosed
		case q.fatal != nil:
			q.mu.Unlock()
			return q.fatal
		}
		if q.bytes+q.reserved+o.putBytes <= q.opts.MaxBytes {
			if !q.queueFullLocked() {
				break
			}
			// A full commit is already queued: wait for the committer to
			// take it, so that records waiting for a slow disk stay within
			// about two commits in memory (not MaxBytes). This is no lack
			// of room, so it does not count as waiting.
			ch := q.changed
			q.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ch:
			}
			q.mu.Lock()
			continue
		}
		ch := q.changed
		q.waiting++
		q.mu.Unlock()
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-ch:
		}
		q.mu.Lock()
		q.waiting--
		if err != nil {
			q.mu.Unlock()
			return err
		}
	}
	q.reserved += o.putBytes
	q.pending++
	q.enqueueLocked(o)
	q.mu.Unlock()
	return nil
}

// enqueueLocked hands o to the committer; appends wait before it while a
// full commit is queued, acknowledgements (small, bounded by
// MaxLeasedRecords) do not. It wakes the committer only when
// the queue stops being empty or holds a full commit: a committer holding a
// commit open needs to hear of nothing in between.
func (q *Queue) enqueueLocked(o *op) {
	q.queue = append(q.queue, o)
	q.queuedBytes += o.putBytes
	if len(q.queue) == 1 || q.queueFullLocked() {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *Queue) queueFullLocked() bool {
	return len(q.queue) >= maxOpsPerCommit || q.queuedBytes >= maxBytesPerCommit
}

// take removes the next commit's ops from the queue, at least one and within
// the commit limits. whole is true when it took the entire queue.
func (q *Queue) take() (batch []*op, whole bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k, size := 0, int64(0)
	for k < len(q.queue) && k < maxOpsPerCommit && size < maxBytesPerCommit {
		size += q.queue[k].putBytes
		k++
	}
	q.queuedBytes -= size
	q.notifyLocked() // for appends waiting for the queue to have room
	if k == len(q.queue) {
		batch, q.queue, q.spare = q.queue, q.spare[:0], nil
		return batch, true
	}
	// The rest shares the backing array, which must then not be reused.
	batch, q.queue = q.queue[:k:k], q.queue[k:]
	return batch, false
}

// Full reports whether the next append of n bytes would block.
func (q *Queue) Full(n int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes+q.reserved+n > q.opts.MaxBytes
}

func (q *Queue) commitLoop() {
	defer q.wg.Done()
	delay := q.opts.CommitDelay
	var linger *time.Timer
	if delay > 0 {
		linger = time.NewTimer(delay)
		linger.Stop()
	}
	// Holding a commit open only pays when more writes arrive meanwhile. Two
	// writes or more waiting when a commit starts show a stream (they came
	// while the last commit ran), and so does a hold that gathered some: hold
	// then. A lone write that came soon after the last commit may be the
	// next of a stream slower than a commit, or a writer that waits for each
	// commit and would only be slowed down: probe it with one hold, and after
	// a probe that gathered nothing probe no more for probeRetry delays (so
	// such a writer waits out at most one delay in probeRetry).
	const probeRetry = 100
	lastGain := 0
	var lastCommit, noProbeUntil time.Time
	stopping := false
	for {
		q.mu.Lock()
		for len(q.queue) == 0 {
			if stopping {
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			select {
			case <-q.wake:
			case <-q.stop:
				// Close refuses new writes before this: commit what was
				// handed over, then return.
				stopping = true
			}
			q.mu.Lock()
		}
		queued := len(q.queue)
		// Writers blocked on MaxBytes cannot add to a held commit, and
		// acknowledgements in it are what would make them room.
		hold := linger != nil && !stopping && q.waiting == 0 && !q.queueFullLocked()
		probe := hold && queued == 1 && lastGain == 0
		if probe {
			now := time.Now()
			hold = now.Sub(lastCommit) < delay && now.After(noProbeUntil)
		}
		if hold {
			q.holds++
		}
		q.mu.Unlock()
		if hold {
			linger.Reset(delay)
		gather:
			for {
				select {
				case <-linger.C:
					break gather
				case <-q.stop:
					stopping = true
					break gather
				case <-q.wake:
					q.mu.Lock()
					full := q.queueFullLocked()
					q.mu.Unlock()
					if full {
						break gather
					}
				}
			}
			linger.Stop()
		}
		batch, whole := q.take()
		lastGain = 0
		if hold {
			if lastGain = len(batch) - queued; lastGain <= 0 && probe {
				noProbeUntil = time.Now().Add(probeRetry * delay)
			}
		}
		q.commit(batch)
		lastCommit = time.Now()
		if whole {
			clear(batch) // let the ops and their records be collected
			q.mu.Lock()
			q.spare = batch[:0]
			q.mu.Unlock()
		}
	}
}

func (q *Queue) commit(batch []*op) {
	q.mu.Lock()
	err := q.fatal
	q.mu.Unlock()
	var dCount, dBytes int64
	seq := q.seq
	if err == nil {
		err = q.safely(func() error {
			return q.db.Update(func(tx *bolt.Tx) error {
				rb := tx.Bucket(bucketRecords)
				rb.FillPercent = 1.0 // keys only ever grow: pack pages full
				mb := tx.Bucket(bucketMeta)
				for _, o := range batch {
					for _, v := range o.puts {
						seq++
						if err := rb.Put(seqKey(seq), v); err != nil {
							return err
						}
						dCount++
						dBytes += int64(len(v))
					}
					for _, s := range o.dels {
						k := seqKey(s)
						v := rb.Get(k)
						if v == nil {
							continue
						}
						dCount--
						dBytes -= int64(len(v))
						if err := rb.Delete(k); err != nil {
							return err
						}
					}
				}
				count := int64(getU64(mb.Get(keyCount))) + dCount
				bytes := int64(getU64(mb.Get(keyBytes))) + dBytes
				return errors.Join(mb.Put(keyCount, u64(uint64(count))), mb.Put(keyBytes, u64(uint64(bytes))))
			})
		})
	}
	q.mu.Lock()
	for _, o := range batch {
		if len(o.puts) > 0 {
			q.reserved -= o.putBytes
			q.pending--
		}
	}
	q.commits++
	if err == nil {
		q.seq = seq
		q.lastSeq = seq
		q.count += dCount
		q.bytes += dBytes
	} else if IsCorrupt(err) {
		q.fatal = err
	}
	q.notifyLocked()
	q.mu.Unlock()
	for _, o := range batch {
		o.done(err)
	}
}

// safely runs fn, turning a bbolt panic (which it raises on damaged pages)
// into a *CorruptError.
func (q *Queue) safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &CorruptError{Path: q.path, Reason: "bbolt failed reading it", Err: fmt.Errorf("%v", r)}
		}
	}()
	return fn()
}

// Lease is records handed out by Read, to be acknowledged or released.
type Lease struct {
	q       *Queue
	Records []Record
	seqs    []uint64
	once    sync.Once
}

// Read leases the oldest records that are neither leased nor acknowledged:
// released records first, once their back-off has passed, then records in
// the order they were appended. It blocks until there is one, ctx is done,
// the Queue is closed (ErrClosed) or, after CloseWrites, every record was
// acknowledged (ErrDrained).
func (q *Queue) Read(ctx context.Context) (*Lease, error) {
	q.readMu.Lock()
	defer q.readMu.Unlock()
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		if q.fatal != nil {
			err := q.fatal
			q.mu.Unlock()
			return nil, err
		}
		ch := q.changed
		var timer *time.Timer
		var wake <-chan time.Time
		if room := q.opts.MaxLeasedRecords - q.leased; room > 0 {
			max := min(room, q.opts.ReadRecords)
			if len(q.retry) > 0 {
				if d := q.retryAt.Sub(q.opts.now()); d > 0 {
					timer = time.NewTimer(d)
					wake = timer.C
				} else {
					n := min(max, len(q.retry))
					seqs := append([]uint64(nil), q.retry[:n]...)
					q.retry = q.retry[n:]
					q.leased += n
					q.mu.Unlock()
					return q.lease(seqs, 0, 0)
				}
			} else if q.nextRead <= q.lastSeq {
				from, last := q.nextRead, q.lastSeq
				q.mu.Unlock()
				return q.lease(nil, from, min(max, int(last-from+1)))
			} else if q.writesClosed && q.pending == 0 && q.count == 0 {
				q.mu.Unlock()
				return nil, ErrDrained
			}
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-ch:
		case <-wake:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// lease loads either the given sequence numbers or up to max records from
// sequence number from on.
func (q *Queue) lease(seqs []uint64, from uint64, max int) (*Lease, error) {
	l := &Lease{q: q}
	var got []uint64
	err := q.safely(func() error {
		return q.db.View(func(tx *bolt.Tx) error {
			rb := tx.Bucket(bucketRecords)
			add := func(k, v []byte) error {
				r, err := decodeRecord(v)
				if err != nil {
					return &CorruptError{Path: q.path, Reason: fmt.Sprintf("record %d does not decode", keySeq(k)), Err: err}
				}
				l.Records = append(l.Records, r)
				got = append(got, keySeq(k))
				return nil
			}
			if seqs != nil {
				for _, s := range seqs {
					k := seqKey(s)
					if v := rb.Get(k); v != nil {
						if err := add(k, v); err != nil {
							return err
						}
					}
				}
				return nil
			}
			c := rb.Cursor()
			bytes := 0
			for k, v := c.Seek(seqKey(from)); k != nil && len(got) < max && bytes < q.opts.ReadBytes; k, v = c.Next() {
				if err := add(k, v); err != nil {
					return err
				}
				bytes += len(v)
			}
			return nil
		})
	})
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		if IsCorrupt(err) {
			q.fatal = err
		}
		if seqs != nil {
			q.leased -= len(seqs)
			q.retry = mergeSeqs(seqs, q.retry)
		}
		q.notifyLocked()
		return nil, err
	}
	if seqs != nil {
		q.leased -= len(seqs) - len(got)
	} else {
		q.leased += len(got)
		if len(got) > 0 {
			q.nextRead = got[len(got)-1] + 1
		} else {
			q.nextRead = q.lastSeq + 1
		}
	}
	l.seqs = got
	return l, nil
}

// Len is the number of records in the lease.
func (l *Lease) Len() int { return len(l.seqs) }

// Ack deletes the lease's records and returns once that is committed (and
// synced under SyncEveryCommit); they will not be read again. If it fails the
// records are released instead. Only the first Ack or Release of a lease
// counts.
func (l *Lease) Ack(ctx context.Context) error {
	err := ErrClosed
	l.once.Do(func() { err = l.q.ack(ctx, l.seqs) })
	return err
}

// Release makes the lease's records readable again, ahead of newer records,
// after the retry back-off. Only the first Ack or Release of a lease counts.
func (l *Lease) Release() {
	l.once.Do(func() {
		q := l.q
		q.mu.Lock()
		q.releaseLocked(l.seqs)
		q.mu.Unlock()
	})
}

func (q *Queue) releaseLocked(seqs []uint64) {
	q.leased -= len(seqs)
	q.retry = mergeSeqs(seqs, q.retry)
	q.retryAt = q.opts.now().Add(q.retryDelay)
	q.retryDelay = min(2*q.retryDelay, q.opts.MaxRetryDelay)
	q.notifyLocked()
}

func (q *Queue) ack(ctx context.Context, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	res := make(chan error, 1)
	o := &op{dels: seqs, done: func(err error) {
		q.mu.Lock()
		if err != nil {
			q.releaseLocked(seqs)
		} else {
			q.leased -= len(seqs)
			q.retryDelay = q.opts.RetryDelay
			q.notifyLocked()
		}
		q.mu.Unlock()
		res <- err
	}}
	q.mu.Lock()
	if q.closed {
		q.releaseLocked(seqs)
		q.mu.Unlock()
		return ErrClosed
	}
	q.enqueueLocked(o)
	q.mu.Unlock()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func mergeSeqs(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Stats describes the backlog.
type Stats struct {
	// Records and Bytes are the records committed and not acknowledged
	// (leased ones included) and their encoded size.
	Records, Bytes int64
	// Oldest is when the oldest of them was written; zero when empty.
	Oldest time.Time
	// Leased is how many records are leased and not yet acknowledged or
	// released.
	Leased int
	// Retrying is how many released records wait to be read again.
	Retrying int
	// WaitingWrites is how many appends are blocked waiting for room.
	WaitingWrites int
	// Commits is how many write transactions were committed since Open
	// (appends and acknowledgements share them).
	Commits int64
}

// Stats reads the backlog's counts and its oldest record's age.
func (q *Queue) Stats() (Stats, error) {
	q.mu.Lock()
	s := Stats{Records: q.count, Bytes: q.bytes, Leased: q.leased, Retrying: len(q.retry), WaitingWrites: q.waiting, Commits: q.commits}
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return s, ErrClosed
	}
	err := q.safely(func() error {
		return q.db.View(func(tx *bolt.Tx) error {
			if _, v := tx.Bucket(bucketRecords).Cursor().First(); v != nil {
				s.Oldest, _ = recordWritten(v)
			}
			return nil
		})
	})
	return s, err
}

// CloseWrites says no more records will be appended: Read returns ErrDrained
// once every record has been acknowledged.
func (q *Queue) CloseWrites() {
	q.mu.Lock()
	q.writesClosed = true
	q.notifyLocked()
	q.mu.Unlock()
}

// Close refuses further appends and acknowledgements, commits those already
// handed over (their done is called as usual), then closes the file. Records
// not acknowledged stay in it for the next Open. Calls waiting for room
// return ErrClosed.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.notifyLocked()
	q.mu.Unlock()
	close(q.stop)
	q.wg.Wait()
	q.readMu.Lock() // let a Read in progress finish with the file
	defer q.readMu.Unlock()
	return q.db.Close()
}

func u64(v uint64) []byte { return seqKey(v) }

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return keySeq(b)
}
