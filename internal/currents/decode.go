package currents

import "github.com/currents-segment/currents-segment/internal/jsonscan"

// avroUnionTags are the branch names Avro's JSON encoding wraps union values
// in ({"string": "x"}); Currents schemas only use these.
var avroUnionTags = map[string]bool{
	"string": true, "int": true, "long": true, "boolean": true, "float": true,
	"double": true, "bytes": true, "array": true, "map": true,
}

// unwrapUnion returns the inner value of an Avro-JSON union wrapper such as
// {"string":"x"}; ok is false for any other object.
func unwrapUnion(raw []byte) (inner value, ok bool) {
	it := jsonscan.NewObjectIter(jsonscan.NewScanner(raw), 1)
	if it.Open() != nil {
		return value{}, false
	}
	more, err := it.Next()
	if err != nil || !more || it.KeyEsc || !avroUnionTags[string(it.Key)] {
		return value{}, false
	}
	inner = value{raw: it.Val, kind: it.Kind, esc: it.Esc}
	if more, err = it.Next(); err != nil || more {
		return value{}, false
	}
	if inner.kind == jsonscan.KindArray {
		inner.wrapped = arrayHasWrappers(inner.raw)
	}
	return inner, true
}

// arrayHasWrappers reports whether any item of an array is a union wrapper,
// as items of Avro type ["null","string"] are in Avro JSON.
func arrayHasWrappers(raw []byte) bool {
	it := jsonscan.NewArrayIter(jsonscan.NewScanner(raw), 1)
	if it.Open() != nil {
		return false
	}
	for {
		more, err := it.Next()
		if err != nil || !more {
			return false
		}
		if it.Kind == jsonscan.KindObject {
			if _, ok := unwrapUnion(it.Val); ok {
				return true
			}
		}
	}
}

// readValue turns a scanned member into a value, removing a union wrapper.
func readValue(raw []byte, kind jsonscan.Kind, esc bool) value {
	v := value{raw: raw, kind: kind, esc: esc}
	switch kind {
	case jsonscan.KindObject:
		if inner, ok := unwrapUnion(raw); ok {
			return inner
		}
	case jsonscan.KindArray:
		v.wrapped = arrayHasWrappers(raw)
	}
	return v
}

// walk reads one message in a single pass. A single event is decoded into
// top, and walk reports batch false. The events of a batch (an HTTP
// envelope, {"events":[...]}, or a JSON array) are each decoded into el in
// place, as the array is read, and handed to each in order, with err set
// for an element that is not an object. An error walk returns means the
// message is not valid JSON, or not an object or array: then nothing each
// was handed counts.
//
// Each array of events starts with a call each(nil, nil): a duplicated
// "events" member starts over, and the last one counts, as encoding/json
// would have it.
func (c *Catalog) walk(data []byte, top, el *Event, each func(el *Event, err error)) (batch bool, err error) {
	top.reset(c)
	top.Raw = data
	s := jsonscan.NewScanner(data)
	s.SkipSpace()
	if s.Peek() == '[' {
		it := jsonscan.NewArrayIter(s, 0)
		if err := c.walkEvents(&it, el, each); err != nil {
			return true, err
		}
		end := it.Scanner()
		return true, end.End()
	}
	it := jsonscan.NewObjectIter(s, 0)
	if err := it.Open(); err != nil {
		return false, &ShapeError{Want: `a JSON object (a Currents event or an {"events":[...]} batch)`, at: err}
	}
	for {
		more, flat, err := c.nextTop(top, &it, true)
		if err != nil {
			return batch, err
		}
		if !more {
			break
		}
		if flat {
			continue
		}
		if !it.KeyEsc && it.Peek() == '[' && string(it.Key) == "events" {
			batch = true
			arr := it.NestedArray()
			err := c.walkEvents(&arr, el, each)
			it.EndNestedArray(&arr)
			if err != nil {
				return batch, err
			}
			continue
		}
		if err := it.ReadValue(); err != nil {
			return batch, err
		}
		c.store(top, it.Key, it.KeyEsc, it.Val, it.Kind, it.Esc)
	}
	end := it.Scanner()
	return batch, end.End()
}

