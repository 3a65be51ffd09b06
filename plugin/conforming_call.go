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
// The mark holds the call's bytes, and the output trusts a message only
// while its bytes are still that very slice: a processor between the two
// that changes the message (SetBytes, a mapping) gives it other bytes, and
// the call is validated as any other. Benthos forbids changing the bytes
// AsBytes returns in place, which is the one change this cannot see.

// conforms says whether r's call passes segment.Validate without being
// scanned: r was mapped, and the limits the mapper does not know hold.
func conforms(r *currents.Result) bool {
	return r.Outcome == currents.Mapped &&
		r.InEnvelope &&
		len(r.Track) <= segment.MaxMessageBytes &&
		r.SegmentEvent != "" &&
		r.EventID != "" &&
		// Rune count is the rule; bytes bound it and are cheaper.
		(len(r.EventID) <= segment.MaxMessageIDLength || utf8.RuneCountInString(r.EventID) <= segment.MaxMessageIDLength)
}

// conformingKey is the context key of the mark.
type conformingKey struct{}

// conformingCtx is the mark: one allocation per call, the context and the
// bytes together.
type conformingCtx struct {
	context.Context
	call []byte
}

func (c *conformingCtx) Value(key any) any {
	if key == (conformingKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// markedCopy returns a copy of msg marked as carrying call, which the
// caller then sets as the copy's bytes: until it does, isConformingCall is
// false. The Copy is needed: WithContext alone shares msg's bytes and
// metadata, so the calls of one request would overwrite each other.
func markedCopy(msg *service.Message, call []byte) *service.Message {
	return msg.Copy().WithContext(&conformingCtx{Context: msg.Context(), call: call})
}

// isConformingCall says whether raw, the bytes of msg, are still the call
// currents_to_segment marked on it.
func isConformingCall(msg *service.Message, raw []byte) bool {
	c, ok := msg.Context().Value(conformingKey{}).(*conformingCtx)
	return ok && len(raw) > 0 && len(raw) == len(c.call) && &raw[0] == &c.call[0]
}
