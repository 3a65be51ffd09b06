package backlog

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The read side of the queue: leases of the oldest records, acknowledged
// (deleted in a commit) or released (read again after a back-off).

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
				// A record that fails its checksum is handed out as
				// damaged, in its place: one bad record must not stop
				// every record behind it.
				r, err := decodeRecord(v)
				if err != nil {
					r = Record{Damage: &Damage{Seq: keySeq(k), Err: err, Bytes: bytes.Clone(v)}}
				}
				l.Records = append(l.Records, r)
				got = append(got, keySeq(k))
				return nil
			}
			if seqs != nil {
				for _, s := range seqs {
					k := seqKey(s)
					if v := getRecord(rb, k); v != nil {
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
				v = recordAt(rb, k, v)
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
	for _, r := range l.Records {
		if d := r.Damage; d != nil {
			if d.Repeat = q.damagedSeen[d.Seq]; !d.Repeat {
				q.damagedSeen[d.Seq] = true
				q.damaged++
			}
		}
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
	q.retryAt = q.opts.now().Add(q.retryWait.NextBackOff())
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
			q.retryWait.Reset()
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
