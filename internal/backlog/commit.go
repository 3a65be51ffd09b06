package backlog

import (
	"context"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The write side of the queue: appends wait for room and are handed to one
// committer goroutine, which group-commits them with acknowledgements.

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
						if err := putRecord(rb, seqKey(seq), v, q.ownBucketFrom); err != nil {
							return err
						}
						dCount++
						dBytes += int64(len(v))
					}
					for _, s := range o.dels {
						size, found, err := deleteRecord(rb, seqKey(s))
						if err != nil {
							return err
						}
						if found {
							dCount--
							dBytes -= int64(size)
						}
					}
				}
				count := int64(getU64(mb.Get(keyCount))) + dCount
				bytes := int64(getU64(mb.Get(keyBytes))) + dBytes
				err := errors.Join(mb.Put(keyCount, u64(uint64(count))), mb.Put(keyBytes, u64(uint64(bytes))))
				if seq != q.seq {
					err = errors.Join(err, mb.Put(keyLastSeq, u64(seq)))
				}
				return err
			})
		})
	}
	if aerr := accessError(q.path, q.dir, err); aerr != nil {
		err = aerr // a volume remounted read-only is no damage either
	}
	q.mu.Lock()
	for _, o := range batch {
		if len(o.puts) > 0 {
			q.reserved -= o.putBytes
			q.pending--
		}
		if err == nil {
			for _, s := range o.dels {
				delete(q.damagedSeen, s)
			}
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
		if err == nil {
			// The transaction is over, so bbolt holds the encoded records no
			// more. After a failure they are left to the collector: a
			// transaction that panicked may never have been closed.
			for i, v := range o.puts {
				putRecordBuf(v)
				o.puts[i] = nil
			}
		}
		o.done(err)
	}
}
