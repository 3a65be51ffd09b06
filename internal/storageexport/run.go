package storageexport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"gocloud.dev/gcerrors"
)

// Batch is records of one object, handed on together: one message each.
// Exactly one of Records and Damage is set. Ack must be called once, with nil
// when every record was delivered (or dead-lettered) and with the error when
// they were not: the batch is then handed on again.
type Batch struct {
	Object    Object
	EventType string
	// Records are the flat JSON records, in file order.
	Records [][]byte
	// Damage is the rest of an object that could not be read, for the dead
	// letter as one whole-file record.
	Damage *DamageError

	state *objectState
	run   *Run
}

// Ack settles the batch.
func (b *Batch) Ack(err error) { b.run.ack(b, err) }

// NothingSelectedError ends a bounded run that found no object at all, done or
// not: a wrong prefix, type or range, which must not pass for a success.
type NothingSelectedError struct {
	Selection Selection
	Shard     Shard
}

func (e *NothingSelectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no export object (a key ending in .avro) under prefix %q", e.Selection.Prefix)
	if len(e.Selection.Types) > 0 {
		fmt.Fprintf(&b, " of event types %s", strings.Join(e.Selection.Types, ", "))
	}
	if !e.Selection.Since.IsZero() || !e.Selection.Until.IsZero() {
		b.WriteString(" in hours " + FormatBound(e.Selection.Since) + " to " + FormatBound(e.Selection.Until))
	}
	if e.Shard.Count > 1 {
		fmt.Fprintf(&b, " in shard %d of %d", e.Shard.Index, e.Shard.Count)
	}
	b.WriteString(": check the url and the prefix (Braze writes <prefix>/dataexport.<cluster>.<storage>.integration.<id>/event_type=<type>/date=<YYYY-MM-DD-HH>/...) and the event types and hours asked for")
	return b.String()
}

// FormatBound writes a since or until bound as the hour partition it names,
// or "(open)" for none.
func FormatBound(t time.Time) string {
	if t.IsZero() {
		return "(open)"
	}
	return t.Format(HourLayout)
}

// objectState is an object listed and not yet done.
type objectState struct {
	obj       Object
	sent      int   // batches handed on
	acked     int   // of them, acknowledged
	readDone  bool  // every batch is handed on
	completed bool  // recorded done
	records   int64 // records handed on (skipped on a re-read after a failure)
	events    int64
	damaged   bool
}

// Run reads the selected objects of an export, hands their records on in
// batches and records each object done in the checkpoint once every one of
// its batches was acknowledged. A bounded run ends (Next returns io.EOF) only
// when every object listed is done; a follow run never ends.
type Run struct {
	opts     Options
	progress *Progress

	objects chan Object
	batches chan *Batch
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change Next waits for
	retries []*Batch
	pending map[string]*objectState
	listing bool
	readers int

	cpMu   sync.RWMutex
	closed bool
}

// Start lists and reads in the background until Close.
func Start(opts Options) (*Run, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{
		opts:     opts,
		progress: NewProgress(opts.Now()),
		objects:  make(chan Object, 1024),
		batches:  make(chan *Batch),
		cancel:   cancel,
		changed:  make(chan struct{}),
		pending:  map[string]*objectState{},
		listing:  true,
		readers:  opts.MaxOpenFiles,
	}
	r.wg.Add(1 + opts.MaxOpenFiles)
	go r.list(ctx)
	for range opts.MaxOpenFiles {
		go r.read(ctx)
	}
	return r, nil
}

// Progress is the run's progress so far.
func (r *Run) Progress() Snapshot { return r.progress.Snapshot(r.opts.Now()) }

// Lag is the age of the oldest object listed and not yet done (by the time
// the storage service last wrote it), 0 when every listed object is done:
// how far behind the export a follow run is.
func (r *Run) Lag() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var oldest time.Time
	for _, st := range r.pending {
		if t := st.obj.ModTime; !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(0, r.opts.Now().Sub(oldest))
}

