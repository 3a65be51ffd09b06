package currents

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// AnonymousUsers says what happens to events of users without an
// external_user_id.
type AnonymousUsers uint8

const (
	// AnonymousSkip drops them (counted), as Braze's connector does.
	AnonymousSkip AnonymousUsers = iota
	// AnonymousSend sends them with anonymousId (the Braze user_id) only.
	AnonymousSend
)

// PropertyMode says which Currents fields become properties.
type PropertyMode uint8

const (
	// PropertiesConnector sends exactly Braze's connector property list.
	PropertiesConnector PropertyMode = iota
	// PropertiesAll sends every Currents field; timezone goes to
	// context.timezone.
	PropertiesAll
)

// UnknownTypes says what happens to an event whose type is not in the catalog.
type UnknownTypes uint8

const (
	// UnknownReject fails the event with an error.
	UnknownReject UnknownTypes = iota
	// UnknownSkip drops it (counted).
	UnknownSkip
	// UnknownPassthrough maps it generically, named by its raw type.
	UnknownPassthrough
)

// Skip reasons, as reported in Result.SkipReason and metrics.
const (
	SkipAnonymous   = "no_external_user_id"
	SkipNoIdentity  = "no_user_identity"
	SkipNotSelected = "not_selected"
	SkipUnknownType = "unknown_event_type"
)

// Options configure a Mapper beyond Braze's connector defaults.
type Options struct {
	// Events is the allow-list of types to map; empty means all.
	Events []string
	// EventNames renames the Segment event of a type.
	EventNames     map[string]string
	AnonymousUsers AnonymousUsers
	Properties     PropertyMode
	UnknownTypes   UnknownTypes
}

// Outcome is what became of one event.
type Outcome uint8

// The outcomes of an event.
const (
	Mapped Outcome = iota + 1
	Skipped
	Failed
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
	// SkipReason says why a Skipped event was dropped.
	SkipReason string
	// Err says why a Failed event could not be mapped; an *EventError
	// except for a message that is not JSON at all.
	Err error
}

// Mapper maps Currents events to Segment track calls. It is immutable and
// safe for concurrent use.
type Mapper struct {
	cat     *Catalog
	opts    Options
	allowed []bool   // by type index
	names   []string // Segment event name by type index
	quoted  []string // the same, as JSON strings
	// renamed keeps overrides of types outside the catalog for passthrough.
	renamed map[string]string
	events  sync.Pool
}

// NewMapper validates the options against the catalog.
func NewMapper(cat *Catalog, opts Options) (*Mapper, error) {
	m := &Mapper{cat: cat, opts: opts, renamed: map[string]string{}}
	n := len(cat.types)
	m.allowed, m.names, m.quoted = make([]bool, n), make([]string, n), make([]string, n)
	for _, t := range cat.types {
		m.allowed[t.index] = len(opts.Events) == 0
		m.names[t.index] = t.SegmentEvent
	}
	var unknown []string
	for _, name := range opts.Events {
		t, ok := cat.Lookup(name)
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		m.allowed[t.index] = true
	}
	if len(unknown) > 0 {
		msgs := make([]string, len(unknown))
		for i, name := range unknown {
			msgs[i] = cat.UnknownTypeError(name)
		}
		return nil, fmt.Errorf("events: %s (the README lists every type)", strings.Join(msgs, "; "))
	}
	for typ, name := range opts.EventNames {
		if strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("event_names: the Segment event name for %s is empty", typ)
		}
		t, ok := cat.Lookup(typ)
		if !ok {
			if opts.UnknownTypes == UnknownPassthrough {
				m.renamed[typ] = name
				continue
			}
			return nil, fmt.Errorf("event_names: %s (set unknown_event_types: passthrough to rename types outside the catalog; the README lists every type)", cat.UnknownTypeError(typ))
		}
		m.names[t.index] = name
	}
	for i, name := range m.names {
		m.quoted[i] = quote(name)
	}
	m.events.New = func() any { return &Event{} }
	return m, nil
}

// Map decodes one message in any Currents wire shape and maps each event in
// it, in order. typeHint is asked for the type of an event without an
// event_type field (a flat storage record): the object path or configured
// type; it may be nil.
// Selected reports whether events of type t are mapped (in Options.Events,
// or every type when it is empty) rather than skipped as not selected.
func (m *Mapper) Selected(t *EventType) bool { return m.allowed[t.index] }

