package currents

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

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

// SelectDefault, in Options.Events, stands for the default selection:
// [default, users.behaviors.Purchase] maps what Braze's connector sends and
// purchases.
const SelectDefault = "default"

// Options configure a Mapper beyond Braze's connector defaults.
type Options struct {
	// Events is the allow-list of types to map; empty means the default
	// selection, the types Braze's Segment connector sends (EventType.Default).
	// SelectDefault in the list stands for that selection, so that a list
	// can add types to it. Known types outside it are skipped with
	// SkipNotSelected.
	Events []string
	// EventNames renames the Segment event of a type.
	EventNames     map[string]string
	AnonymousUsers AnonymousUsers
	Properties     PropertyMode
	UnknownTypes   UnknownTypes
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
		m.allowed[t.index] = len(opts.Events) == 0 && t.Default
		m.names[t.index] = t.SegmentEvent
	}
	var unknown []string
	for _, name := range opts.Events {
		if name == SelectDefault {
			for _, t := range cat.types {
				m.allowed[t.index] = m.allowed[t.index] || t.Default
			}
			continue
		}
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
		if t.NameField != "" {
			// One name for every custom event would lose which event it
			// was: the name is the event's own, so there is nothing a
			// rename keyed on the type could mean that is worth having.
			return nil, fmt.Errorf("event_names: %s cannot be renamed: each event of it is sent under its own %s field (rename the custom event in Braze, or downstream of Segment)", t.Name, t.NameField)
		}
		m.names[t.index] = name
	}
	for i, name := range m.names {
		m.quoted[i] = quote(name)
	}
	m.events.New = func() any { return &eventPair{} }
	return m, nil
}

// Selected reports whether events of type t are mapped (in Options.Events,
// or in the default selection when it is empty) rather than skipped as not
// selected.
func (m *Mapper) Selected(t *EventType) bool { return m.allowed[t.index] }

// Map decodes one message in any Currents wire shape and maps each event in
// it, in order. from types the events that have no event_type field (flat
// storage records); nil when the caller knows nothing of the message's
// origin.
func (m *Mapper) Map(data []byte, from *Origin) []Result {
	return m.AppendMap(nil, data, from)
}

// AppendMap is Map appending the results to dst, so a caller mapping many
// messages can reuse one slice (clearing it before reuse drops the
// references it holds to mapped events).
func (m *Mapper) AppendMap(dst []Result, data []byte, from *Origin) []Result {
	ev := m.events.Get().(*eventPair)
	defer m.events.Put(ev)
	start := len(dst)
	out := dst
	batch, err := m.cat.walk(data, &ev.top, &ev.el, func(e *Event, err error) {
		if e == nil { // a batch starts: a duplicated "events" member's last counts
			out = dropFrom(out, start)
			return
		}
		if err != nil {
			out = append(out, Result{Outcome: Failed, Raw: e.Raw, Err: &EventError{Index: e.Index, Err: &NotEventError{InBatch: true, Err: err}}})
			return
		}
		out = append(out, m.mapEvent(e, from, &ev.recent))
	})
	if err != nil {
		// Broken JSON anywhere fails the whole message, as one: the events
		// mapped before the break are not sent on their own.
		out = dropFrom(out, start)
		return append(out, Result{Outcome: Failed, Raw: data, Err: &EventError{Index: -1, Err: &NotEventError{Err: err}}})
	}
	if !batch {
		return append(out, m.mapEvent(&ev.top, from, &ev.recent))
	}
	return out
}

// eventPair is the pooled decoding state of one message: the top level, the
// batch element being decoded in place, and the strings its events repeat.
type eventPair struct {
	top, el Event
	recent  recentStrings
}

// dropFrom truncates results to n, clearing what it drops so the slice does
// not keep mapped events alive.
func dropFrom(results []Result, n int) []Result {
	clear(results[n:])
	return results[:n]
}