// Pending is how many objects are listed and not yet done.
func (r *Run) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Next returns the next batch: one handed back by a nack first, else one
// read. A bounded run returns io.EOF once every object is done, or a
// *NothingSelectedError when there was none to do.
func (r *Run) Next(ctx context.Context) (*Batch, error) {
	for {
		r.mu.Lock()
		if len(r.retries) > 0 {
			b := r.retries[0]
			r.retries = r.retries[1:]
			r.mu.Unlock()
			return b, nil
		}
		if !r.opts.Follow && !r.listing && r.readers == 0 && len(r.pending) == 0 {
			r.mu.Unlock()
			if s := r.progress.Snapshot(r.opts.Now()); s.Listed == 0 && s.AlreadyDone == 0 {
				return nil, &NothingSelectedError{Selection: r.opts.Selection, Shard: r.opts.Shard}
			}
			return nil, io.EOF
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case b := <-r.batches:
			return b, nil
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close stops listing and reading and closes the checkpoint. Objects not
// done are read again by the next run; acknowledgements after Close are not
// recorded (their objects are re-read: duplicates, never a loss).
func (r *Run) Close() error {
	r.cancel()
	r.wg.Wait()
	r.cpMu.Lock()
	defer r.cpMu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return r.opts.Checkpoint.Close()
}

func (r *Run) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Run) newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 500 * time.Millisecond
	b.MaxInterval = 30 * time.Second
	b.MaxElapsedTime = 0 // the storage service comes back; nothing is given up
	b.Reset()
	return b
}

// retryAfter reports the storage failure err and waits out the next
// backoff; false means the run is closing and the caller gives up.
func (r *Run) retryAfter(ctx context.Context, bo *backoff.ExponentialBackOff, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	d := bo.NextBackOff()
	if h := r.opts.Hooks.Retry; h != nil {
		h(err, d)
	}
	return wait(ctx, d)
}

// wait sleeps d or until ctx ends, reporting whether it slept.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *Run) list(ctx context.Context) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		r.listing = false
		r.signal()
		r.mu.Unlock()
		close(r.objects)
	}()
	l := &Lister{Bucket: r.opts.Bucket, Selection: r.opts.Selection, Shard: r.opts.Shard, Listed: r.opts.Hooks.ListRequest}
	bo := r.newBackoff()
	for {
		err := l.List(ctx, func(o Object) error { return r.enqueue(ctx, o) })
		if err == nil {
			break
		}
		if !r.retryAfter(ctx, bo, err) {
			return
		}
	}
	r.progress.ListingDone()
	if !r.opts.Follow {
		return
	}
	for wait(ctx, r.opts.PollInterval) {
		now := r.opts.Now().UTC().Truncate(time.Hour)
		err := l.ListHours(ctx, []time.Time{now.Add(-time.Hour), now}, func(o Object) error { return r.enqueue(ctx, o) })
		if err != nil && ctx.Err() == nil {
			if h := r.opts.Hooks.Retry; h != nil {
				h(err, r.opts.PollInterval)
			}
		}
	}
}

// enqueue hands a listed object to the readers unless it is done or already
// on its way.
func (r *Run) enqueue(ctx context.Context, o Object) error {
	r.mu.Lock()
	_, known := r.pending[o.Key]
	r.mu.Unlock()
	if known {
		return nil
	}
	done, err := r.opts.Checkpoint.IsDone(o.Key)
	if err != nil {
		return err
	}
	if done {
		r.progress.Skipped()
		return nil
	}
	r.mu.Lock()
	r.pending[o.Key] = &objectState{obj: o}
	r.mu.Unlock()
	r.progress.Listed(o.Size)
	if h := r.opts.Hooks.Listed; h != nil {
		h(o)
	}
	select {
	case r.objects <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Run) read(ctx context.Context) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		r.readers--
		r.signal()
		r.mu.Unlock()
	}()
	for o := range r.objects {
		if ctx.Err() != nil {
			return
		}
		r.readObject(ctx, o)
	}
}

// readObject hands on every record of o, reading it again after a failure of
// the storage service (skipping the records already handed on).
func (r *Run) readObject(ctx context.Context, o Object) {
	r.mu.Lock()
	st := r.pending[o.Key]
	r.mu.Unlock()
	bo := r.newBackoff()
	for {
		err := r.readOnce(ctx, st)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		if gcerrors.Code(err) == gcerrors.NotFound {
			// Deleted between the listing and the read: nothing to deliver,
			// and nothing recorded, so a later listing that finds it reads it.
			if h := r.opts.Hooks.Skipped; h != nil {
				h(o, "deleted from the bucket after it was listed")
			}
			r.mu.Lock()
			delete(r.pending, o.Key)
			r.signal()
			r.mu.Unlock()
			return
		}
		if !r.retryAfter(ctx, bo, err) {
			return
		}
	}
	r.mu.Lock()
	st.readDone = true
	complete := st.acked == st.sent && !st.completed
	if complete {
		st.completed = true
	}
	r.mu.Unlock()
	if complete {
		r.complete(st)
	}
}