func (m *Mapper) Map(data []byte, typeHint func() string) []Result {
	return m.AppendMap(nil, data, typeHint)
}

// AppendMap is Map appending the results to dst, so a caller mapping many
// messages can reuse one slice (clearing it before reuse drops the
// references it holds to mapped events).
func (m *Mapper) AppendMap(dst []Result, data []byte, typeHint func() string) []Result {
	e := m.events.Get().(*Event)
	defer m.events.Put(e)
	in, err := m.cat.split(data, e)
	if err != nil {
		return append(dst, Result{Outcome: Failed, Raw: data, Err: &EventError{Index: -1, Problem: "message is not a Currents event: " + err.Error()}})
	}
	if !in.envelope {
		return append(dst, m.mapEvent(e, typeHint))
	}
	out := slices.Grow(dst, len(in.elements))
	for i, el := range in.elements {
		if err := m.cat.decodeElement(el, i, e); err != nil {
			out = append(out, Result{Outcome: Failed, Raw: el, Err: &EventError{Index: i, Problem: "not a Currents event: " + err.Error()}})
			continue
		}
		out = append(out, m.mapEvent(e, typeHint))
	}
	return out
}

func (m *Mapper) mapEvent(e *Event, typeHint func() string) Result {
	r := Result{Raw: e.Raw, EventID: e.ID()}
	fail := func(field, problem string) Result {
		r.Outcome, r.Track = Failed, nil
		r.Err = &EventError{Index: e.Index, EventID: r.EventID, EventType: r.EventType, Field: field, Problem: problem}
		return r
	}
	skip := func(reason string) Result {
		r.Outcome, r.SkipReason = Skipped, reason
		return r
	}

	// Fast path: a known type spelled without escapes is looked up in place,
	// without making a string of it.
	var t *EventType
	var known bool
	var typeName string
	if v := e.values[fieldEventType]; v.kind == jsonscan.KindString && !v.esc && len(v.raw) > 2 {
		t, known = m.cat.byName[string(v.raw[1:len(v.raw)-1])]
	}
	if !known {
		var ok bool
		typeName, ok = e.TypeField()
		if !ok {
			if v := e.values[fieldEventType]; v.present() {
				return fail("event_type", wrongKind("a string", v))
			}
			if typeHint != nil {
				typeName = typeHint()
			}
		}
		if typeName == "" {
			return fail("event_type", "is missing: the event has no event_type field, its path metadata has no event_type=<type> segment, and the processor has no event_type configured")
		}
		t, known = m.cat.Lookup(typeName)
	}
	r.Known = known
	var quotedName string
	if known {
		r.EventType, r.SegmentEvent, quotedName = t.Name, m.names[t.index], m.quoted[t.index]
		if !m.allowed[t.index] {
			return skip(SkipNotSelected)
		}
	} else {
		r.EventType = typeName
		switch m.opts.UnknownTypes {
		case UnknownSkip:
			return skip(SkipUnknownType)
		case UnknownReject:
			return fail("event_type", fmt.Sprintf("unknown event type %q (set unknown_event_types to skip or passthrough to accept it)", typeName))
		}
		r.SegmentEvent = typeName
		if n, ok := m.renamed[typeName]; ok {
			r.SegmentEvent = n
		}
		quotedName = quote(r.SegmentEvent)
	}

	// Identity and time, which every type has.
	id := e.values[fieldID]
	switch {
	case !id.present():
		if id.kind == jsonscan.KindInvalid || id.kind == jsonscan.KindNull {
			return fail("id", "is missing: every Currents event has a string id, used as Segment's messageId")
		}
		return fail("id", "is empty: expected the Currents event id (a string)")
	case id.kind != jsonscan.KindString:
		return fail("id", wrongKind("a string", id))
	}
	tv := e.values[fieldTime]
	if tv.kind == jsonscan.KindInvalid || tv.kind == jsonscan.KindNull {
		return fail("time", "is missing: expected the event's UNIX time in seconds")
	}
	sec, nsec, ok := unixSeconds(tv)
	if !ok {
		return fail("time", wrongKind("a number of UNIX seconds", tv))
	}
	if sec < 0 || sec > maxUnixSeconds {
		return fail("time", fmt.Sprintf("expected UNIX seconds between 0 and %d, got %s", int64(maxUnixSeconds), excerpt(tv.raw)))
	}
	for _, f := range [...]int{fieldUserID, fieldExternalUserID, fieldTimezone} {
		if v := e.values[f]; v.kind != jsonscan.KindInvalid && v.kind != jsonscan.KindNull && v.kind != jsonscan.KindString {
			return fail(m.cat.fieldNames[f], wrongKind("a string", v))
		}
	}
	userID, extID := e.values[fieldUserID], e.values[fieldExternalUserID]
	if !userID.present() && known && !t.Generic && !t.UserIDOptional {
		return fail("user_id", "is missing: expected the Braze user id (a string), sent as Segment's anonymousId")
	}
	if known {
		for _, f := range t.fieldKinds {
			v := e.values[f.id]
			if v.kind == jsonscan.KindInvalid || v.kind == jsonscan.KindNull {
				continue
			}
			if problem := checkKind(f.kind, v); problem != "" {
				return fail(m.cat.fieldNames[f.id], problem)
			}
		}
	}
	if !extID.present() {
		if m.opts.AnonymousUsers == AnonymousSkip {
			return skip(SkipAnonymous)
		}
		if !userID.present() {
			return skip(SkipNoIdentity)
		}
	}

	if !known {
		t = nil
	}
	r.Track = m.appendTrack(make([]byte, 0, len(e.Raw)+64), e, t, quotedName, sec, nsec)
	if v := e.values[fieldAppGroupID]; v.kind == jsonscan.KindString && v.present() {
		r.AppGroupID = jsonscan.StringValue(v.raw, v.esc)
	}
	r.Outcome = Mapped
	return r
}

