package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gocloud.dev/blob"

	// Every storage Braze's Currents connector writes to, each with its
	// cloud's standard credential chain, and local directories.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/currents-segment/currents-segment/internal/componentname"
	"github.com/currents-segment/currents-segment/internal/ratelog"
	"github.com/currents-segment/currents-segment/internal/storageexport"
)

const (
	bsiFieldURL              = "url"
	bsiFieldPrefix           = "prefix"
	bsiFieldEventTypes       = "event_types"
	bsiFieldSince            = "since"
	bsiFieldUntil            = "until"
	bsiFieldFollow           = "follow"
	bsiFieldPollInterval     = "poll_interval"
	bsiFieldCheckpoint       = "checkpoint"
	bsiFieldShard            = "shard"
	bsiFieldShardIndex       = "index"
	bsiFieldShardCount       = "count"
	bsiFieldMaxOpenFiles     = "max_open_files"
	bsiFieldBatchSize        = "batch_size"
	bsiFieldProgressInterval = "progress_interval"
)

// Metadata keys set on every message the input emits (with path, the object
// key, which currents_to_segment reads the event type from).
const (
	metaStoragePath       = "path"
	metaStorageSchemaID   = "currents_schema_id"
	metaStorageExportHour = "currents_export_hour"
	metaStorageDamaged    = "currents_storage_damaged"
)

func brazeStorageInputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services", "Integration").
		Version("0.1.0").
		Summary("Reads Braze Currents storage exports (Avro object container files) straight from S3, Google Cloud Storage, Azure Blob Storage or a local directory: a bounded backfill or a continuous follow, resumable from a checkpoint and sharded across instances.").
		Description(`
Braze's Currents storage connectors write one Avro file every five minutes (or 15,000 events) per event type, under
`+"`<prefix>/dataexport.<cluster>.<S3|AzureBlob|GCS>.integration.<id>/event_type=<type>/date=<YYYY-MM-DD-HH>/<schema-id>/<zone>/<file>.avro`"+`.
This input lists the export by event type and hour partition (so `+"`event_types`"+`, `+"`since`"+` and `+"`until`"+` cut the listing, not only the reading), reads every schema id, and emits one message per Avro record in the flat storage shape that `+"`currents_to_segment`"+` maps, with the metadata `+"`path`"+` (the object key), `+"`currents_event_type`"+`, `+"`currents_schema_id`"+` and `+"`currents_export_hour`"+`. Braze warns that names in the layout may change, so any key ending in `+"`.avro`"+` under the prefix is read, typed by its `+"`event_type=`"+` folder or else by its schema's namespace and name.

### Exactly what was acknowledged is done
An object is recorded in the `+"`checkpoint`"+` (a local bbolt file) only when every message read from it was acknowledged downstream: delivered, skipped or dead-lettered. A nacked batch is emitted again (this input keeps it; it does not rely on Benthos's nack replay, which a finite input loses at end of input). A restart, also after SIGKILL, resumes from the checkpoint and reads only the objects not done, so at most the objects in flight are sent twice, and Segment drops the duplicates on `+"`messageId`"+` (the Currents event id). The checkpoint records the bucket, the prefix and the shard: opening it with others is refused, rather than mixing two runs.

### A backfill ends honestly
With `+"`follow: false`"+` the input ends once every selected object is done, logs a summary (objects, events, bytes, duration) and the binary exits 0. It does not end while an event is undelivered: the `+"`segment`"+` output retries until Segment accepts. A run stopped before the end (SIGTERM) exits non-zero, naming the objects not finished. A prefix, type or range that matches no object at all is an error (exit 2), not an instant success; one whose objects are all done already ends at once and says so.

### Follow mode
With `+"`follow: true`"+` the input reads the selection, then lists the current and previous hour partitions of each event type every `+"`poll_interval`"+` and reads new objects, forever. `+"`braze_storage_lag_seconds`"+` is the age of the oldest object listed and not yet done (0 when caught up).

### Sharding
`+"`shard: {index: i, count: n}`"+` takes the objects whose key hashes (FNV-1a) to i modulo n: n instances with the same settings and each its own index split an export with no shared state and no overlap. Each needs its own checkpoint.

### Damaged files
A file that cannot be read to its end (Braze warns Google Cloud Storage can leave incomplete files) is logged with its key; its good records are emitted, and its rest becomes one message flagged with the error (metadata `+"`currents_storage_damaged`"+`), which `+"`currents_to_segment`"+` passes on untouched for the dead-letter route. It never stalls the input. A failure of the storage service itself (a reset connection) is retried with backoff, skipping the records already emitted.

### Credentials
Each cloud's standard chain and nothing else to configure: AWS (environment, shared profile, IRSA / instance role) for `+"`s3://`"+`, Google Application Default Credentials for `+"`gs://`"+`, and for `+"`azblob://`"+` `+"`AZURE_STORAGE_ACCOUNT`"+` with `+"`AZURE_STORAGE_KEY`"+`, `+"`AZURE_STORAGE_SAS_TOKEN`"+` or a managed identity / `+"`az login`"+`.

Metrics: `+"`braze_storage_objects_listed`"+`, `+"`braze_storage_objects_done`"+`, `+"`braze_storage_objects_failed`"+` (label `+"`reason`"+`: `+"`damaged`"+`, `+"`checkpoint`"+`), `+"`braze_storage_events_read`"+`, `+"`braze_storage_bytes_read`"+`, `+"`braze_storage_list_requests`"+`, `+"`braze_storage_read_retries`"+`, `+"`braze_storage_batches_nacked`"+`, `+"`braze_storage_objects_pending`"+` and `+"`braze_storage_lag_seconds`"+`.`).
		Fields(
			service.NewStringField(bsiFieldURL).
				Description("The bucket or container, as a URL: `s3://<bucket>?region=<region>`, `gs://<bucket>`, `azblob://<container>` or `file:///<dir>` (a local copy, e.g. from `aws s3 sync`). S3-compatible services take `&endpoint=<url>&use_path_style=true`.").
				Examples("s3://my-braze-exports?region=us-east-1", "gs://my-braze-exports", "azblob://braze-exports", "file:///data/braze-export"),
			service.NewStringField(bsiFieldPrefix).
				Description("The key prefix the Currents connector writes under (the folder holding `dataexport.…`), or a deeper one such as one integration's folder.").
				Example("currents").
				Default(""),
			service.NewStringListField(bsiFieldEventTypes).
				Description("The event types to read, by their Currents names; empty reads every type found. The listing skips the folders of the others. (`currents_to_segment`'s `events` still decides which are sent.)").
				Example([]string{"users.messages.email.Send", "users.messages.email.Delivery"}).
				Default([]any{}).
				// Benthos runs a list field's rule on the list and on each
				// element: report once, at the list.
				LintRule(`root = if this.type() == "array" { this.`+lintEventTypesMethod+`() } else { [] }`),
			service.NewStringField(bsiFieldSince).
				Description("The first hour partition to read, UTC, inclusive: `2026-11-28-13` as Braze names it, a day (`2026-11-28`, from its first hour) or an RFC 3339 time (its hour). Empty reads from the start.").
				Example("2026-11-01").
				Default(""),
			service.NewStringField(bsiFieldUntil).
				Description("The last hour partition to read, UTC, inclusive, in the forms of `since` (a day means up to its last hour). Empty reads to the newest.").
				Example("2026-11-30-23").
				Default(""),
			service.NewBoolField(bsiFieldFollow).
				Description("Keep reading new objects after the selection is done, polling the current and previous hour partitions every `poll_interval`, instead of ending.").
				Default(false),
			service.NewDurationField(bsiFieldPollInterval).
				Description("How often follow mode lists the recent hours; Braze writes a file every five minutes (or 15,000 events) per type.").
				Default(bciSeconds(storageexport.DefaultPollInterval)),
			service.NewStringField(bsiFieldCheckpoint).
				Description("The local file recording the objects done (created if missing), on a persistent volume. One per instance: a second process opening it is refused.").
				Example("/var/lib/currents-segment/storage-checkpoint.db"),
			service.NewObjectField(bsiFieldShard,
				service.NewIntField(bsiFieldShardIndex).Description("This instance's shard, 0 to count−1 (a StatefulSet pod's ordinal).").Default(0),
				service.NewIntField(bsiFieldShardCount).Description("How many instances split the export.").Default(1),
			).Description("The part of the export this instance reads: the objects whose key hashes to `index` modulo `count`."),
			service.NewIntField(bsiFieldMaxOpenFiles).
				Description("How many objects are read at once.").
				Default(storageexport.DefaultMaxOpenFiles).
				Advanced(),
			service.NewIntField(bsiFieldBatchSize).
				Description("How many records of an object are emitted as one batch: the unit emitted again after a nack.").
				Default(storageexport.DefaultBatchRecords).
				Advanced(),
			service.NewDurationField(bsiFieldProgressInterval).
				Description("How often a progress line is logged at INFO while objects are being read: objects done of the total, events/s, bytes and the time left.").
				Default(bciSeconds(storageexport.DefaultProgressInterval)),
		).
		Example("Backfill November from S3", "Reads one month of every event type and ends; run it again to resume.", `
input:
  braze_storage:
    url: s3://my-braze-exports?region=us-east-1
    prefix: currents
    since: 2026-11-01
    until: 2026-11-30
    checkpoint: /var/lib/currents-segment/storage-checkpoint.db
pipeline:
  processors:
    - currents_to_segment: {}
`).
		Example("Follow, in three shards", "Pod ordinal i of a StatefulSet of three reads shard i and keeps following.", `
input:
  braze_storage:
    url: gs://my-braze-exports
    prefix: currents
    follow: true
    checkpoint: /var/lib/currents-segment/storage-checkpoint.db
    shard:
      index: ${SHARD_INDEX}
      count: 3
`)
}

