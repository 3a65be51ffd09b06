package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/backlog"
	"github.com/currents-segment/currents-segment/internal/componentname"
)

const (
	bdFieldPath          = "path"
	bdFieldMaxBytes      = "max_bytes"
	bdFieldSync          = "sync"
	bdFieldReadBatchSize = "read_batch_size"
	bdFieldCheckOnStart  = "check_on_start"
	bdFieldCommitDelay   = "commit_delay"
)

// Metric names of the disk buffer.
const (
	metricBacklogMessages = "buffer_disk_backlog_messages"
	metricBacklogBytes    = "buffer_disk_backlog_bytes"
	metricOldestAge       = "buffer_disk_oldest_message_age_seconds"
	metricBufferFull      = "buffer_disk_full"
	metricMaxBytes        = "buffer_disk_max_bytes"
	metricWritten         = "buffer_disk_messages_written"
	metricAcked           = "buffer_disk_messages_acked"
	metricNacked          = "buffer_disk_messages_nacked"
	metricDamaged         = "buffer_disk_records_damaged"
)

// metaDamagedSeq is set on the message that stands for a damaged record: its
// sequence number in the buffer file.
const metaDamagedSeq = "buffer_disk_damaged_seq"

func diskBufferSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Utility").
		Version("0.1.0").
		Summary("Holds every message on local disk until the output has acknowledged it, across restarts and crashes.").
		Description(`
Braze drops Currents events once Segment has rejected the write key for 48 hours, and gives up on an HTTP endpoint
after 24 hours of 5xx answers. This buffer lets the pipeline accept events while Segment is away and deliver them
when it is back, without holding them in memory.

- An input's batch is acknowledged only once its messages are committed to the buffer file (and fsync'd under
  `+"`sync: always`"+`), so an event Braze saw accepted is on disk.
- A message leaves the buffer only when the output acknowledged it. A nack (a shutdown interrupting delivery,
  or the `+"`segment`"+` output's `+"`backoff.max_elapsed_time`"+` running out when it is set) makes it readable again, ahead of
  newer messages, after a back-off that grows from 100ms to 5s while nacks go on.
- After a crash (kill -9, out of memory, power loss under `+"`sync: always`"+`) every message written and not yet
  acknowledged is delivered by the next run; a message acknowledged is never delivered again by the buffer.
  Between Segment accepting a request and the buffer committing its acknowledgement a crash can replay that
  request; Segment deduplicates on `+"`messageId`"+`.
- When `+"`max_bytes`"+` is reached, writes block: the input stops taking requests (the `+"`http_server`"+` input answers
  `+"`408 Request Timeout`"+` after its `+"`timeout`"+`; Braze retries later) and nothing is dropped.
- Message bytes and metadata are both kept, with their types.
- Memory stays flat whatever the backlog: messages are read in batches of at most `+"`read_batch_size`"+`, at most
  10,000 are out for delivery at once, and counts come from the file.

The buffer is one file, `+"`backlog.db`"+`, in `+"`path`"+`: a bbolt B+tree (pure Go, no cgo, single file, ordered
keys for a FIFO, crash-safe fsync'd transactions, one writer). One process per `+"`path`"+`. The file is checked when
the buffer is built and opened when the stream first uses it: a stream that never starts holds no lock and no
goroutine, and an input is acknowledged only once the buffer is open and its write committed.

- A damaged or truncated file stops the start-up with an error naming the file, what the damage costs, and the
  salvage command (`+"`currents-segment backlog salvage`"+`); it is never emptied or recreated. A file or directory
  the process may not write (permissions, a read-only mount) stops it with that diagnosis and the fix.
- One record whose bytes fail their checksum does not stop the buffer: it is handed on in its place as a message
  flagged with an error (route it with `+"`switch`"+` / `+"`check: errored()`"+` to a dead letter), whose body is
  `+"`{\"damaged_record\":{\"seq\":N,\"damage\":\"...\",\"file\":\"...\",\"bytes_base64\":\"...\"}}`"+` and whose metadata
  `+"`"+metaDamagedSeq+"`"+` is its sequence number; it is counted in `+"`"+metricDamaged+"`"+`, logged at ERROR, and leaves the
  buffer once that message is acknowledged.
- A damaged newest meta page (bbolt would silently reopen the file at the commit before) is reported at ERROR, and
  the records of the lost commit still intact in the file are restored.

On shutdown the buffer keeps delivering until it is empty or the shutdown timeout runs out; what is left stays on
disk for the next run.

Metrics: `+"`"+metricBacklogMessages+"`, `"+metricBacklogBytes+"`, `"+metricOldestAge+"` and `"+metricBufferFull+"`"+` (gauges,
updated every second; `+"`"+metricBufferFull+"`"+` is 1 while a write waits for room), `+"`"+metricMaxBytes+"`"+` (the configured
limit), `+"`"+metricWritten+"`, `"+metricAcked+"` and `"+metricNacked+"`"+` (counters, in messages: with `+"`braze_currents`"+` one
message is one Braze request of about 100 events, as the buffer sits before the processors) and `+"`"+metricDamaged+"`"+`
(damaged records found). All exist from the start, at 0.`).
		Fields(
			service.NewStringField(bdFieldPath).
				Description("The directory holding the buffer file `backlog.db`; it is created if missing. Use a persistent volume: whatever is in it survives restarts and upgrades, and it must not be shared with another running process.").
				Example("/var/lib/currents-segment/buffer").
				Example("./buffer"),
			service.NewStringField(bdFieldMaxBytes).
				Description("The most message data (bytes and metadata, plus about 30 bytes a message) the buffer holds. When a write would pass it, writes block until deliveries make room. Accepts a number of bytes or a size with a unit: `KB`, `MB`, `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024). The file on disk can be up to about twice this size and never shrinks; see docs/operations.md for sizing.").
				Example("20GiB").
				Example("500MB").
				Default("1GiB"),
			service.NewStringAnnotatedEnumField(bdFieldSync, map[string]string{
				"always": "Every commit is fsync'd before the messages in it are acknowledged to the input: they survive a process crash, a kernel crash and a power loss. Concurrent writes share a commit, so one fsync serves many batches.",
				"none":   "Commits are left to the kernel to write back: they survive a crash of the process (kill -9, out of memory) but a kernel crash or power loss can lose the last seconds of messages or damage the file. Faster on disks with slow fsync.",
			}).
				Description("When commits are flushed to the disk.").
				Default("always"),
			service.NewIntField(bdFieldReadBatchSize).
				Description("The most messages handed to the pipeline in one batch. An output batching policy can gather several such batches.").
				Default(backlog.DefaultReadRecords).
				Advanced(),
			service.NewDurationField(bdFieldCommitDelay).
				Description("How long a commit may be held open for more writes while writes are streaming in, so that inputs writing one message at a time (`file`, most inputs without batching) share one transaction and, under `sync: always`, one fsync among many messages. Writes handed over while a commit runs always go into the next commit together; this delay adds to that when commits are quick (`sync: none`), where a commit would otherwise take only the few writes that arrived during it. A write after a quiet moment, and a writer that waits for each acknowledgement before writing again, are committed at once (the buffer tries one hold on such a write at most every 100 delays). Under a steady stream each write waits at most this long more for its acknowledgement, in exchange for fewer transactions: less CPU and, under `sync: always`, fewer fsyncs. For example `2ms` trades a little more latency for larger commits; `0s` disables the hold.").
				Example("2ms").
				Example("0s").
				Default("1ms").
				Advanced(),
			service.NewBoolField(bdFieldCheckOnStart).
				Description("Whether to walk every page of an existing buffer file's tree at start-up to detect damage before anything is read from it. Takes about a second per few GB; write access, the meta pages and the file length are checked either way. Turned off, a damaged tree can stop the process with a bbolt panic at start instead of an error naming the damage.").
				Default(true).
				Advanced(),
		).
		Example("Hold Braze's events while Segment is away", "Accepts Currents over HTTP into a buffer of up to 20 GiB on a persistent volume.", `
input:
  http_server:
    path: /currents
buffer:
  disk:
    path: /var/lib/currents-segment/buffer
    max_bytes: 20GiB
pipeline:
  processors:
    - currents_to_segment: {}
output:
  segment:
    write_key: ${SEGMENT_WRITE_KEY}
`)
}

