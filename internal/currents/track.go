package currents

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// appendTrack writes the Segment track call. t is nil for a type outside the
// catalog (passthrough).
func (m *Mapper) appendTrack(b []byte, e *Event, t *EventType, quotedName string, sec, nsec int64, custom customProps) []byte {
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

	email, phone, model, devType := -1, -1, -1, -1
	if t != nil {
		email, phone, model, devType = t.email, t.phone, t.devModel, t.devType
	} else { // passthrough: the e-mail and phone fields any type has
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
	if t == nil || t.allFields {
		// Every field, whatever the mode: the type has no property list.
		m.appendRemaining(&props, e, t, false)
	} else {
		for _, p := range t.props {
			if v := e.values[p.id]; v.present() {
				props.sep()
				props.b = append(props.b, p.quoted...)
				props.b = append(props.b, ':')
				props.b = appendField(props.b, t, p.id, v)
			}
		}
		if m.opts.Properties == PropertiesAll {
			m.appendRemaining(&props, e, t, true)
		}
	}
	if custom.obj != nil || custom.str != nil {
		m.appendCustom(&props, e, t, custom)
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

// appendRemaining writes every present field that is not identity, time,
// custom properties (written on their own, see appendCustom) or, with
// listed, already a property of t, then the fields no type knows. t is nil
// for a type outside the catalog.
func (m *Mapper) appendRemaining(w *objectWriter, e *Event, t *EventType, listed bool) {
	customStr, customObj := -1, -1
	if t != nil {
		customStr, customObj = t.customStr, t.customObj
	}
	for _, id := range e.order {
		if id < fieldDeviceID { // id, user ids, time, timezone, event_type
			continue
		}
		if listed && t.isProperty(id) || id == customStr || id == customObj {
			continue
		}
		v := e.values[id]
		if !v.present() {
			continue
		}
		w.sep()
		w.b = append(w.b, m.cat.quotedNames[id]...)
		w.b = append(w.b, ':')
		w.b = appendField(w.b, t, id, v)
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

// appendCustom writes the custom properties of an event of t as properties
// of their own, after the standard ones. A custom property whose name a
// standard property of the call has (t.reserved, and under properties: all
// any other field the event carries) does not replace it: the standard
// properties are Braze's, with the types and meanings its glossary
// documents, and a tracking plan or warehouse column built on them must not
// change type because someone named a custom property price. Nor is the
// custom one dropped: it goes, under its own name, into one object property
// named after the HTTP field (custom_properties, purchase_properties), the
// same in both shapes.
func (m *Mapper) appendCustom(w *objectWriter, e *Event, t *EventType, c customProps) {
	reserved, anyField := t.reserved[0], false
	if t.allFields || m.opts.Properties == PropertiesAll {
		reserved, anyField = t.reserved[1], true
	}
	var clashes [][2][]byte // key (escaped, unquoted) and value
	for _, src := range [2][]byte{c.obj, c.str} {
		if src == nil {
			continue
		}
		it := jsonscan.NewObjectIter(jsonscan.NewScanner(src), 1)
		_ = it.Open() // validated: the object by the decoder, the string by readCustomProps
		for {
			more, err := it.Next()
			if err != nil || !more {
				break
			}
			if m.isStandard(e, t, reserved, anyField, it.Key, it.KeyEsc) {
				clashes = append(clashes, [2][]byte{it.Key, it.Val})
				continue
			}
			w.sep()
			w.b = append(w.b, '"')
			w.b = append(w.b, it.Key...)
			w.b = append(w.b, '"', ':')
			w.b = appendCompact(w.b, it.Val)
		}
	}
	if len(clashes) == 0 {
		return
	}
	w.sep()
	w.b = appendJSONString(w.b, t.CustomObject)
	w.b = append(w.b, ':', '{')
	for i, kv := range clashes {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, '"')
		w.b = append(w.b, kv[0]...)
		w.b = append(w.b, '"', ':')
		w.b = appendCompact(w.b, kv[1])
	}
	w.b = append(w.b, '}')
}

// isStandard reports whether a custom property's name (escaped, unquoted)
// is the name of a standard property of the call: one of reserved, or, with
// anyField (every field is sent), a field the event carries.
func (m *Mapper) isStandard(e *Event, t *EventType, reserved map[string]bool, anyField bool, key []byte, esc bool) bool {
	if esc {
		key = jsonscan.AppendUnescaped(nil, key)
	}
	// string(key) inside the index expressions and comparisons below does
	// not allocate.
	if reserved[string(key)] {
		return true
	}
	if !anyField {
		return false
	}
	if id, ok := m.cat.fieldIDs[string(key)]; ok {
		return id >= fieldDeviceID && id != t.customStr && id != t.customObj && e.values[id].present()
	}
	for _, x := range e.extras {
		if x.name == string(key) && x.v.present() {
			return true
		}
	}
	return false
}

// appendField writes the value of field id of an event of t (nil outside
// the catalog). An Avro float is written as the shortest decimal that reads
// back as the same float32: a storage record's 3.14 decodes to the float32
// nearest it, which a float64 prints as 3.140000104904175, while the HTTP
// event, and the person who set it, say 3.14. Only a value that is exactly a
// float32 is rewritten, so a more precise number (an HTTP event's
// 40.7127837) is never rounded.
func appendField(b []byte, t *EventType, id int, v value) []byte {
	if v.esc && v.kind == jsonscan.KindNumber && t != nil && t.isFloat(id) {
		if f, err := strconv.ParseFloat(string(v.raw), 64); err == nil {
			if f32 := float32(f); float64(f32) == f && !math.IsInf(float64(f32), 0) {
				return strconv.AppendFloat(b, float64(f32), 'g', -1, 32)
			}
		}
	}
	return appendValue(b, v)
}

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

// quote returns s as a JSON string.
func quote(s string) string {
	return string(appendJSONString(nil, s))
}
