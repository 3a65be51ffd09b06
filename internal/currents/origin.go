package currents

import "strings"

// Origin is what the caller knows of where a message came from. It types the
// events that carry no event_type field of their own: flat storage records,
// whose type Braze's export states once for a whole object, in its path.
// An event's own event_type always wins.
type Origin struct {
	// Path is the storage object the message was read from, as the file
	// input's path metadata has it. Braze's layout names the type of every
	// record in an object by one segment of its path:
	// .../event_type=users.messages.email.Send/date=2026-11-28-13/file.avro
	Path string
	// DefaultType is the type of records that name none, neither themselves
	// nor by Path (rows exported by hand from a single-type table).
	DefaultType string
}

// eventType returns the type the origin gives, or "". It is asked only for
// events without a type of their own, so Path is read only for them.
func (o *Origin) eventType() string {
	if o == nil {
		return ""
	}
	if t := eventTypeFromPath(o.Path); t != "" {
		return t
	}
	return o.DefaultType
}

// eventTypeFromPath returns the type an object path names in Braze's storage
// layout (the event_type=<type> segment, / or \ separated), or "".
func eventTypeFromPath(path string) string {
	const key = "event_type="
	i := strings.LastIndex(path, key)
	if i < 0 {
		return ""
	}
	rest := path[i+len(key):]
	if j := strings.IndexAny(rest, `/\`); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
