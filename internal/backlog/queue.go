package backlog

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	bolt "go.etcd.io/bbolt"
)

// The Queue and what it reports; options.go configures it, open.go opens
// it, commit.go writes to it, lease.go reads from it.

var (
	bucketRecords = []byte("records")
	bucketMeta    = []byte("meta")
	keyFormat     = []byte("format")
	keyCount      = []byte("count")
	keyBytes      = []byte("bytes")
	// keyLastSeq is the highest sequence number ever assigned, so that
	// numbers are never reused once the backlog has emptied.
	keyLastSeq = []byte("lastseq")
)

// Commit limits: one transaction takes at most this many operations or bytes.
const (
	maxOpsPerCommit   = 1024
	maxBytesPerCommit = 16 << 20
)

// Queue is a durable FIFO of Records in one bbolt file. It is safe for
// concurrent use; Read serves one caller at a time.
type Queue struct {
	path, dir string
	db        *bolt.DB
	opts      Options
	report    Report

	stop chan struct{}
	wake chan struct{} // capacity 1: the queue became non-empty or full
	wg   sync.WaitGroup
	// seq is the last sequence number assigned; only the committer uses it.
	seq uint64
	// ownBucketFrom is the size from which a record gets a bucket of its
	// own (store.go): the file's page size.
	ownBucketFrom int

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
	retryWait    *backoff.ExponentialBackOff // the wait before released records are read again
	commits      int64
	holds        int64 // commits held open for CommitDelay (for tests)
	// damagedSeen are the damaged records handed out and not acknowledged
	// yet; damaged counts every damaged record found since Open.
	damagedSeen map[uint64]bool
	damaged     int64
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

// Path is the backlog file.
func (q *Queue) Path() string { return q.path }

func (q *Queue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
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
	// Damaged is how many records Read found damaged since Open (each
	// counted once, however often it was handed out).
	Damaged int64
}

// Stats reads the backlog's counts and its oldest record's age.
func (q *Queue) Stats() (Stats, error) {
	q.mu.Lock()
	s := Stats{Records: q.count, Bytes: q.bytes, Leased: q.leased, Retrying: len(q.retry), WaitingWrites: q.waiting, Commits: q.commits, Damaged: q.damaged}
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return s, ErrClosed
	}
	err := q.safely(func() error {
		return q.db.View(func(tx *bolt.Tx) error {
			// The oldest intact record among the first few: a damaged
			// one's time is noise.
			rb := tx.Bucket(bucketRecords)
			c := rb.Cursor()
			n := 0
			for k, v := c.First(); k != nil && n < 16; k, v = c.Next() {
				if t, ok := recordWritten(recordAt(rb, k, v)); ok {
					s.Oldest = t
					break
				}
				n++
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

// safely runs fn, turning a bbolt panic (which it raises on damaged pages),
// or a fault on a damaged mapped page, into a *CorruptError.
func (q *Queue) safely(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &CorruptError{Path: q.path, Reason: "bbolt failed reading it", Err: fmt.Errorf("%v", r)}
		}
	}()
	return fn()
}

// newRetryWait is the wait before released records are read again: doubling
// from RetryDelay to MaxRetryDelay while releases go on, back to RetryDelay
// at the next acknowledgement. No jitter: one queue, one reader.
func newRetryWait(o Options) *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval: o.RetryDelay,
		Multiplier:      2,
		MaxInterval:     o.MaxRetryDelay,
		Stop:            backoff.Stop,
		Clock:           backoff.SystemClock,
	}
	b.Reset()
	return b
}
