package storageexport

import (
	"errors"
	"fmt"
	"time"

	"gocloud.dev/blob"
)

// Defaults of a Run, which the input's spec takes as its defaults.
const (
	// DefaultMaxOpenFiles objects are read at once: enough to hide a storage
	// service's latency behind another object's records.
	DefaultMaxOpenFiles = 4
	// DefaultBatchRecords records make one batch: a Braze file holds up to
	// 15,000, and a batch is the unit of redelivery after a nack.
	DefaultBatchRecords = 500
	// DefaultPollInterval is how often follow mode lists the recent hours:
	// Braze writes a file every five minutes or 15,000 events.
	DefaultPollInterval = time.Minute
	// DefaultProgressInterval is how often a backfill logs its progress.
	DefaultProgressInterval = 30 * time.Second
)

// Options configure a Run.
type Options struct {
	Bucket     *blob.Bucket
	Checkpoint *Checkpoint
	Selection  Selection
	Shard      Shard
	// Follow keeps polling the current and previous hour partitions every
	// PollInterval after the objects of the selection are done, instead of
	// ending.
	Follow       bool
	PollInterval time.Duration
	// MaxOpenFiles objects are read at once (default DefaultMaxOpenFiles),
	// each in batches of BatchRecords records (default DefaultBatchRecords).
	MaxOpenFiles int
	BatchRecords int
	// Hooks are told what happens, for metrics and logs.
	Hooks Hooks
	// Now is the clock (time.Now when nil): follow mode's hours and the lag.
	Now func() time.Time
}

// Hooks are called as a run goes; any may be nil. They are called from the
// run's goroutines and must not block.
type Hooks struct {
	// ListRequest is one listing request, of one folder.
	ListRequest func(prefix string)
	// Listed is an object selected to read (not done before).
	Listed func(o Object)
	// Read is events and bytes read from an object.
	Read func(o Object, events, bytes int64)
	// Done is an object whose every batch was acknowledged; err is a failure
	// to record it in the checkpoint (it is then read again by the next run).
	Done func(o Object, d Done, err error)
	// Damaged is an object that cannot be read to its end.
	Damaged func(err *DamageError)
	// Skipped is a listed object that is not read, and why.
	Skipped func(o Object, reason string)
	// Retry is a failure of the storage service, retried after wait.
	Retry func(err error, wait time.Duration)
	// Nacked is a batch handed back undelivered, to be delivered again.
	Nacked func(o Object, err error)
}

// withDefaults fills the zero fields and says what is wrong with the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Bucket == nil {
		return o, errors.New("storageexport: no bucket")
	}
	if o.Checkpoint == nil {
		return o, errors.New("storageexport: no checkpoint")
	}
	if err := o.Selection.Validate(); err != nil {
		return o, err
	}
	if o.Shard.Count == 0 {
		o.Shard.Count = 1
	}
	if err := o.Shard.Validate(); err != nil {
		return o, err
	}
	if o.MaxOpenFiles == 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if o.MaxOpenFiles < 1 {
		return o, fmt.Errorf("max_open_files %d: want 1 or more", o.MaxOpenFiles)
	}
	if o.BatchRecords == 0 {
		o.BatchRecords = DefaultBatchRecords
	}
	if o.BatchRecords < 1 {
		return o, fmt.Errorf("batch_size %d: want 1 or more", o.BatchRecords)
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PollInterval < time.Second {
		return o, fmt.Errorf("poll_interval %s: want 1s or more", o.PollInterval)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
