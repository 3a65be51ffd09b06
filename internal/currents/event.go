package currents

import (
	"strconv"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// value is one field of a decoded event: its JSON text, verbatim from the
// input after any Avro union wrapper was removed.
type value struct {
	raw  []byte
	kind jsonscan.Kind
	// esc: a string with escapes, or a number with a fraction or exponent.
	esc bool
	// wrapped: an array whose items carry Avro union wrappers.
	wrapped bool
}

func (v value) present() bool {
	return v.kind != jsonscan.KindInvalid && v.kind != jsonscan.KindNull && !(v.kind == jsonscan.KindString && len(v.raw) == 2)
}

// extraField is a field no catalog type knows.
type extraField struct {
	name string
	// quoted is the name as a JSON string, ready to append.
	quoted []byte
	v      value
}

// Event is one decoded Currents event, in any wire shape. Its values point
// into the input bytes, which must not change while the event is in use.
type Event struct {
	cat    *Catalog
	values []value // indexed by catalog field id
	order  []int   // field ids in input order
	extras []extraField
	// Raw is the event's own JSON: the whole input, or its element of an
	// HTTP envelope.
	Raw []byte
	// Index is the event's position in an HTTP envelope, or -1.
	Index int
}

func (e *Event) reset(cat *Catalog) {
	if e.cat != cat || len(e.values) != len(cat.fieldNames) {
		e.cat = cat
		e.values = make([]value, len(cat.fieldNames))
	} else {
		for _, id := range e.order {
			e.values[id] = value{}
		}
	}
	e.order = e.order[:0]
	e.extras = e.extras[:0]
	e.Raw = nil
	e.Index = -1
}

// present reports whether the field with this id, or -1 for none, has a
// value worth sending.
func (e *Event) present(id int) bool { return id >= 0 && e.values[id].present() }

func (e *Event) set(id int, v value) {
	if e.values[id].kind == jsonscan.KindInvalid {
		e.order = append(e.order, id)
	}
	e.values[id] = v
}

// ID returns the event's id, or "" if it has none that is a string.
func (e *Event) ID() string {
	v := e.values[fieldID]
	if v.kind != jsonscan.KindString {
		return ""
	}
	return jsonscan.StringValue(v.raw, v.esc)
}

// TypeField returns the event's own event_type field, if it is a string.
func (e *Event) TypeField() (string, bool) {
	v := e.values[fieldEventType]
	if v.kind != jsonscan.KindString || len(v.raw) == 2 {
		return "", false
	}
	return jsonscan.StringValue(v.raw, v.esc), true
}

// unixSeconds parses the time field: Currents sends integer UNIX seconds,
// but a fraction is kept rather than refused.
func unixSeconds(v value) (sec int64, nsec int64, ok bool) {
	if v.kind != jsonscan.KindNumber {
		return 0, 0, false
	}
	if !v.esc {
		return parseInt(v.raw)
	}
	f, err := strconv.ParseFloat(string(v.raw), 64)
	if err != nil {
		return 0, 0, false
	}
	sec = int64(f)
	return sec, int64((f - float64(sec)) * 1e9), true
}

// parseInt parses a scanned JSON integer without the allocation strconv's
// error path costs.
func parseInt(raw []byte) (n int64, zero int64, ok bool) {
	neg := len(raw) > 0 && raw[0] == '-'
	if neg {
		raw = raw[1:]
	}
	if len(raw) == 0 || len(raw) > 18 {
		return 0, 0, false
	}
	for _, c := range raw {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, 0, true
}
