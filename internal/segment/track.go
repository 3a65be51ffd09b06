package segment

import (
	"encoding/json"
)

// Track is the part of a Segment track call the output reads: the fields the
// Tracking API silently drops a message without, and the raw JSON that is
// sent byte for byte. Everything else (timestamp, context, properties,
// integrations) stays inside Raw untouched.
type Track struct {
	Type        string `json:"type"`
	Event       string `json:"event"`
	MessageID   string `json:"messageId"`
	UserID      string `json:"userId"`
	AnonymousID string `json:"anonymousId"`

	// Raw is the message exactly as received; it is what goes on the wire.
	Raw json.RawMessage `json:"-"`
}

// Describe names the message for error texts and logs: its messageId and
// event, which is how an operator finds it in a dead-letter file.
func (t Track) Describe() string {
	return "messageId " + quoteShort(t.MessageID) + ", event " + quoteShort(t.Event)
}

// quoteShort quotes s, cut to 120 bytes so a hostile value cannot flood logs.
func quoteShort(s string) string {
	const max = 120
	if len(s) > max {
		s = s[:max] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