func (r *Run) readOnce(ctx context.Context, st *objectState) error {
	o := st.obj
	rd, err := r.opts.Bucket.NewReader(ctx, o.Key, nil)
	if err != nil {
		return fmt.Errorf("opening export object %q: %w", o.Key, err)
	}
	defer rd.Close()
	rr, err := NewRecordReader(rd, o)
	var damage *DamageError
	if errors.As(err, &damage) {
		return r.handOn(ctx, &Batch{Object: o, EventType: o.EventType, Damage: damage, state: st, run: r}, 0)
	}
	if err != nil {
		return err
	}
	if o.EventType == "" && !r.opts.Selection.typeSelected(rr.EventType()) {
		if h := r.opts.Hooks.Skipped; h != nil {
			h(o, "its schema names event type "+rr.EventType()+", which is not selected")
		}
		return nil
	}
	skip := st.records
	var lastBytes int64
	for {
		recs := make([][]byte, 0, min(r.opts.BatchRecords, 64))
		var err error
		for len(recs) < r.opts.BatchRecords {
			var rec []byte
			rec, err = rr.Next(nil)
			if err != nil {
				break
			}
			if rr.Records() <= skip {
				continue
			}
			recs = append(recs, rec)
		}
		if len(recs) > 0 {
			r.account(o, int64(len(recs)), rr.BytesRead()-lastBytes)
			lastBytes = rr.BytesRead()
			if herr := r.handOn(ctx, &Batch{Object: o, EventType: rr.EventType(), Records: recs, state: st, run: r}, int64(len(recs))); herr != nil {
				return herr
			}
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			r.account(o, 0, rr.BytesRead()-lastBytes)
			return nil
		case errors.As(err, &damage):
			if damage.Records < skip {
				// Read to this point before: a failure the first time, damage
				// now. The records before it were handed on then.
				damage.Records = skip
			}
			return r.handOn(ctx, &Batch{Object: o, EventType: rr.EventType(), Damage: damage, state: st, run: r}, 0)
		default:
			return err
		}
	}
}

// account counts events and bytes read from o.
func (r *Run) account(o Object, events, bytes int64) {
	if events == 0 && bytes == 0 {
		return
	}
	r.progress.Read(events, bytes)
	if h := r.opts.Hooks.Read; h != nil {
		h(o, events, bytes)
	}
}

// handOn gives b to Next, counting it against its object first so that the
// object cannot be completed before b is acknowledged.
func (r *Run) handOn(ctx context.Context, b *Batch, records int64) error {
	r.mu.Lock()
	b.state.sent++
	b.state.records += records
	b.state.events += records
	if b.Damage != nil {
		b.state.damaged = true
	}
	r.mu.Unlock()
	if b.Damage != nil {
		if h := r.opts.Hooks.Damaged; h != nil {
			h(b.Damage)
		}
	}
	select {
	case r.batches <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Run) ack(b *Batch, err error) {
	st := b.state
	if err != nil {
		r.mu.Lock()
		r.retries = append(r.retries, b)
		r.signal()
		r.mu.Unlock()
		if h := r.opts.Hooks.Nacked; h != nil {
			h(st.obj, err)
		}
		return
	}
	r.mu.Lock()
	st.acked++
	complete := st.readDone && st.acked == st.sent && !st.completed
	if complete {
		st.completed = true
	}
	r.mu.Unlock()
	if complete {
		r.complete(st)
	}
}

// complete records st's object done, then forgets it.
func (r *Run) complete(st *objectState) {
	d := Done{Events: st.events, Bytes: st.obj.Size, At: r.opts.Now().UTC(), Damaged: st.damaged}
	r.cpMu.RLock()
	var err error
	if r.closed {
		err = errors.New("the run was closed first; the object is read again by the next run")
	} else {
		err = r.opts.Checkpoint.MarkDone(st.obj.Key, d)
	}
	r.cpMu.RUnlock()
	r.progress.Done(st.obj.Size, st.damaged)
	if h := r.opts.Hooks.Done; h != nil {
		h(st.obj, d, err)
	}
	r.mu.Lock()
	delete(r.pending, st.obj.Key)
	r.signal()
	r.mu.Unlock()
}
