package backlog

import (
	"fmt"
	"time"
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
	// and no more records once ReadBytes is reached. Defaults
	// DefaultReadRecords and DefaultReadBytes.
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
	// SkipCheck skips the walk of every page of the tree at Open. Open
	// still checks write access, the meta pages and the file length; bbolt
	// walks the tree itself when it opens, and a process can then die of a
	// page the walk would have reported.
	SkipCheck bool

	now func() time.Time
}

// The defaults of Options, for the adapters that expose them.
const (
	DefaultReadRecords      = 100
	DefaultReadBytes        = 1 << 20
	DefaultMaxLeasedRecords = 10000
	DefaultRetryDelay       = 100 * time.Millisecond
	DefaultMaxRetryDelay    = 5 * time.Second
	DefaultLockTimeout      = time.Second
)

func (o *Options) setDefaults() error {
	if o.MaxBytes <= 0 {
		return fmt.Errorf("backlog: MaxBytes must be above 0, got %d", o.MaxBytes)
	}
	if o.ReadRecords <= 0 {
		o.ReadRecords = DefaultReadRecords
	}
	if o.ReadBytes <= 0 {
		o.ReadBytes = DefaultReadBytes
	}
	if o.MaxLeasedRecords <= 0 {
		o.MaxLeasedRecords = DefaultMaxLeasedRecords
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetryDelay < o.RetryDelay {
		o.MaxRetryDelay = max(DefaultMaxRetryDelay, o.RetryDelay)
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.now == nil {
		o.now = time.Now
	}
	return nil
}
