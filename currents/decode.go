package currents

import (
	"fmt"
)

// avroUnionTags are the branch names Avro's JSON encoding wraps union values
// in ({"string": "x"}); Currents schemas only use these.
var avroUnionTags = map[string]bool{
	"string": true, "int": true, "long": true, "boolean": true, "float": true,
	"double": true, "bytes": true, "array": true, "map": true,
}

// unwrapUnion returns the inner value of an Avro-JSON union wrapper such as
// {"string":"x"}; ok is false for any other object.
func unwrapUnion(raw []byte) (inner value, ok bool) {
	it := objectIter{sc: scanner{b: raw}, depth: 1}
	if it.open() != nil {
		return value{}, false
	}
	more, err := it.next()
	if err != nil || !more || it.keyEsc || !avroUnionTags[string(it.key)] {
		return value{}, false
	}
	inner = value{raw: it.val, kind: it.kind, esc: it.esc}
	if more, err = it.next(); err != nil || more {
		return value{}, false
	}
	if inner.kind == kindArray {
		inner.wrapped = arrayHasWrappers(inner.raw)
	}
	return inner, true
}

// arrayHasWrappers reports whether any item of an array is a union wrapper,
// as items of Avro type ["null","string"] are in Avro JSON.
func arrayHasWrappers(raw []byte) bool {
	it := arrayIter{sc: scanner{b: raw}, depth: 1}
	if it.open() != nil {
		return false
	}
	for {
		more, err := it.next()
		if err != nil || !more {
			return false
		}
		if it.kind == kindObject {
			if _, ok := unwrapUnion(it.val); ok {
				return true
			}
		}
	}
}

// readValue turns a scanned member into a value, removing a union wrapper.
func readValue(raw []byte, kind valueKind, esc bool) value {
	v := value{raw: raw, kind: kind, esc: esc}
	switch kind {
	case kindObject:
		if inner, ok := unwrapUnion(raw); ok {
			return inner
		}
	case kindArray:
		v.wrapped = arrayHasWrappers(raw)
	}
	return v
}

// input is the result of reading one message: either one event, or the
// elements of an HTTP envelope ({"events":[...]}) or a JSON array.
type input struct {
	elements [][]byte
	envelope bool
}

// split reads the top level of a message. A single event is decoded into e
// on the way, so it costs one pass.
func (c *Catalog) split(data []byte, e *Event) (input, error) {
	e.reset(c)
	e.Raw = data
	s := scanner{b: data}
	s.ws()
	if s.i < len(data) && data[s.i] == '[' {
		els, err := arrayElements(&s)
		if err != nil {
			return input{}, err
		}
		return input{elements: els, envelope: true}, trailing(&s)
	}
	it := objectIter{sc: s, depth: 0}
	if err := it.open(); err != nil {
		return input{}, fmt.Errorf("expected a JSON object (a Currents event or an {\"events\":[...]} batch): %w", err)
	}
	var in input
	for {
		more, flat, err := c.nextTop(e, &it)
		if err != nil {
			return input{}, err
		}
		if !more {
			break
		}
		if flat {
			continue
		}
		if !it.keyEsc && string(it.key) == "events" && it.kind == kindArray {
			sub := scanner{b: it.val}
			els, err := arrayElements(&sub)
			if err != nil {
				return input{}, err
			}
			in = input{elements: els, envelope: true}
			continue
		}
		if err := c.member(e, &it, true); err != nil {
			return input{}, err
		}
	}
	return in, trailing(&it.sc)
}

func trailing(s *scanner) error {
	s.ws()
	if s.i != len(s.b) {
		return s.fail("unexpected data after the JSON value")
	}
	return nil
}

func arrayElements(s *scanner) ([][]byte, error) {
	it := arrayIter{sc: *s, depth: 1}
	defer func() { s.i = it.sc.i }()
	if err := it.open(); err != nil {
		return nil, err
	}
	var els [][]byte
	for {
		more, err := it.next()
		if err != nil {
			return nil, err
		}
		if !more {
			return els, nil
		}
		els = append(els, it.val)
	}
}

// decodeElement decodes one element of an envelope into e.
func (c *Catalog) decodeElement(data []byte, index int, e *Event) error {
	e.reset(c)
	e.Raw, e.Index = data, index
	it := objectIter{sc: scanner{b: data}, depth: 1}
	if err := it.open(); err != nil {
		return fmt.Errorf("expected the event to be a JSON object: %w", err)
	}
	for {
		more, flat, err := c.nextTop(e, &it)
		if err != nil || !more {
			return err
		}
		if flat {
			continue
		}
		if err := c.member(e, &it, true); err != nil {
			return err
		}
	}
}

// nextTop is objectIter.next for the top level of an event. The members of a
// nested "user" or "properties" object are stored as they are scanned
// (flat is true), in one pass, instead of scanning the object once to
// validate it and again to flatten it. Errors are the same as next's.
func (c *Catalog) nextTop(e *Event, it *objectIter) (more, flat bool, err error) {
	if more, err = it.nextKey(); err != nil || !more {
		return more, false, err
	}
	s := &it.sc
	if !it.keyEsc && s.i < len(s.b) && s.b[s.i] == '{' {
		if k := string(it.key); k == "user" || k == "properties" {
			vs := s.i
			sub := objectIter{sc: *s, depth: it.depth + 1}
			err = sub.open()
			for err == nil {
				var m bool
				if m, err = sub.next(); err != nil || !m {
					break
				}
				c.store(e, sub.key, sub.keyEsc, readValue(sub.val, sub.kind, sub.esc))
			}
			s.i = sub.sc.i
			if err != nil {
				return false, false, err
			}
			it.val, it.kind, it.esc = s.b[vs:s.i], kindObject, false
			return true, true, nil
		}
	}
	return true, false, it.readVal()
}

// member stores one object member. At the top of an HTTP event, the nested
// "user" and "properties" objects are flattened, so both wire shapes end up
// with the same fields. It does not recurse, so the scanners it makes stay
// on the stack.
func (c *Catalog) member(e *Event, it *objectIter, top bool) error {
	if top && it.kind == kindObject && !it.keyEsc {
		if k := string(it.key); k == "user" || k == "properties" {
			sub := objectIter{sc: scanner{b: it.val}, depth: it.depth + 1}
			if err := sub.open(); err != nil {
				return err
			}
			for {
				more, err := sub.next()
				if err != nil || !more {
					return err
				}
				c.store(e, sub.key, sub.keyEsc, readValue(sub.val, sub.kind, sub.esc))
			}
		}
	}
	c.store(e, it.key, it.keyEsc, readValue(it.val, it.kind, it.esc))
	return nil
}

// store sets a field by its key (escaped form, without quotes).
func (c *Catalog) store(e *Event, key []byte, keyEsc bool, v value) {
	if !keyEsc {
		if id, ok := c.fieldIDs[string(key)]; ok {
			e.set(id, v)
			return
		}
	}
	name := string(key)
	if keyEsc {
		name = unescape(key)
		if id, ok := c.fieldIDs[name]; ok {
			e.set(id, v)
			return
		}
	}
	for i := range e.extras {
		if e.extras[i].name == name {
			e.extras[i].v = v
			return
		}
	}
	e.extras = append(e.extras, extraField{name: name, quoted: appendJSONString(nil, name), v: v})
}