// walkEvents reads the array it is at, decoding each object element into el
// in place.
func (c *Catalog) walkEvents(it *jsonscan.ArrayIter, el *Event, each func(*Event, error)) error {
	if err := it.Open(); err != nil {
		return err
	}
	each(nil, nil)
	for i := 0; ; i++ {
		more, err := it.NextElem()
		if err != nil || !more {
			return err
		}
		el.reset(c)
		el.Index = i
		if it.Peek() != '{' {
			if err := it.ReadValue(); err != nil {
				return err
			}
			el.Raw = it.Val
			// Said of the element alone, as its dead letter holds it.
			sub := jsonscan.NewObjectIter(jsonscan.NewScanner(it.Val), 1)
			each(el, &ShapeError{Want: "the event to be a JSON object", at: sub.Open()})
			continue
		}
		obj := it.Nested()
		err = c.decodeObject(&obj, el)
		it.EndNested(&obj)
		if err != nil {
			return err
		}
		el.Raw = it.Val
		each(el, nil)
	}
}

// decodeObject decodes the members of the object it is at into e.
func (c *Catalog) decodeObject(it *jsonscan.ObjectIter, e *Event) error {
	if err := it.Open(); err != nil {
		return err
	}
	for {
		more, flat, err := c.nextTop(e, it, false)
		if err != nil || !more {
			return err
		}
		if !flat {
			c.store(e, it.Key, it.KeyEsc, it.Val, it.Kind, it.Esc)
		}
	}
}

// nextTop is ObjectIter.Next for the top level of an event. The members of
// the nested "user" and "properties" objects of an HTTP event are stored as
// top-level fields, so every wire shape ends up with the same fields. They
// are stored as they are scanned (flat is true), in one pass, instead of
// scanning the object once to validate it and again to flatten it. Errors
// are the same as Next's. With keyOnly, any other member is left unread for
// the caller (as NextKey leaves it), to walk an "events" array in place.
func (c *Catalog) nextTop(e *Event, it *jsonscan.ObjectIter, keyOnly bool) (more, flat bool, err error) {
	if more, err = it.NextKey(); err != nil || !more {
		return more, false, err
	}
	if !it.KeyEsc && it.Peek() == '{' {
		if k := string(it.Key); k == "user" || k == "properties" {
			sub := it.Nested()
			err = sub.Open()
			for err == nil {
				var m bool
				if m, err = sub.Next(); err != nil || !m {
					break
				}
				c.store(e, sub.Key, sub.KeyEsc, sub.Val, sub.Kind, sub.Esc)
			}
			it.EndNested(&sub)
			if err != nil {
				return false, false, err
			}
			return true, true, nil
		}
	}
	if keyOnly {
		return true, false, nil
	}
	return true, false, it.ReadValue()
}

// store sets a field by its key (escaped form, without quotes) to a
// scanned value, removing a union wrapper. The custom properties objects of
// the HTTP shape are kept whole: Avro unions never wrap them (no storage
// record has them), and {"map": "home"} is a custom property, not a union.
func (c *Catalog) store(e *Event, key []byte, keyEsc bool, raw []byte, kind jsonscan.Kind, esc bool) {
	id := -1
	var name string
	if !keyEsc {
		id = c.fields.lookup(key)
	} else {
		name = jsonscan.Unescape(key)
		if n, ok := c.fieldIDs[name]; ok {
			id = n
		}
	}
	if id >= 0 {
		if kind == jsonscan.KindObject && c.objectFields[id] {
			e.set(id, value{raw: raw, kind: kind})
			return
		}
		e.set(id, readValue(raw, kind, esc))
		return
	}
	v := readValue(raw, kind, esc)
	if !keyEsc {
		name = string(key)
	}
	for i := range e.extras {
		if e.extras[i].name == name {
			e.extras[i].v = v
			return
		}
	}
	e.extras = append(e.extras, extraField{name: name, quoted: appendJSONString(nil, name), v: v})
}
