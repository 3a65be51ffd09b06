package storageexport

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Progress is a run's advance through its objects, as a person reads it in
// the log. It is safe for concurrent use.
type Progress struct {
	mu            sync.Mutex
	start         time.Time
	listed        int64 // objects selected and not done at start
	listedBytes   int64
	listingDone   bool
	alreadyDone   int64 // selected, found done in the checkpoint
	done, damaged int64
	doneBytes     int64
	events, bytes int64
}

// NewProgress starts counting at start.
func NewProgress(start time.Time) *Progress { return &Progress{start: start} }

// Listed counts an object to read, of size bytes.
func (p *Progress) Listed(size int64) {
	p.mu.Lock()
	p.listed++
	p.listedBytes += size
	p.mu.Unlock()
}

// Skipped counts a selected object the checkpoint says is done.
func (p *Progress) Skipped() {
	p.mu.Lock()
	p.alreadyDone++
	p.mu.Unlock()
}

// ListingDone says every selected object was listed, so the total is known.
func (p *Progress) ListingDone() {
	p.mu.Lock()
	p.listingDone = true
	p.mu.Unlock()
}

// Read counts events and bytes read.
func (p *Progress) Read(events, bytes int64) {
	p.mu.Lock()
	p.events += events
	p.bytes += bytes
	p.mu.Unlock()
}

// Done counts an object done, of size bytes.
func (p *Progress) Done(size int64, damaged bool) {
	p.mu.Lock()
	p.done++
	p.doneBytes += size
	if damaged {
		p.damaged++
	}
	p.mu.Unlock()
}

// Snapshot is the progress at one moment.
type Snapshot struct {
	Elapsed                  time.Duration
	Listed, ListedBytes      int64
	ListingDone              bool
	AlreadyDone              int64
	Done, Damaged, DoneBytes int64
	Events, Bytes            int64
}

// Snapshot returns the counts as of now.
func (p *Progress) Snapshot(now time.Time) Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Snapshot{
		Elapsed: now.Sub(p.start), Listed: p.listed, ListedBytes: p.listedBytes, ListingDone: p.listingDone,
		AlreadyDone: p.alreadyDone, Done: p.done, Damaged: p.damaged, DoneBytes: p.doneBytes,
		Events: p.events, Bytes: p.bytes,
	}
}

// Line is the progress line of a backfill: objects done of the total, events
// and their rate, bytes, and the time left at the rate so far (once the
// listing is complete; by bytes, since objects differ in size).
func (s Snapshot) Line() string {
	var b strings.Builder
	total := fmt.Sprint(s.Listed)
	if !s.ListingDone {
		total += "+ (still listing)"
	}
	fmt.Fprintf(&b, "%d of %s objects done", s.Done, total)
	if s.Damaged > 0 {
		fmt.Fprintf(&b, " (%d damaged, sent to the dead letter)", s.Damaged)
	}
	if s.AlreadyDone > 0 {
		fmt.Fprintf(&b, ", %d more done by an earlier run", s.AlreadyDone)
	}
	secs := s.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(s.Events) / secs
	}
	fmt.Fprintf(&b, "; %d events read (%.0f/s), %s", s.Events, rate, humanBytes(s.Bytes))
	if eta, ok := s.ETA(); ok {
		fmt.Fprintf(&b, "; about %s left", eta.Round(time.Second))
	}
	return b.String()
}

// ETA is the time left at the byte rate so far, known once the listing is
// complete and something was done.
func (s Snapshot) ETA() (time.Duration, bool) {
	if !s.ListingDone || s.DoneBytes == 0 || s.Elapsed <= 0 {
		return 0, false
	}
	left := s.ListedBytes - s.DoneBytes
	if left <= 0 {
		return 0, true
	}
	return time.Duration(float64(s.Elapsed) * float64(left) / float64(s.DoneBytes)), true
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