func init() {
	service.MustRegisterBatchInput(componentname.BrazeStorageInput, brazeStorageInputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
			return newBrazeStorageFromParsed(conf, mgr)
		})
}

// storageConfig is the input's configuration, filled once.
type storageConfig struct {
	url, checkpoint  string
	selection        storageexport.Selection
	shard            storageexport.Shard
	follow           bool
	pollInterval     time.Duration
	maxOpenFiles     int
	batchRecords     int
	progressInterval time.Duration
}

func newBrazeStorageFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*brazeStorageInput, error) {
	var c storageConfig
	var err error
	if c.url, err = conf.FieldString(bsiFieldURL); err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.url) == "" || c.url == "null" {
		return nil, fmt.Errorf("%s is empty (an unset environment variable?): give the bucket as s3://, gs://, azblob:// or file:// URL", bsiFieldURL)
	}
	if c.selection.Prefix, err = conf.FieldString(bsiFieldPrefix); err != nil {
		return nil, err
	}
	if c.selection.Types, err = conf.FieldStringList(bsiFieldEventTypes); err != nil {
		return nil, err
	}
	for i, f := range []string{bsiFieldSince, bsiFieldUntil} {
		s, err := conf.FieldString(f)
		if err != nil {
			return nil, err
		}
		h, err := storageexport.ParseHour(s, i == 1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if i == 0 {
			c.selection.Since = h
		} else {
			c.selection.Until = h
		}
	}
	if err := c.selection.Validate(); err != nil {
		return nil, err
	}
	if c.follow, err = conf.FieldBool(bsiFieldFollow); err != nil {
		return nil, err
	}
	if c.pollInterval, err = conf.FieldDuration(bsiFieldPollInterval); err != nil {
		return nil, err
	}
	if c.checkpoint, err = conf.FieldString(bsiFieldCheckpoint); err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.checkpoint) == "" || c.checkpoint == "null" {
		return nil, fmt.Errorf("%s is empty: give a local file on a persistent volume, e.g. /var/lib/currents-segment/storage-checkpoint.db", bsiFieldCheckpoint)
	}
	if c.shard.Index, err = conf.FieldInt(bsiFieldShard, bsiFieldShardIndex); err != nil {
		return nil, err
	}
	if c.shard.Count, err = conf.FieldInt(bsiFieldShard, bsiFieldShardCount); err != nil {
		return nil, err
	}
	if err := c.shard.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", bsiFieldShard, err)
	}
	if c.maxOpenFiles, err = conf.FieldInt(bsiFieldMaxOpenFiles); err != nil {
		return nil, err
	}
	if c.batchRecords, err = conf.FieldInt(bsiFieldBatchSize); err != nil {
		return nil, err
	}
	if c.progressInterval, err = conf.FieldDuration(bsiFieldProgressInterval); err != nil {
		return nil, err
	}
	if c.maxOpenFiles < 1 || c.batchRecords < 1 || c.pollInterval < time.Second || c.progressInterval <= 0 {
		return nil, fmt.Errorf("%s and %s must be 1 or more, %s at least 1s and %s above 0", bsiFieldMaxOpenFiles, bsiFieldBatchSize, bsiFieldPollInterval, bsiFieldProgressInterval)
	}
	return newBrazeStorage(c, mgr), nil
}

