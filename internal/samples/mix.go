package samples

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/currents-segment/currents-segment/internal/spec"
)

// Shape is a wire shape of Currents events written as JSON lines.
type Shape int

const (
	// ShapeStorage writes one flat storage record per line, as an Avro
	// row of the storage export decodes to; the event type is not in it.
	ShapeStorage Shape = iota
	// ShapeHTTPEvent writes one event of Braze's HTTP connector per line.
	ShapeHTTPEvent
	// ShapeHTTPBatch writes one POST body of Braze's HTTP connector per
	// line: {"events":[...]} with up to 100 events.
	ShapeHTTPBatch
)

// String returns the name ParseShape accepts.
func (s Shape) String() string {
	switch s {
	case ShapeStorage:
		return "storage"
	case ShapeHTTPEvent:
		return "http"
	case ShapeHTTPBatch:
		return "batch"
	}
	return fmt.Sprintf("Shape(%d)", int(s))
}

// ParseShape reads "storage", "http" or "batch".
func ParseShape(name string) (Shape, error) {
	for _, s := range []Shape{ShapeStorage, ShapeHTTPEvent, ShapeHTTPBatch} {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("samples: unknown shape %q (want storage, http or batch)", name)
}

// DefaultBatchSize is how many events Braze puts in one HTTP POST, about.
const DefaultBatchSize = 100

// Types returns, sorted, the event types a shape carries: every type with an
// Avro schema (all 96 of the contract) for ShapeStorage; for the HTTP shapes,
// the 90 of them with an HTTP example in the contract, since the two legacy
// Abort types (users.campaigns.Abort, users.canvas.Abort) only ever appeared
// in storage exports and users.RandomBucketNumberUpdate is storage-only (the
// three user-profile types have no HTTP sample either).
func Types(shape Shape) []string {
	var out []string
	for _, t := range spec.AvroTypes() {
		if shape != ShapeStorage {
			if _, ok := spec.Example(t, "http"); !ok {
				continue
			}
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Mix yields n events of the types of shape, as (event type, event) pairs, in
// that shape: a flat storage record (Record) for ShapeStorage, a single HTTP
// event (HTTPEvent) for ShapeHTTPEvent and ShapeHTTPBatch. The proportions are
// realistic: message sends, deliveries and impressions
// of e-mail, push, Content Cards and in-app messages dominate, failures,
// aborts and subscription changes are rare. When n is at least the number of
// types, each type occurs at least once, within the first 1000 events, at
// random places. Records are made one at a time, so a mix of any size runs in
// constant memory.
func (g *Generator) Mix(n int, shape Shape) iter.Seq2[string, map[string]any] {
	types := Types(shape)
	return func(yield func(string, map[string]any) bool) {
		ss := make([]*eventSchema, len(types))
		for i, t := range types {
			ss[i] = mustSchema(t)
		}
		w := weightsOf(types, typeWeight)

		// Spread one event of every type over the first window.
		var forced map[int]int
		if n >= len(types) {
			window := min(n, 1000)
			forced = make(map[int]int, len(types))
			for i, pos := range g.rng.Perm(window)[:len(types)] {
				forced[pos] = i
			}
		}
		for i := range n {
			ti, ok := forced[i]
			if !ok {
				ti = w.pick(g.rng)
			}
			var ev map[string]any = g.record(ss[ti], g.start, g.span)
			if shape != ShapeStorage {
				ev = HTTPEvent(types[ti], ev)
			}
			if !yield(types[ti], ev) {
				return
			}
		}
	}
}

// typeWeight is the relative frequency of an event type: a channel weight
// times an action weight. The numbers are a judgement of a typical B2C
// workspace, not measurements.
func typeWeight(eventType string) int {
	parts := strings.Split(eventType, ".")
	channel := parts[1] // campaigns, canvas, behaviors
	if channel == "messages" && len(parts) > 2 {
		channel = parts[2]
	}
	action := parts[len(parts)-1]

	cw := 2
	switch channel {
	case "email":
		cw = 30
	case "pushnotification":
		cw = 22
	case "contentcard":
		cw = 16
	case "inappmessage":
		cw = 14
	case "sms":
		cw = 6
	case "whatsapp", "webhook", "canvas":
		cw = 3
	}
	aw := 2
	switch action {
	case "Send":
		aw = 20
	case "Delivery":
		aw = 18
	case "Impression":
		aw = 16
	case "Open", "Read", "Entry":
		aw = 10
	case "Click", "ShortLinkClick":
		aw = 6
	case "Dismiss", "SplitEntry", "InboundReceive":
		aw = 4
	case "Abort", "Bounce", "SoftBounce", "Failure", "DeliveryFailure", "Rejection", "MarkAsSpam", "Unsubscribe":
		aw = 1
	}
	return cw * aw
}

// WriteJSONLines writes n events of a Mix as JSON lines in the given shape;
// ShapeHTTPBatch groups them DefaultBatchSize to a line. Output is buffered
// and streamed: a million events take seconds and little memory.
func (g *Generator) WriteJSONLines(w io.Writer, n int, shape Shape) error {
	if shape == ShapeHTTPBatch {
		return g.WriteHTTPBatches(w, n, DefaultBatchSize)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := newLineEncoder(bw)
	for _, ev := range g.Mix(n, shape) {
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteHTTPBatches writes n events of an HTTP Mix as JSON lines, each a POST
// body of Braze's HTTP connector, {"events":[...]}, of perBatch events (the
// last one possibly fewer).
func (g *Generator) WriteHTTPBatches(w io.Writer, n, perBatch int) error {
	if perBatch < 1 {
		return fmt.Errorf("samples: batch size %d is not positive", perBatch)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := newLineEncoder(bw)
	events := make([]any, 0, min(perBatch, n))
	flush := func() error {
		if len(events) == 0 {
			return nil
		}
		err := enc.Encode(map[string]any{"events": events})
		clear(events)
		events = events[:0]
		return err
	}
	for _, ev := range g.Mix(n, ShapeHTTPBatch) {
		events = append(events, ev)
		if len(events) == perBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// newLineEncoder writes one JSON value per line, keys sorted (so output is
// reproducible), and leaves <, > and & alone: the events carry URLs, not HTML.
func newLineEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
