package plugin

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// RunSummary is what happened to the Currents events of a stream, counted by
// the currents_to_segment processors and segment outputs in it: how many
// were read and mapped, skipped and why, failed to map, and how the calls
// ended. With the dead-letter routes of the shipped configs, an event is
// accounted for when it was delivered, skipped for a stated reason, or
// dead-lettered (mapping failures and calls Segment refused); NotDelivered
// counts the calls an output handed back to its input without a verdict
// (shutdown interrupted them, or the output's backoff.max_elapsed_time ran out).
type RunSummary struct {
	// Read is the events decoded, Mapped the track calls made of them,
	// MappingFailed the events flagged for the dead letter, and Skipped the
	// events left out on purpose, by reason.
	Read, Mapped, MappingFailed int64
	Skipped                     map[string]int64
	// Delivered is the calls Segment accepted, DeadLettered the calls it
	// refused or that broke its rules, NotDelivered the calls handed back
	// to the input undelivered.
	Delivered, DeadLettered, NotDelivered int64
	// Outputs is how many segment outputs the stream has.
	Outputs int

	// StorageInputs is how many braze_storage inputs the stream has, and
	// ObjectsDone and ObjectsDamaged the export objects they finished (the
	// damaged ones with their rest dead-lettered).
	StorageInputs               int
	ObjectsDone, ObjectsDamaged int64
	// Failures are what an input could not do as configured: a backfill
	// that matched nothing, or one stopped before its end.
	Failures []string
}

// Complete reports whether every call an output was given ended with a
// verdict: delivered or dead-lettered.
func (s RunSummary) Complete() bool { return s.NotDelivered == 0 && len(s.Failures) == 0 }

// String is the summary in one line, as the binary logs it at the end of a
// run.
func (s RunSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d events read: %d mapped, %d skipped", s.Read, s.Mapped, s.skippedTotal())
	if len(s.Skipped) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(s.Skipped)) {
			parts = append(parts, fmt.Sprintf("%s %d", r, s.Skipped[r]))
		}
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	fmt.Fprintf(&b, ", %d failed to map (dead-lettered); %d calls delivered, %d dead-lettered, %d not delivered",
		s.MappingFailed, s.Delivered, s.DeadLettered, s.NotDelivered)
	if s.StorageInputs > 0 {
		fmt.Fprintf(&b, "; %d export objects done (%d damaged, their rest dead-lettered)", s.ObjectsDone, s.ObjectsDamaged)
	}
	return b.String()
}