// maxUnixSeconds is 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const maxUnixSeconds = 253402300799

func checkKind(k Kind, v value) string {
	switch k {
	case KindString:
		if v.kind != jsonscan.KindString {
			return wrongKind("a string", v)
		}
	case KindInt:
		if v.kind != jsonscan.KindNumber || v.esc {
			return wrongKind("an integer", v)
		}
	case KindBool:
		if v.kind != jsonscan.KindBool {
			return wrongKind("a boolean", v)
		}
	case KindStringArray:
		if v.kind != jsonscan.KindArray || !stringItems(v.raw) {
			return wrongKind("an array of strings", v)
		}
	}
	return ""
}

// stringItems reports whether every item of an array is a string or null,
// wrapped in an Avro union or not.
func stringItems(raw []byte) bool {
	it := jsonscan.NewArrayIter(jsonscan.NewScanner(raw), 1)
	if it.Open() != nil {
		return false
	}
	for {
		more, err := it.Next()
		if err != nil {
			return false
		}
		if !more {
			return true
		}
		v := readValue(it.Val, it.Kind, it.Esc)
		if v.kind != jsonscan.KindString && v.kind != jsonscan.KindNull {
			return false
		}
	}
}

// appendTrack writes the Segment track call. t is nil for a type outside the
// catalog (passthrough).
func (m *Mapper) appendTrack(b []byte, e *Event, t *EventType, quotedName string, sec, nsec int64) []byte {
	b = append(b, `{"type":"track","event":`...)
	b = append(b, quotedName...)
	b = append(b, `,"messageId":`...)
	b = append(b, e.values[fieldID].raw...)
	if v := e.values[fieldExternalUserID]; v.present() {
		b = append(b, `,"userId":`...)
		b = append(b, v.raw...)
	}
	if v := e.values[fieldUserID]; v.present() {
		b = append(b, `,"anonymousId":`...)
		b = append(b, v.raw...)
	}
	b = append(b, `,"timestamp":"`...)
	b = appendTimestamp(b, sec, nsec)
	b = append(b, '"')

	generic := t == nil || t.Generic
	email, phone, model, devType := -1, -1, -1, -1
	if t != nil {
		email, phone, model, devType = t.email, t.phone, t.devModel, t.devType
	}
	if generic {
		email = fieldEmailAddress
		if e.values[fieldToPhoneNumber].present() {
			phone = fieldToPhoneNumber
		} else {
			phone = fieldUserPhoneNumber
		}
	}
	ctx := objectWriter{b: b}
	ctx.open(`,"context":{`)
	traits := objectWriter{b: ctx.b}
	if e.present(email) || e.present(phone) {
		ctx.sep()
		traits.b = ctx.b
		traits.open(`"traits":{`)
		traits.field(`"email":`, e, email)
		traits.field(`"phone":`, e, phone)
		ctx.b = traits.close()
	}
	if e.present(model) || e.present(devType) {
		ctx.sep()
		dev := objectWriter{b: ctx.b}
		dev.open(`"device":{`)
		dev.field(`"model":`, e, model)
		dev.field(`"type":`, e, devType)
		ctx.b = dev.close()
	}
	if m.opts.Properties == PropertiesAll {
		ctx.field(`"timezone":`, e, fieldTimezone)
	}
	b = ctx.close()

	props := objectWriter{b: b}
	props.open(`,"properties":{`)
	if generic {
		m.appendRemaining(&props, e, nil)
	} else {
		for _, p := range t.props {
			if v := e.values[p.id]; v.present() {
				props.sep()
				props.b = append(props.b, p.quoted...)
				props.b = append(props.b, ':')
				props.b = appendValue(props.b, v)
			}
		}
		if m.opts.Properties == PropertiesAll {
			m.appendRemaining(&props, e, t)
		}
	}
	b = props.close()
	return append(b, '}')
}

