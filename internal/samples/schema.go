package samples

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/linkedin/goavro/v2"

	"github.com/currents-segment/currents-segment/internal/spec"
)

// kind is the shape of a field's value, read from its Avro type. The storage
// schemas only use these few shapes; parseKind refuses anything else so that a
// new schema with an unexpected type fails the tests instead of producing
// records goavro would reject.
type kind int

const (
	kindString kind = iota
	kindInt
	kindLong
	kindBool
	kindFloat               // Avro float (32 bits)
	kindStringArray         // {"type":"array","items":"string"}
	kindNullableStringArray // {"type":"array","items":["null","string"]}
)

// field is one record field of an event type's storage schema.
type field struct {
	name     string
	kind     kind
	nullable bool // the Avro type is the union ["null", T]
}

// eventSchema is the parsed storage schema of one event type. The goavro
// codec is built on first use: generating records never needs it.
type eventSchema struct {
	eventType string
	raw       string
	fields    []field
	byName    map[string]int

	codecOnce sync.Once
	codec     *goavro.Codec
	codecErr  error
}

// schemas parses every .avsc of the embedded contract once. The contract is
// compiled into the binary, so an error here is a bug in this package or in
// the contract, and every caller reports it.
var schemas = sync.OnceValues(func() (map[string]*eventSchema, error) {
	out := make(map[string]*eventSchema)
	for _, t := range spec.AvroTypes() {
		raw, err := spec.AvroSchema(t)
		if err != nil {
			return nil, err
		}
		s, err := parseSchema(t, raw)
		if err != nil {
			return nil, err
		}
		out[t] = s
	}
	return out, nil
})

// schemaOf returns the parsed schema of an event type.
func schemaOf(eventType string) (*eventSchema, error) {
	all, err := schemas()
	if err != nil {
		return nil, err
	}
	s, ok := all[eventType]
	if !ok {
		return nil, fmt.Errorf("samples: no Avro schema for event type %q", eventType)
	}
	return s, nil
}

func parseSchema(eventType string, raw []byte) (*eventSchema, error) {
	var rec struct {
		Type   string `json:"type"`
		Fields []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("samples: schema of %s: %w", eventType, err)
	}
	if rec.Type != "record" {
		return nil, fmt.Errorf("samples: schema of %s is a %q, not a record", eventType, rec.Type)
	}
	s := &eventSchema{eventType: eventType, raw: string(raw), byName: make(map[string]int)}
	for _, f := range rec.Fields {
		k, nullable, err := parseKind(f.Type)
		if err != nil {
			return nil, fmt.Errorf("samples: schema of %s, field %s: %w", eventType, f.Name, err)
		}
		s.byName[f.Name] = len(s.fields)
		s.fields = append(s.fields, field{name: f.Name, kind: k, nullable: nullable})
	}
	return s, nil
}

// parseKind reads a field type: a primitive name, an array, or a two-branch
// union with "null" first (the only unions Braze writes).
func parseKind(raw json.RawMessage) (k kind, nullable bool, err error) {
	var union []json.RawMessage
	if json.Unmarshal(raw, &union) == nil {
		if len(union) != 2 || string(union[0]) != `"null"` {
			return 0, false, fmt.Errorf("unsupported union %s", raw)
		}
		k, _, err = parseKind(union[1])
		return k, true, err
	}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		switch name {
		case "string":
			return kindString, false, nil
		case "int":
			return kindInt, false, nil
		case "long":
			return kindLong, false, nil
		case "boolean":
			return kindBool, false, nil
		case "float":
			return kindFloat, false, nil
		}
		return 0, false, fmt.Errorf("unsupported type %q", name)
	}
	var arr struct {
		Type  string          `json:"type"`
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &arr); err != nil || arr.Type != "array" {
		return 0, false, fmt.Errorf("unsupported type %s", raw)
	}
	items, nullItems, err := parseKind(arr.Items)
	switch {
	case err != nil || items != kindString:
		return 0, false, fmt.Errorf("unsupported array items %s", arr.Items)
	case nullItems:
		return kindNullableStringArray, false, nil
	}
	return kindStringArray, false, nil
}

// avroCodec builds (once) the goavro codec of the schema.
func (s *eventSchema) avroCodec() (*goavro.Codec, error) {
	s.codecOnce.Do(func() {
		s.codec, s.codecErr = goavro.NewCodec(s.raw)
		if s.codecErr != nil {
			s.codecErr = fmt.Errorf("samples: goavro codec for %s: %w", s.eventType, s.codecErr)
		}
	})
	return s.codec, s.codecErr
}

// AvroCodec returns the goavro codec of an event type's storage schema,
// shared and safe for concurrent use.
func AvroCodec(eventType string) (*goavro.Codec, error) {
	s, err := schemaOf(eventType)
	if err != nil {
		return nil, err
	}
	return s.avroCodec()
}