func init() {
	err := service.RegisterBatchBuffer(componentname.DiskBuffer, diskBufferSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchBuffer, error) {
			return newDiskBufferFromParsed(conf, mgr)
		})
	if err != nil {
		panic(err)
	}
}

func newDiskBufferFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*diskBuffer, error) {
	path, err := conf.FieldString(bdFieldPath)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(path) == "" {
		return nil, fmt.Errorf("field %s: must name a directory", bdFieldPath)
	}
	var opts backlog.Options
	raw, err := conf.FieldAny(bdFieldMaxBytes)
	if err != nil {
		return nil, err
	}
	if opts.MaxBytes, err = parseByteSize(raw); err != nil {
		return nil, fmt.Errorf("field %s: %w", bdFieldMaxBytes, err)
	}
	syncPolicy, err := conf.FieldString(bdFieldSync)
	if err != nil {
		return nil, err
	}
	switch syncPolicy {
	case "always":
	case "none":
		opts.Sync = backlog.SyncNone
	default:
		return nil, fmt.Errorf("field %s: %q is not an option; use always or none", bdFieldSync, syncPolicy)
	}
	if opts.ReadRecords, err = conf.FieldInt(bdFieldReadBatchSize); err != nil {
		return nil, err
	}
	if opts.ReadRecords < 1 {
		return nil, fmt.Errorf("field %s: must be at least 1, got %d", bdFieldReadBatchSize, opts.ReadRecords)
	}
	if opts.CommitDelay, err = conf.FieldDuration(bdFieldCommitDelay); err != nil {
		return nil, err
	}
	// The queue holds a commit as long as it is told to; a configuration
	// may not make every write of a stream wait more than a second.
	if opts.CommitDelay < 0 || opts.CommitDelay > time.Second {
		return nil, fmt.Errorf("field %s: must be between 0s and 1s, got %s", bdFieldCommitDelay, opts.CommitDelay)
	}
	check, err := conf.FieldBool(bdFieldCheckOnStart)
	if err != nil {
		return nil, err
	}
	opts.SkipCheck = !check
	return newDiskBuffer(path, opts, mgr)
}