// brazeStorageInput adapts a storageexport.Run to Benthos: batches become
// messages, acks settle them.
type brazeStorageInput struct {
	conf  storageConfig
	log   *service.Logger
	tally *runTally
	limit *ratelog.Limiter

	mListed, mDone, mFailed, mEvents, mBytes *service.MetricCounter
	mListRequests, mRetries, mNacked         *service.MetricCounter
	mPending, mLag                           *service.MetricGauge

	mu      sync.Mutex
	run     *storageexport.Run
	started time.Time
	stop    chan struct{}
	stopped chan struct{}
	ended   bool
}

func newBrazeStorage(c storageConfig, mgr *service.Resources) *brazeStorageInput {
	m := mgr.Metrics()
	in := &brazeStorageInput{
		conf:          c,
		log:           mgr.Logger(),
		tally:         runTallyOf(mgr),
		limit:         ratelog.New(time.Minute),
		mListed:       m.NewCounter("braze_storage_objects_listed"),
		mDone:         m.NewCounter("braze_storage_objects_done"),
		mFailed:       m.NewCounter("braze_storage_objects_failed", "reason"),
		mEvents:       m.NewCounter("braze_storage_events_read"),
		mBytes:        m.NewCounter("braze_storage_bytes_read"),
		mListRequests: m.NewCounter("braze_storage_list_requests"),
		mRetries:      m.NewCounter("braze_storage_read_retries"),
		mNacked:       m.NewCounter("braze_storage_batches_nacked"),
		mPending:      m.NewGauge("braze_storage_objects_pending"),
		mLag:          m.NewGauge("braze_storage_lag_seconds"),
	}
	// Every series exists from the start, so an alert on increase() fires
	// on the first damaged file, not the second.
	for _, c := range []*service.MetricCounter{in.mListed, in.mDone, in.mEvents, in.mBytes, in.mListRequests, in.mRetries, in.mNacked} {
		c.Incr(0)
	}
	in.mFailed.Incr(0, "damaged")
	in.mFailed.Incr(0, "checkpoint")
	in.mPending.Set(0)
	in.mLag.Set(0)
	in.tally.addStorageInput()
	return in
}

// Connect opens the bucket and the checkpoint and starts the run; a failure
// is retried by Benthos with backoff, and says what to fix.
func (in *brazeStorageInput) Connect(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.run != nil {
		return nil
	}
	bucket, err := blob.OpenBucket(ctx, in.conf.url)
	if err != nil {
		return fmt.Errorf("%s: opening %s: %w", componentname.BrazeStorageInput, storageexport.BucketIdentity(in.conf.url), err)
	}
	cp, err := storageexport.OpenCheckpoint(in.conf.checkpoint, storageexport.Settings{URL: in.conf.url, Prefix: in.conf.selection.Prefix, Shard: in.conf.shard})
	if err != nil {
		bucket.Close()
		return fmt.Errorf("%s: %w", componentname.BrazeStorageInput, err)
	}
	run, err := storageexport.Start(storageexport.Options{
		Bucket: bucket, Checkpoint: cp, Selection: in.conf.selection, Shard: in.conf.shard,
		Follow: in.conf.follow, PollInterval: in.conf.pollInterval,
		MaxOpenFiles: in.conf.maxOpenFiles, BatchRecords: in.conf.batchRecords,
		Hooks: in.hooks(),
	})
	if err != nil {
		cp.Close()
		bucket.Close()
		return fmt.Errorf("%s: %w", componentname.BrazeStorageInput, err)
	}
	done, _ := cp.DoneCount()
	in.log.Infof("Reading Braze Currents storage export %s, prefix %q, %s, shard %d of %d (%s); checkpoint %s holds %d objects done",
		storageexport.BucketIdentity(in.conf.url), in.conf.selection.Prefix, in.describeSelection(), in.conf.shard.Index, in.conf.shard.Count,
		map[bool]string{true: "following new objects", false: "ending when every selected object is done"}[in.conf.follow],
		in.conf.checkpoint, done)
	in.run, in.started = run, time.Now()
	in.stop, in.stopped = make(chan struct{}), make(chan struct{})
	go in.report(run, bucket)
	return nil
}

