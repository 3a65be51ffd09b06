package plugin

import (
	"context"
	"unicode/utf8"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/segment"
)

// A call currents_to_segment builds is valid by construction: the mapper
// writes the call's own keys once, copies only values its scan of the event
// validated, requires a string id and a string identity, and names every
// event. What the mapper does not bound (size, the messageId's length, the
// nesting of a flat record) is checked in conforms. Such a call is marked
// on its message's context, and the segment output tells the Sender not to
// validate it again, which was a ninth of the HTTP path's CPU.
//
// The mark holds where each marked call's bytes begin and how long they
// are, and the output trusts a message only while its bytes are still one
// of those very slices: a processor between the two that changes the
// message (SetBytes, a mapping) gives it other bytes, and the call is
// validated as any other. (A message given another marked call of the same
// request is trusted: that call is as valid in it.) Benthos forbids
// changing the bytes AsBytes returns in place, which is the one change this
// cannot see.

// conforms says whether r's call passes segment.Validate without being
// scanned: r was mapped, and the limits the mapper does not know hold.
func conforms(r *currents.Result) bool {
	return r.Outcome == currents.Mapped &&
		r.InEnvelope &&
		len(r.Track) > 0 && len(r.Track) <= segment.MaxMessageBytes &&
		r.SegmentEvent != "" &&
		r.EventID != "" &&
		// Rune count is the rule; bytes bound it and are cheaper.
		(len(r.EventID) <= segment.MaxMessageIDLength || utf8.RuneCountInString(r.EventID) <= segment.MaxMessageIDLength)
}

// conformingKey is the context key of the mark.
type conformingKey struct{}

// conformingCtx is the mark of one processed message: the calls of its
// events that conform, each by its first byte and its length. One mark
// serves every call of a Braze request, so marking costs a map entry per
// call rather than a context and two message copies (a sixth of the
// allocations on the HTTP path when each call had its own).
type conformingCtx struct {
	context.Context
	calls map[*byte]int
}

func (c *conformingCtx) Value(key any) any {
	if key == (conformingKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// conformingMark marks the calls of one processed message as the
// processor makes them.
type conformingMark struct {
	msg   *service.Message // the processed message
	calls int              // how many calls it makes, to size the map
	ctx   *conformingCtx
	base  *service.Message // msg under the mark; nil until a call conforms
}

// copyFor returns a copy of the processed message for the call of r, under
// the mark if that call conforms; the caller then sets the call as the
// copy's bytes, as it does for every mapped call.
func (k *conformingMark) copyFor(r *currents.Result) *service.Message {
	if !conforms(r) {
		return k.msg.Copy()
	}
	if k.base == nil {
		k.ctx = &conformingCtx{Context: k.msg.Context(), calls: make(map[*byte]int, k.calls)}
		k.base = k.msg.WithContext(k.ctx)
	}
	// Entries are added only while the processor runs, before any of the
	// copies leaves it: the output only reads the map.
	k.ctx.calls[&r.Track[0]] = len(r.Track)
	// Copy, not base itself: base shares msg's bytes and metadata, so the
	// calls of one request would overwrite each other.
	return k.base.Copy()
}

// isConformingCall says whether raw, the bytes of msg, are still one of the
// calls currents_to_segment marked on it: the very slice, not equal bytes.
func isConformingCall(msg *service.Message, raw []byte) bool {
	c, ok := msg.Context().Value(conformingKey{}).(*conformingCtx)
	if !ok || len(raw) == 0 {
		return false
	}
	n, ok := c.calls[&raw[0]]
	return ok && n == len(raw)
}