// newDiskBuffer checks the backlog in dir and returns a buffer that opens it
// when first used. The check (backlog.Prepare) fails the construction on a
// damaged, locked or unwritable file, and restores a commit a damaged meta
// page lost; it holds nothing once done. Benthos builds the buffer before
// the pipeline and the output and never closes it when one of those fails to
// build (as its memory buffer, which opens nothing until used): a file
// opened here would stay locked, with its goroutines running, for the life
// of the process.
func newDiskBuffer(dir string, opts backlog.Options, mgr *service.Resources) (*diskBuffer, error) {
	started := time.Now()
	rep, err := backlog.Prepare(dir, opts)
	if err != nil {
		logRunbook(mgr.Logger(), err)
		return nil, fmt.Errorf("disk buffer: %w", err)
	}
	m := mgr.Metrics()
	b := &diskBuffer{
		dir:      dir,
		path:     rep.Path,
		opts:     opts,
		log:      mgr.Logger(),
		messages: m.NewGauge(metricBacklogMessages),
		bytes:    m.NewGauge(metricBacklogBytes),
		oldest:   m.NewGauge(metricOldestAge),
		full:     m.NewGauge(metricBufferFull),
		written:  m.NewCounter(metricWritten),
		acked:    m.NewCounter(metricAcked),
		nacked:   m.NewCounter(metricNacked),
		damaged:  m.NewCounter(metricDamaged),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	m.NewGauge(metricMaxBytes).Set(opts.MaxBytes)
	for _, c := range []*service.MetricCounter{b.written, b.acked, b.nacked, b.damaged} {
		c.Incr(0) // export the series from the start, for rate() and alerts
	}
	b.setGauges(rep.Stats)
	if md := rep.MetaDamage; md != nil {
		b.log.Errorf("Disk buffer %s: %s", rep.Path, md)
	}
	b.log.Infof("Disk buffer %s checked in %s: %d messages (%d bytes) waiting, of at most %d bytes", rep.Path,
		time.Since(started).Round(time.Millisecond), rep.Stats.Records, rep.Stats.Bytes, opts.MaxBytes)
	// The check just walked the file: opening it again need not.
	b.opts.SkipCheck = true
	return b, nil
}

// diskBuffer adapts a backlog.Queue to a Benthos buffer: WriteBatch appends
// and acknowledges the input after the commit, ReadBatch leases, and the
// returned ack function acknowledges (deletes) or releases the lease. The
// queue is opened by the first WriteBatch or ReadBatch.
type diskBuffer struct {
	dir, path string
	opts      backlog.Options
	log       *service.Logger

	messages, bytes, oldest, full   *service.MetricGauge
	written, acked, nacked, damaged *service.MetricCounter

	mu         sync.Mutex
	q          *backlog.Queue
	opening    chan struct{} // closed when the open in progress ends
	closed     bool
	endOfInput bool

	stop, stopped chan struct{} // the gauge loop, started with the queue
	closeOnce     sync.Once
	runbookOnce   sync.Once
}

// logRunbook logs how to recover from a damaged backlog file, when err says
// the file is damaged, and reports whether it did. The error itself says
// what is wrong; the steps are said here, once, beside it.
func logRunbook(log *service.Logger, err error) bool {
	var corrupt *backlog.CorruptError
	if !errors.As(err, &corrupt) {
		return false
	}
	log.Errorf("Disk buffer %s is damaged. %s", corrupt.Path, corrupt.Runbook())
	return true
}

// onDamage logs the runbook the first time a running buffer meets a damaged
// file; Benthos says the error again on every retry.
func (b *diskBuffer) onDamage(err error) error {
	var corrupt *backlog.CorruptError
	if errors.As(err, &corrupt) {
		b.runbookOnce.Do(func() { logRunbook(b.log, err) })
	}
	return err
}

var errBufferClosed = errors.New("disk buffer: closed")

// queue returns the open queue, opening it on first use. Callers that come
// while it opens wait for it (or for ctx); a failed open is tried again by
// the next caller.
func (b *diskBuffer) queue(ctx context.Context) (*backlog.Queue, error) {
	b.mu.Lock()
	for {
		switch {
		case b.closed:
			b.mu.Unlock()
			return nil, errBufferClosed
		case b.q != nil:
			q := b.q
			b.mu.Unlock()
			return q, nil
		case b.opening != nil:
			ch := b.opening
			b.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			b.mu.Lock()
			continue
		}
		break
	}
	ch := make(chan struct{})
	b.opening = ch
	b.mu.Unlock()

	started := time.Now()
	q, err := backlog.Open(b.dir, b.opts)
	if err == nil {
		b.log.Infof("Disk buffer %s opened in %s", b.path, time.Since(started).Round(time.Millisecond))
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	b.opening = nil
	close(ch)
	if err != nil {
		return nil, b.onDamage(fmt.Errorf("disk buffer: %w", err))
	}
	if b.closed {
		// Close came while the file opened: it waits for this.
		_ = q.Close()
		return nil, errBufferClosed
	}
	if b.endOfInput {
		q.CloseWrites()
	}
	b.q = q
	go b.gaugeLoop(q)
	return q, nil
}

func (b *diskBuffer) WriteBatch(ctx context.Context, batch service.MessageBatch, aFn service.AckFunc) error {
	recs := make([]backlog.Record, len(batch))
	for i, msg := range batch {
		body, err := msg.AsBytes()
		if err != nil {
			return err
		}
		recs[i].Body = body
		if err := msg.MetaWalkMut(func(k string, v any) error {
			recs[i].Meta = append(recs[i].Meta, backlog.MetaOf(k, v))
			return nil
		}); err != nil {
			return err
		}
	}
	q, err := b.queue(ctx)
	if err != nil {
		return err
	}
	n := int64(len(batch))
	done := func(err error) {
		if err == nil {
			b.written.Incr(n)
		} else {
			b.log.Errorf("Disk buffer: could not store %d messages, nacking them to the input: %v", n, err)
		}
		_ = aFn(context.Background(), err)
	}
	err = q.AppendAsync(ctx, recs, done)
	if err != nil && ctx.Err() == nil {
		var tooLarge *backlog.TooLargeError
		if errors.As(err, &tooLarge) {
			return fmt.Errorf("disk buffer: %w; raise %s", err, bdFieldMaxBytes)
		}
		return b.onDamage(fmt.Errorf("disk buffer: %w", err))
	}
	return err
}

func (b *diskBuffer) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	q, err := b.queue(ctx)
	if errors.Is(err, errBufferClosed) {
		return nil, nil, service.ErrEndOfBuffer
	}
	if err != nil {
		return nil, nil, err
	}
	var lease *backlog.Lease
	for lease == nil || lease.Len() == 0 {
		if lease, err = q.Read(ctx); err != nil {
			if errors.Is(err, backlog.ErrDrained) || errors.Is(err, backlog.ErrClosed) {
				return nil, nil, service.ErrEndOfBuffer
			}
			return nil, nil, b.onDamage(err)
		}
	}
	batch := make(service.MessageBatch, len(lease.Records))
	for i, r := range lease.Records {
		if r.Damage != nil {
			batch[i] = b.damagedMessage(r.Damage)
			continue
		}
		msg := service.NewMessage(r.Body)
		for _, m := range r.Meta {
			msg.MetaSetMut(m.Key, m.Decode())
		}
		batch[i] = msg
	}
	n := int64(lease.Len())
	return batch, func(ctx context.Context, err error) error {
		if err != nil {
			lease.Release()
			b.nacked.Incr(n)
			return nil
		}
		if aerr := lease.Ack(ctx); aerr != nil {
			b.nacked.Incr(n)
			return fmt.Errorf("disk buffer: recording the delivery of %d messages failed, they will be delivered again: %w", n, aerr)
		}
		b.acked.Incr(n)
		return nil
	}, nil
}

// damagedRecord is the body of the message that stands for a damaged record:
// what a dead letter keeps of it.
type damagedRecord struct {
	DamagedRecord struct {
		Seq    uint64 `json:"seq"`
		Damage string `json:"damage"`
		File   string `json:"file"`
		Bytes  []byte `json:"bytes_base64"` // encoding/json writes []byte as base64
	} `json:"damaged_record"`
}

// damagedMessage turns a record whose bytes fail their checksum into a
// message flagged with the error, so that the pipeline's errored() route
// takes it to the dead letter; acknowledging it moves the record out of the
// buffer. The first time a record is handed out it is counted and logged.
func (b *diskBuffer) damagedMessage(d *backlog.Damage) *service.Message {
	var body damagedRecord
	body.DamagedRecord.Seq, body.DamagedRecord.Damage = d.Seq, d.Err.Error()
	body.DamagedRecord.File, body.DamagedRecord.Bytes = b.path, d.Bytes
	raw, err := json.Marshal(body)
	if err != nil {
		raw = d.Bytes
	}
	msg := service.NewMessage(raw)
	msg.MetaSetMut(metaDamagedSeq, int64(d.Seq))
	msg.SetError(fmt.Errorf("disk buffer: record %d of %s is damaged and leaves the buffer as this message (its stored bytes are in bytes_base64): %w", d.Seq, b.path, d.Err))
	if !d.Repeat {
		b.damaged.Incr(1)
		b.log.Errorf("Disk buffer %s: record %d is damaged (%v); it goes on as an errored message (metadata %s) to the dead letter, and the buffer goes on without it", b.path, d.Seq, d.Err, metaDamagedSeq)
	}
	return msg
}

func (b *diskBuffer) EndOfInput() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endOfInput = true
	if b.q != nil {
		b.q.CloseWrites()
	}
}

