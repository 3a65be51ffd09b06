package currents

import (
	"fmt"
	"strings"
)

// EventError says which event of a message could not be mapped, which field
// was at fault and what was expected, so a dead-letter reader can fix it.
type EventError struct {
	// Index is the event's position in an HTTP envelope, or -1.
	Index int
	// EventID and EventType are empty when they could not be read.
	EventID   string
	EventType string
	// Field is the offending field, or "" when the whole message is at fault.
	Field   string
	Problem string
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
	b.WriteString(e.Problem)
	return b.String()
}

// excerpt shows a bad value in an error without flooding the log.
func excerpt(raw []byte) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}

func wrongKind(want string, v value) string {
	return fmt.Sprintf("expected %s, got %s %s", want, v.kind, excerpt(v.raw))
}
