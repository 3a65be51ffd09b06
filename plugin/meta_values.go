package plugin

// metaValues hands out metadata values for the strings of one processed
// message, each boxed once. Metadata values are of type any, and a string
// put in an any is copied to the heap: three of the four keys the processor
// sets on every call (type, event name, workspace) take a handful of values
// in a Braze request of 100 events, so boxing each once per request rather
// than once per call saves three allocations per event. The event id is
// different in every call and is boxed as it is set.
//
// It lives for one Process call, so the strings of hostile input cannot
// grow it past metaValuesKept.
type metaValues struct {
	n    int
	keep [metaValuesKept]struct {
		s string
		v any
	}
}

// metaValuesKept bounds the search: past it, values are boxed afresh.
const metaValuesKept = 16

// of returns s as a metadata value.
func (m *metaValues) of(s string) any {
	for i := range m.n {
		if m.keep[i].s == s {
			return m.keep[i].v
		}
	}
	var v any = s
	if m.n < metaValuesKept {
		m.keep[m.n].s, m.keep[m.n].v = s, v
		m.n++
	}
	return v
}