// appendTimestamp writes the time as time.RFC3339Nano in UTC. Whole seconds,
// what Currents sends, are written directly: AppendFormat parses its layout
// on every call.
func appendTimestamp(b []byte, sec, nsec int64) []byte {
	if nsec != 0 {
		return time.Unix(sec, nsec).UTC().AppendFormat(b, time.RFC3339Nano)
	}
	t := time.Unix(sec, 0).UTC()
	year, month, day := t.Date()
	hour, min, s := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	b = append(b, byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T')
	b = append(b, byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+min/10), byte('0'+min%10), ':')
	return append(b, byte('0'+s/10), byte('0'+s%10), 'Z')
}

// appendRemaining writes every present field that is not identity, time or
// already a property of t, then the fields no type knows.
func (m *Mapper) appendRemaining(w *objectWriter, e *Event, t *EventType) {
	for _, id := range e.order {
		if id < fieldDeviceID { // id, user ids, time, timezone, event_type
			continue
		}
		if t != nil && t.isProperty(id) {
			continue
		}
		v := e.values[id]
		if !v.present() {
			continue
		}
		w.sep()
		w.b = appendJSONString(w.b, m.cat.fieldNames[id])
		w.b = append(w.b, ':')
		w.b = appendValue(w.b, v)
	}
	for _, x := range e.extras {
		if !x.v.present() {
			continue
		}
		w.sep()
		w.b = append(w.b, x.quoted...)
		w.b = append(w.b, ':')
		w.b = appendValue(w.b, x.v)
	}
}

func (e *Event) present(id int) bool { return id >= 0 && e.values[id].present() }

// objectWriter appends a JSON object that is left out entirely when no member
// is written, so absent data never shows as {} or null.
type objectWriter struct {
	b     []byte
	start int
	n     int
}

func (w *objectWriter) open(prefix string) {
	w.start = len(w.b)
	w.b = append(w.b, prefix...)
}

func (w *objectWriter) sep() {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
}

func (w *objectWriter) field(key string, e *Event, id int) {
	if !e.present(id) {
		return
	}
	w.sep()
	w.b = append(w.b, key...)
	w.b = appendValue(w.b, e.values[id])
}

func (w *objectWriter) close() []byte {
	if w.n == 0 {
		return w.b[:w.start]
	}
	return append(w.b, '}')
}

// appendValue writes a value's JSON, removing Avro union wrappers from array
// items.
func appendValue(b []byte, v value) []byte {
	if !v.wrapped {
		if v.kind == jsonscan.KindArray || v.kind == jsonscan.KindObject {
			return appendCompact(b, v.raw)
		}
		return append(b, v.raw...)
	}
	it := jsonscan.NewArrayIter(jsonscan.NewScanner(v.raw), 1)
	_ = it.Open()
	b = append(b, '[')
	for i := 0; ; i++ {
		more, err := it.Next()
		if err != nil || !more {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCompact(b, readValue(it.Val, it.Kind, it.Esc).raw)
	}
	return append(b, ']')
}

// appendCompact appends validated JSON without the white space outside its
// strings, so pretty-printed input does not bloat the Segment call.
func appendCompact(b []byte, raw []byte) []byte {
	inString, escaped := false, false
	for _, c := range raw {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			b = append(b, c)
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inString = true
		}
		b = append(b, c)
	}
	return b
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}