func (s RunSummary) skippedTotal() (n int64) {
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

func (s RunSummary) add(o RunSummary) RunSummary {
	s.Read += o.Read
	s.Mapped += o.Mapped
	s.MappingFailed += o.MappingFailed
	if len(o.Skipped) > 0 && s.Skipped == nil {
		s.Skipped = map[string]int64{}
	}
	for r, n := range o.Skipped {
		s.Skipped[r] += n
	}
	s.Delivered += o.Delivered
	s.DeadLettered += o.DeadLettered
	s.NotDelivered += o.NotDelivered
	s.Outputs += o.Outputs
	s.StorageInputs += o.StorageInputs
	s.ObjectsDone += o.ObjectsDone
	s.ObjectsDamaged += o.ObjectsDamaged
	s.Failures = append(s.Failures, o.Failures...)
	return s
}

// StreamSummary returns the summary of the stream whose resources are r (for
// a StreamBuilder's stream: stream.Resources()).
func StreamSummary(r *service.Resources) RunSummary {
	if v, ok := r.GetGeneric(runTallyKey{}); ok {
		return v.(*runTally).summary()
	}
	return RunSummary{}
}

// ProcessSummary adds up the summaries of every stream of this process that
// has a segment output or a braze_storage input; ok is false when there is
// none (a `lint` or `test` run).
func ProcessSummary() (s RunSummary, ok bool) {
	tallies.mu.Lock()
	all := slices.Clone(tallies.all)
	tallies.mu.Unlock()
	for _, t := range all {
		if sum := t.summary(); sum.Outputs > 0 || sum.StorageInputs > 0 {
			s, ok = s.add(sum), true
		}
	}
	return s, ok
}

// runTallyKey finds a stream's tally among its resources' generic values.
type runTallyKey struct{}

// tallies lists every tally of the process, for ProcessSummary.
var tallies struct {
	mu  sync.Mutex
	all []*runTally
}

// runTally is the counters behind a RunSummary, shared by the components of
// one stream.
type runTally struct {
	// The processors' counters and the outputs' are on cache lines of their
	// own: they are updated by different goroutines for every message.
	mapped, failed atomic.Int64
	_              [48]byte
	skipped        sync.Map // reason → *atomic.Int64

	accepted, deadLettered, notDelivered atomic.Int64
	outputs                              atomic.Int64

	storageInputs, objectsDone, objectsDamaged atomic.Int64
	failuresMu                                 sync.Mutex
	failures                                   []string
}

// runTallyOf returns the tally of the stream that mgr belongs to.
func runTallyOf(mgr *service.Resources) *runTally {
	if v, ok := mgr.GetGeneric(runTallyKey{}); ok {
		return v.(*runTally)
	}
	t := &runTally{}
	v, loaded := mgr.GetOrSetGeneric(runTallyKey{}, t)
	if !loaded {
		tallies.mu.Lock()
		tallies.all = append(tallies.all, t)
		tallies.mu.Unlock()
	}
	return v.(*runTally)
}

func (t *runTally) addOutput() { t.outputs.Add(1) }

func (t *runTally) addStorageInput() { t.storageInputs.Add(1) }

// storageObjectDone records an export object finished.
func (t *runTally) storageObjectDone(damaged bool) {
	t.objectsDone.Add(1)
	if damaged {
		t.objectsDamaged.Add(1)
	}
}

// fail records what an input could not do, for the exit code.
func (t *runTally) fail(what string) {
	t.failuresMu.Lock()
	t.failures = append(t.failures, what)
	t.failuresMu.Unlock()
}

// mappedBatch records what the processor made of one message: calls mapped
// and events flagged.
func (t *runTally) mappedBatch(mapped, failed int64) {
	if mapped > 0 {
		t.mapped.Add(mapped)
	}
	if failed > 0 {
		t.failed.Add(failed)
	}
}

// skip records one event skipped for reason.
func (t *runTally) skip(reason string) {
	v, ok := t.skipped.Load(reason)
	if !ok {
		v, _ = t.skipped.LoadOrStore(reason, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

// delivered records the outcome of one write of an output.
func (t *runTally) delivered(accepted, deadLettered, notDelivered int64) {
	t.accepted.Add(accepted)
	t.deadLettered.Add(deadLettered)
	t.notDelivered.Add(notDelivered)
}

func (t *runTally) summary() RunSummary {
	skipped := map[string]int64{}
	var skips int64
	t.skipped.Range(func(k, v any) bool {
		n := v.(*atomic.Int64).Load()
		skipped[k.(string)] = n
		skips += n
		return true
	})
	mapped, failed := t.mapped.Load(), t.failed.Load()
	return RunSummary{
		Read: mapped + failed + skips, Mapped: mapped, MappingFailed: failed, Skipped: skipped,
		Delivered: t.accepted.Load(), DeadLettered: t.deadLettered.Load(), NotDelivered: t.notDelivered.Load(),
		Outputs:       int(t.outputs.Load()),
		StorageInputs: int(t.storageInputs.Load()), ObjectsDone: t.objectsDone.Load(), ObjectsDamaged: t.objectsDamaged.Load(),
		Failures: t.failureList(),
	}
}

func (t *runTally) failureList() []string {
	t.failuresMu.Lock()
	defer t.failuresMu.Unlock()
	return slices.Clone(t.failures)
}
