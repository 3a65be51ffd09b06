package currents

// Outcome is what became of one event.
type Outcome uint8

// The outcomes of an event.
const (
	Mapped Outcome = iota + 1
	Skipped
	Failed
)

// Skip reasons, as reported in Result.SkipReason and metrics.
const (
	SkipAnonymous   = "no_external_user_id"
	SkipNoIdentity  = "no_user_identity"
	SkipNotSelected = "not_selected"
	SkipUnknownType = "unknown_event_type"
)

// Result is the outcome of one event of a message.
type Result struct {
	Outcome Outcome
	// Track is the Segment track call as JSON, when Mapped.
	Track []byte
	// Raw is the event's own JSON as received.
	Raw []byte
	// EventType is the catalog name of the type (aliases resolved) or the
	// raw type of an unknown one; EventID the Currents id.
	EventType    string
	EventID      string
	SegmentEvent string
	// AppGroupID is the Braze workspace (app group) of the event, if it
	// says, so a pipeline can route workspaces to different Segment sources.
	AppGroupID string
	// Known is false for a type the catalog does not have.
	Known bool
	// InEnvelope is set for an element of an HTTP batch's "events". Such
	// an event sat two levels below the top of its message, and the call
	// puts none of its values more than one level deeper than the event
	// held them (properties: all moves top-level fields under
	// "properties"), so the call's nesting is within what the scan of the
	// message accepted, with a level to spare. A flat record is the top
	// of its message and has no such margin to argue from; the segment
	// output trusts only the former without validating (see
	// plugin/conforming_call.go).
	InEnvelope bool
	// SkipReason says why a Skipped event was dropped.
	SkipReason string
	// Err says why a Failed event could not be mapped: always an
	// *EventError, whose cause errors.As reaches.
	Err error
}