func (b *diskBuffer) Close(ctx context.Context) error {
	var err error
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		for b.opening != nil {
			ch := b.opening
			b.mu.Unlock()
			<-ch
			b.mu.Lock()
		}
		q := b.q
		b.mu.Unlock()
		if q == nil {
			return // never used: nothing was opened
		}
		close(b.stop)
		<-b.stopped
		err = q.Close()
	})
	return err
}

func (b *diskBuffer) gaugeLoop(q *backlog.Queue) {
	defer close(b.stopped)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			if st, err := q.Stats(); err == nil {
				b.setGauges(st)
			}
		}
	}
}

func (b *diskBuffer) setGauges(st backlog.Stats) {
	b.messages.Set(st.Records)
	b.bytes.Set(st.Bytes)
	age := 0.0
	if !st.Oldest.IsZero() {
		age = max(0, time.Since(st.Oldest).Seconds())
	}
	b.oldest.SetFloat64(age)
	full := int64(0)
	if st.WaitingWrites > 0 {
		full = 1
	}
	b.full.Set(full)
}

// parseByteSize reads a byte count: a YAML number, or a string such as
// "1048576", "500MB" (powers of 1000) or "20GiB" (powers of 1024).
func parseByteSize(v any) (int64, error) {
	var n float64
	switch t := v.(type) {
	case int:
		n = float64(t)
	case int64:
		n = float64(t)
	case float64:
		n = t
	case string:
		s := strings.TrimSpace(t)
		i := len(s)
		for i > 0 && (s[i-1] < '0' || s[i-1] > '9') && s[i-1] != '.' {
			i--
		}
		num, unit := strings.TrimSpace(s[:i]), strings.ToLower(strings.TrimSpace(s[i:]))
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a size such as 500MB or 20GiB", t)
		}
		mult, ok := map[string]float64{
			"": 1, "b": 1,
			"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
			"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
		}[unit]
		if !ok {
			return 0, fmt.Errorf("unknown unit %q in %q: use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB", strings.TrimSpace(s[i:]), t)
		}
		n = f * mult
	default:
		return 0, fmt.Errorf("expected a size such as 500MB or 20GiB, got %T", v)
	}
	if n < 1 || n > math.MaxInt64/2 {
		return 0, fmt.Errorf("%v is out of range", v)
	}
	return int64(n), nil
}