func (in *brazeStorageInput) describeSelection() string {
	s := in.conf.selection
	types := "every event type"
	if len(s.Types) > 0 {
		types = strconv.Itoa(len(s.Types)) + " event types"
	}
	hours := "every hour"
	if !s.Since.IsZero() || !s.Until.IsZero() {
		hours = "hours " + storageexport.FormatBound(s.Since) + " to " + storageexport.FormatBound(s.Until)
	}
	return types + ", " + hours
}

func (in *brazeStorageInput) hooks() storageexport.Hooks {
	return storageexport.Hooks{
		ListRequest: func(prefix string) {
			in.mListRequests.Incr(1)
			in.log.Debugf("Listing %q", prefix)
		},
		Listed: func(storageexport.Object) { in.mListed.Incr(1) },
		Read: func(_ storageexport.Object, events, bytes int64) {
			in.mEvents.Incr(events)
			in.mBytes.Incr(bytes)
		},
		Done: func(o storageexport.Object, d storageexport.Done, err error) {
			if err != nil {
				in.mFailed.Incr(1, "checkpoint")
				in.log.Errorf("Every event of %s was acknowledged, but recording it done failed, so the next run reads it again (Segment drops the duplicates on messageId): %v", o.Key, err)
				return
			}
			in.mDone.Incr(1)
			in.tally.storageObjectDone(d.Damaged)
			in.log.Debugf("Done: %s (%d events)", o.Key, d.Events)
		},
		Damaged: func(e *storageexport.DamageError) {
			in.mFailed.Incr(1, "damaged")
			in.log.Errorf("%v; its rest goes to the dead letter as one whole-file record, and the input goes on", e)
		},
		Skipped: func(o storageexport.Object, reason string) {
			in.log.Infof("Not reading %s: %s", o.Key, reason)
		},
		Retry: func(err error, wait time.Duration) {
			in.mRetries.Incr(1)
			in.logLimited("retry", func(l *service.Logger, note string) {
				l.Warnf("The storage service failed, trying again in %s: %v%s", wait.Round(time.Millisecond), err, note)
			}, func(l *service.Logger) { l.Debugf("Storage retry in %s: %v", wait, err) })
		},
		Nacked: func(o storageexport.Object, err error) {
			in.mNacked.Incr(1)
			in.logLimited("nack", func(l *service.Logger, note string) {
				l.Warnf("Events of %s were not delivered, emitting them again: %v%s", o.Key, err, note)
			}, func(l *service.Logger) { l.Debugf("Nacked batch of %s: %v", o.Key, err) })
		},
	}
}

func (in *brazeStorageInput) logLimited(key string, due func(*service.Logger, string), rest func(*service.Logger)) {
	if ok, held := in.limit.Allow(key); ok {
		due(in.log, in.limit.Note(held))
		return
	}
	rest(in.log)
}

// report keeps the gauges current and logs progress while objects are read.
func (in *brazeStorageInput) report(run *storageexport.Run, bucket *blob.Bucket) {
	defer close(in.stopped)
	defer bucket.Close()
	gauges := time.NewTicker(time.Second)
	defer gauges.Stop()
	progress := time.NewTicker(in.conf.progressInterval)
	defer progress.Stop()
	var lastDone, lastEvents int64 = -1, -1
	for {
		select {
		case <-in.stop:
			setStorageGauges(run, in.mPending, in.mLag)
			return
		case <-gauges.C:
			setStorageGauges(run, in.mPending, in.mLag)
		case <-progress.C:
			s := run.Progress()
			if s.Done == lastDone && s.Events == lastEvents {
				continue // caught up in follow mode: nothing to tell
			}
			lastDone, lastEvents = s.Done, s.Events
			in.log.Infof("Progress: %s", s.Line())
		}
	}
}