func (m *Mapper) mapEvent(e *Event, from *Origin, recent *recentStrings) Result {
	r := Result{Raw: e.Raw, EventID: e.ID(), InEnvelope: e.Index >= 0}
	fail := func(field string, err error) Result {
		r.Outcome, r.Track = Failed, nil
		r.Err = &EventError{Index: e.Index, EventID: r.EventID, EventType: r.EventType, Field: field, Err: err}
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
				return fail("event_type", wrongKind(KindString.String(), v))
			}
			typeName = from.eventType()
		}
		if typeName == "" {
			return fail("event_type", ErrNoEventType)
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
			return fail("event_type", &UnknownEventTypeError{Name: typeName})
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
			return fail("id", errNoID)
		}
		return fail("id", errEmptyID)
	case id.kind != jsonscan.KindString:
		return fail("id", wrongKind(KindString.String(), id))
	}
	tv := e.values[fieldTime]
	if tv.kind == jsonscan.KindInvalid || tv.kind == jsonscan.KindNull {
		return fail("time", errNoTime)
	}
	sec, nsec, ok := unixSeconds(tv)
	if !ok {
		return fail("time", wrongKind("a number of UNIX seconds", tv))
	}
	if sec < 0 || sec > maxUnixSeconds {
		return fail("time", &TimeRangeError{Value: excerpt(tv.raw)})
	}
	for _, f := range [...]int{fieldUserID, fieldExternalUserID, fieldTimezone} {
		if v := e.values[f]; v.kind != jsonscan.KindInvalid && v.kind != jsonscan.KindNull && v.kind != jsonscan.KindString {
			return fail(m.cat.fieldNames[f], wrongKind(KindString.String(), v))
		}
	}
	userID, extID := e.values[fieldUserID], e.values[fieldExternalUserID]
	if !userID.present() && known && !t.UserIDOptional {
		return fail("user_id", errNoUserID)
	}
	if known {
		for _, f := range t.fieldKinds {
			v := e.values[f.id]
			if v.kind == jsonscan.KindInvalid || v.kind == jsonscan.KindNull {
				continue
			}
			if err := checkKind(f.kind, v); err != nil {
				return fail(m.cat.fieldNames[f.id], err)
			}
		}
	}
	if known && t.nameID >= 0 {
		name := e.values[t.nameID]
		if !name.present() {
			if name.kind == jsonscan.KindString {
				return fail(t.NameField, errEmptyEventName)
			}
			return fail(t.NameField, errNoEventName)
		}
		quotedName = string(name.raw)
		r.SegmentEvent = recent.value(name.raw, name.esc)
	}
	if !extID.present() {
		// An event with neither id (agentconsole.ToolInvocation has no
		// user at all) can be sent under no setting: its reason says so,
		// rather than pointing at anonymous_users: send.
		if !userID.present() {
			return skip(SkipNoIdentity)
		}
		if m.opts.AnonymousUsers == AnonymousSkip {
			return skip(SkipAnonymous)
		}
	}

	if !known {
		t = nil
	}
	var custom customProps
	if t != nil && t.customStr >= 0 {
		var err error
		if custom, err = readCustomProps(e, t); err != nil {
			return fail(t.CustomString, err)
		}
	}
	r.Track = m.appendTrack(make([]byte, 0, len(e.Raw)+64), e, t, quotedName, sec, nsec, custom)
	if v := e.values[fieldAppGroupID]; v.kind == jsonscan.KindString && v.present() {
		r.AppGroupID = recent.value(v.raw, v.esc)
	}
	r.Outcome = Mapped
	return r
}

// maxUnixSeconds is 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const maxUnixSeconds = 253402300799

// checkKind says whether v is of kind k; nil when it is.
func checkKind(k Kind, v value) error {
	var ok bool
	switch k {
	case KindString:
		ok = v.kind == jsonscan.KindString
	case KindInt:
		ok = v.kind == jsonscan.KindNumber && !v.esc
	case KindBool:
		ok = v.kind == jsonscan.KindBool
	case KindStringArray:
		ok = v.kind == jsonscan.KindArray && stringItems(v.raw)
	case KindNumber:
		ok = v.kind == jsonscan.KindNumber
	case KindObject:
		ok = v.kind == jsonscan.KindObject
	default:
		ok = true
	}
	if ok {
		return nil
	}
	return wrongKind(k.String(), v)
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

// customProps are the custom properties of one event, in both the places
// they can come from: the HTTP event's object, and the storage record's
// JSON-encoded string, decoded and checked.
type customProps struct {
	obj []byte
	str []byte
}

// readCustomProps finds the custom properties of an event of t. The object
// was kind-checked with the other fields; the string is decoded here, so
// that a string that is not a JSON object fails the event (naming the field)
// before any of its call is written. An empty string, null, or the string
// "null" means the event has none.
func readCustomProps(e *Event, t *EventType) (customProps, error) {
	var c customProps
	if v := e.values[t.customObj]; v.kind == jsonscan.KindObject {
		c.obj = v.raw
	}
	v := e.values[t.customStr]
	if !v.present() {
		return c, nil
	}
	content := v.raw[1 : len(v.raw)-1]
	if v.esc {
		content = jsonscan.AppendUnescaped(nil, content)
	}
	s := jsonscan.NewScanner(content)
	s.SkipSpace()
	if s.Peek() == 'n' && string(bytes.TrimSpace(content)) == "null" {
		return c, nil
	}
	if s.Peek() != '{' {
		err := notJSON(content)
		return c, &CustomPropertiesError{Value: excerpt(content), NotJSON: err != nil, syntax: err}
	}
	it := jsonscan.NewObjectIter(s, 1)
	err := it.Open()
	for err == nil {
		var more bool
		if more, err = it.Next(); !more {
			break
		}
	}
	if err == nil {
		end := it.Scanner()
		err = end.End()
	}
	if err != nil {
		return c, &CustomPropertiesError{Value: excerpt(content), NotJSON: true, syntax: err}
	}
	c.str = content
	return c, nil
}

// notJSON returns the scanner's *jsonscan.SyntaxError if text is not one
// JSON value, or nil if it is. Only for an error's sake: it copies the text
// into an array, which the scanner can read a value of any kind from.
func notJSON(text []byte) error {
	wrapped := append(append([]byte{'['}, text...), ']')
	it := jsonscan.NewArrayIter(jsonscan.NewScanner(wrapped), 1)
	if err := it.Open(); err != nil {
		return err
	}
	more, err := it.Next()
	switch {
	case err == nil && !more:
		return &jsonscan.SyntaxError{Offset: len(text), Msg: "no JSON value"}
	case err == nil:
		if more, err = it.Next(); err == nil && more { // "1,2" reads as two items
			return &jsonscan.SyntaxError{Offset: bytes.IndexByte(text, ','), Msg: "more than one JSON value"}
		}
	}
	var se *jsonscan.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 {
		se.Offset-- // the text's own offset, without the bracket
	}
	return err
}
