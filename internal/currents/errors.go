package currents

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// EventError says which event of a message could not be mapped and which
// field was at fault, so a dead-letter reader can fix it. What was wrong is
// Err, one of the errors below, which errors.As reaches.
type EventError struct {
	// Index is the event's position in an HTTP envelope, or -1.
	Index int
	// EventID and EventType are empty when they could not be read.
	EventID   string
	EventType string
	// Field is the offending field, or "" when the whole event is at fault
	// (Err is then a *NotEventError).
	Field string
	Err   error
}

func (e *EventError) Error() string {
	var b strings.Builder
	b.WriteString("currents event")
	if e.Index >= 0 {
		fmt.Fprintf(&b, " #%d of the batch", e.Index)
	}
	switch {
	case e.EventID != "" && e.EventType != "":
		fmt.Fprintf(&b, " (id %q, type %s)", e.EventID, e.EventType)
	case e.EventID != "":
		fmt.Fprintf(&b, " (id %q)", e.EventID)
	case e.EventType != "":
		fmt.Fprintf(&b, " (type %s)", e.EventType)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *EventError) Unwrap() error { return e.Err }

// NotEventError says a message, or an element of its batch, is not a
// Currents event at all. Err is the scanner's *jsonscan.SyntaxError when the
// JSON is broken, or a *ShapeError when it holds some other value.
type NotEventError struct {
	// InBatch is set for an element of a batch; otherwise the whole message
	// is at fault, and none of its events was mapped.
	InBatch bool
	Err     error
}

func (e *NotEventError) Error() string {
	if e.InBatch {
		return "not a Currents event: " + e.Err.Error()
	}
	return "message is not a Currents event: " + e.Err.Error()
}

func (e *NotEventError) Unwrap() error { return e.Err }

// ShapeError says that where a Currents event must be, an object, the input
// holds another value (a string, a number, an array inside a batch). The
// scanner's report of the unexpected byte is kept for its position in the
// text, but not unwrapped: it calls every unexpected first byte invalid JSON,
// while the input may be valid JSON of the wrong shape, and errors.As should
// find a *jsonscan.SyntaxError only for JSON that is really broken.
type ShapeError struct {
	// Want is what was expected, as the message says it.
	Want string
	at   error
}

func (e *ShapeError) Error() string { return "expected " + e.Want + ": " + e.at.Error() }

// KindError is a field whose JSON kind is not the one Currents sends.
type KindError struct {
	// Want is the expected kind in words ("a string", "an integer").
	Want string
	Got  jsonscan.Kind
	// Value is the start of the value as received.
	Value string
}

func (e *KindError) Error() string {
	return fmt.Sprintf("expected %s, got %s %s", e.Want, e.Got, e.Value)
}

func wrongKind(want string, v value) *KindError {
	return &KindError{Want: want, Got: v.kind, Value: excerpt(v.raw)}
}

// MissingError is a required field that is absent or null, or an id that is
// an empty string.
type MissingError struct {
	Empty bool
	// Need says what the field must hold, and why.
	Need string
}

func (e *MissingError) Error() string {
	if e.Empty {
		return "is empty: " + e.Need
	}
	return "is missing: " + e.Need
}

// ErrNoEventType is the cause of the error of an event whose type nothing
// names: neither its own event_type field, nor the Origin the caller passed.
// A caller that can name it at a cost (an interpolation) can match it with
// errors.Is and map the message again with Origin.DefaultType set.
var ErrNoEventType error = &MissingError{Need: "the event has no event_type field, its path metadata has no event_type=<type> segment, and the processor has no event_type configured"}

// The other required fields, as their errors say them.
var (
	errNoID     = &MissingError{Need: "every Currents event has a string id, used as Segment's messageId"}
	errEmptyID  = &MissingError{Empty: true, Need: "expected the Currents event id (a string)"}
	errNoTime   = &MissingError{Need: "expected the event's UNIX time in seconds"}
	errNoUserID = &MissingError{Need: "expected the Braze user id (a string), sent as Segment's anonymousId"}
	// errNoEventName: a custom event is sent under its own name.
	errNoEventName    = &MissingError{Need: "expected the custom event's name (a string), sent as Segment's event"}
	errEmptyEventName = &MissingError{Empty: true, Need: "expected the custom event's name, sent as Segment's event"}
)

// CustomPropertiesError is a storage record's properties field, which
// holds the custom properties of a custom event or purchase as a
// JSON-encoded object, holding something else. As with ShapeError, the
// scanner's report of where the decoded text breaks is in the message but
// not unwrapped: the event itself is valid JSON, and errors.As finds a
// *jsonscan.SyntaxError only for a message that is broken.
type CustomPropertiesError struct {
	// Value is the start of the decoded string.
	Value string
	// NotJSON is set when the string is not JSON at all (rather than JSON
	// of another kind than an object).
	NotJSON bool
	syntax  error
}

func (e *CustomPropertiesError) Error() string {
	msg := "expected a JSON object of custom properties encoded as a string (empty or null for none), got " + strconv.Quote(e.Value)
	if e.syntax != nil {
		msg += ": " + e.syntax.Error()
	}
	return msg
}

// UnknownEventTypeError is an event type the catalog does not have, refused
// under UnknownReject.
type UnknownEventTypeError struct {
	Name string
}

func (e *UnknownEventTypeError) Error() string {
	return fmt.Sprintf("unknown event type %q (set unknown_event_types to skip or passthrough to accept it)", e.Name)
}

// TimeRangeError is a time before 1970 or after 9999, the last year the
// RFC 3339 timestamp of a Segment call can write.
type TimeRangeError struct {
	// Value is the start of the value as received.
	Value string
}

func (e *TimeRangeError) Error() string {
	return fmt.Sprintf("expected UNIX seconds between 0 and %d, got %s", int64(maxUnixSeconds), e.Value)
}

// excerpt shows a bad value in an error without flooding the log. It copies,
// so the error does not keep the input alive.
func excerpt(raw []byte) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}