func setStorageGauges(run *storageexport.Run, pending, lag *service.MetricGauge) {
	pending.Set(int64(run.Pending()))
	lag.Set(int64(run.Lag() / time.Second))
}

// ReadBatch emits the next batch: one message per record, or one flagged
// message for the rest of a damaged object.
func (in *brazeStorageInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	in.mu.Lock()
	run := in.run
	in.mu.Unlock()
	if run == nil {
		return nil, nil, service.ErrNotConnected
	}
	b, err := run.Next(ctx)
	var none *storageexport.NothingSelectedError
	switch {
	case errors.Is(err, io.EOF):
		in.end("")
		return nil, nil, service.ErrEndOfInput
	case errors.As(err, &none):
		in.end(none.Error())
		return nil, nil, service.ErrEndOfInput
	case err != nil:
		return nil, nil, err
	}
	batch := in.messages(b)
	return batch, func(_ context.Context, err error) error {
		b.Ack(err)
		return nil
	}, nil
}

func (in *brazeStorageInput) messages(b *storageexport.Batch) service.MessageBatch {
	o := b.Object
	meta := func(m *service.Message) {
		m.MetaSetMut(metaStoragePath, o.Key)
		if b.EventType != "" {
			m.MetaSetMut(metaEventType, b.EventType)
		}
		if o.SchemaID != "" {
			m.MetaSetMut(metaStorageSchemaID, o.SchemaID)
		}
		if !o.Hour.IsZero() {
			m.MetaSetMut(metaStorageExportHour, o.Hour.Format(storageexport.HourLayout))
		}
	}
	if b.Damage != nil {
		rec := fmt.Appendf(nil, `{"path":%q,"records_read":%d,"error":%q}`, o.Key, b.Damage.Records, b.Damage.Error())
		m := service.NewMessage(rec)
		meta(m)
		m.MetaSetMut(metaStorageDamaged, "true")
		m.SetError(b.Damage)
		return service.MessageBatch{m}
	}
	batch := make(service.MessageBatch, len(b.Records))
	for i, r := range b.Records {
		m := service.NewMessage(r)
		meta(m)
		batch[i] = m
	}
	return batch
}

// end logs the run's summary once, and records a run that did nothing
// against the binary's exit code.
func (in *brazeStorageInput) end(nothing string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ended {
		return
	}
	in.ended = true
	if nothing != "" {
		in.tally.fail(componentname.BrazeStorageInput + ": " + nothing)
		in.log.Errorf("Nothing to read: %s", nothing)
		return
	}
	s := in.run.Progress()
	if s.Listed == 0 {
		in.log.Infof("Nothing left to read: all %d selected objects were done by earlier runs (checkpoint %s)", s.AlreadyDone, in.conf.checkpoint)
		return
	}
	in.log.Infof("Backfill complete in %s: %d objects done (%d damaged, sent to the dead letter), %d events, %s read; %d more were done by earlier runs",
		time.Since(in.started).Round(time.Millisecond), s.Done, s.Damaged, s.Events, byteCount(s.Bytes), s.AlreadyDone)
}

func byteCount(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

// Close stops the run. A bounded run stopped before its end is recorded as
// unfinished, so the binary exits non-zero naming what is left.
func (in *brazeStorageInput) Close(ctx context.Context) error {
	in.mu.Lock()
	run, ended := in.run, in.ended
	in.run = nil
	in.mu.Unlock()
	if run == nil {
		return nil
	}
	pending := run.Pending()
	s := run.Progress()
	err := run.Close()
	close(in.stop)
	<-in.stopped
	if !ended {
		msg := fmt.Sprintf("stopped with %d objects listed and not done (and the listing %s); they are read again on the next run, from checkpoint %s", pending, map[bool]string{true: "complete", false: "unfinished"}[s.ListingDone], in.conf.checkpoint)
		if in.conf.follow {
			in.log.Infof("Follow %s", msg)
		} else {
			in.tally.fail(componentname.BrazeStorageInput + ": backfill " + msg)
			in.log.Warnf("Backfill %s", msg)
		}
	}
	return err
}
