package currents

import (
	"fmt"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
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
	s := jsonscan.NewScanner(data)
	s.SkipSpace()
	if s.Peek() == '[' {
		els, err := arrayElements(&s)
		if err != nil {
			return input{}, err
		}
		return input{elements: els, envelope: true}, s.End()
	}
	it := jsonscan.NewObjectIter(s, 0)
	if err := it.Open(); err != nil {
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
		if !it.KeyEsc && string(it.Key) == "events" && it.Kind == jsonscan.KindArray {
			sub := jsonscan.NewScanner(it.Val)
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
	end := it.Scanner()
	return in, end.End()
}

func arrayElements(s *jsonscan.Scanner) ([][]byte, error) {
	it := jsonscan.NewArrayIter(*s, 1)
	defer func() { *s = it.Scanner() }()
	if err := it.Open(); err != nil {
		return nil, err
	}
	var els [][]byte
	for {
		more, err := it.Next()
		if err != nil {
			return nil, err
		}
		if !more {
			return els, nil
		}
		els = append(els, it.Val)
	}
}

// decodeElement decodes one element of an envelope into e.
func (c *Catalog) decodeElement(data []byte, index int, e *Event) error {
	e.reset(c)
	e.Raw, e.Index = data, index
	it := jsonscan.NewObjectIter(jsonscan.NewScanner(data), 1)
	if err := it.Open(); err != nil {
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

// nextTop is ObjectIter.Next for the top level of an event. The members of a
// nested "user" or "properties" object are stored as they are scanned
// (flat is true), in one pass, instead of scanning the object once to
// validate it and again to flatten it. Errors are the same as Next's.
func (c *Catalog) nextTop(e *Event, it *jsonscan.ObjectIter) (more, flat bool, err error) {
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
				c.store(e, sub.Key, sub.KeyEsc, readValue(sub.Val, sub.Kind, sub.Esc))
			}
			it.EndNested(&sub)
			if err != nil {
				return false, false, err
			}
			return true, true, nil
		}
	}
	return true, false, it.ReadValue()
}

// member stores one object member. At the top of an HTTP event, the nested
// "user" and "properties" objects are flattened, so both wire shapes end up
// with the same fields. It does not recurse, so the scanners it makes stay
// on the stack.
func (c *Catalog) member(e *Event, it *jsonscan.ObjectIter, top bool) error {
	if top && it.Kind == jsonscan.KindObject && !it.KeyEsc {
		if k := string(it.Key); k == "user" || k == "properties" {
			sub := jsonscan.NewObjectIter(jsonscan.NewScanner(it.Val), it.Depth()+1)
			if err := sub.Open(); err != nil {
				return err
			}
			for {
				more, err := sub.Next()
				if err != nil || !more {
					return err
				}
				c.store(e, sub.Key, sub.KeyEsc, readValue(sub.Val, sub.Kind, sub.Esc))
			}
		}
	}
	c.store(e, it.Key, it.KeyEsc, readValue(it.Val, it.Kind, it.Esc))
	return nil
}

// store sets a field by its key (escaped form, without quotes).
func (c *Catalog) store(e *Event, key []byte, keyEsc bool, v value) {
	if !keyEsc {
		if id := c.fields.lookup(key); id >= 0 {
			e.set(id, v)
			return
		}
	}
	name := string(key)
	if keyEsc {
		name = jsonscan.Unescape(key)
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
