package currents

import "github.com/currents-segment/currents-segment/internal/jsonscan"

// recentStrings makes the strings of values that repeat across the events
// of one message (the workspace, the event name of a named type) once per
// message rather than once per event: a Braze request of 100 events holds
// a handful of each. It is part of the pooled decoding state (kept from one
// message to the next that reuses it), so it is never shared between
// goroutines, and it keeps at most recentKept strings, so hostile input
// cannot grow it.
type recentStrings struct {
	n    int
	next int // the slot replaced once all are taken
	s    [recentKept]string
}

const recentKept = 8

// value returns the string of the scanned JSON string raw (quotes
// included), as jsonscan.StringValue does.
func (r *recentStrings) value(raw []byte, esc bool) string {
	if esc {
		return jsonscan.StringValue(raw, esc) // rare: not worth comparing decoded
	}
	content := raw[1 : len(raw)-1]
	for i := range r.n {
		if r.s[i] == string(content) { // compared without a conversion
			return r.s[i]
		}
	}
	s := string(content)
	if r.n < recentKept {
		r.s[r.n] = s
		r.n++
	} else {
		r.s[r.next] = s
		r.next = (r.next + 1) % recentKept
	}
	return s
}
