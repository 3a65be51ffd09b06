package backlog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The kinds of metadata values, so that a record read back gives each
// value the Go type it was written with. They are part of the file format:
// a kind's letter never changes meaning.
const (
	metaKindString = 's'
	metaKindBytes  = 'b'
	metaKindInt    = 'i'
	metaKindUint   = 'u'
	metaKindFloat  = 'f'
	metaKindBool   = 't'
	metaKindTime   = 'T'
	metaKindJSON   = 'j'
)

// MetaOf encodes one metadata value as stored: strings and bytes as they
// are, numbers, booleans and times as text, anything else as JSON (or, when
// it has no JSON form, as its %v text, read back as a string).
func MetaOf(key string, v any) Meta {
	m := Meta{Key: key, Kind: metaKindString}
	switch t := v.(type) {
	case string:
		m.Value = []byte(t)
	case []byte:
		m.Kind, m.Value = metaKindBytes, t
	case bool:
		m.Kind, m.Value = metaKindBool, []byte(strconv.FormatBool(t))
	case int:
		m.Kind, m.Value = metaKindInt, []byte(strconv.FormatInt(int64(t), 10))
	case int32:
		m.Kind, m.Value = metaKindInt, []byte(strconv.FormatInt(int64(t), 10))
	case int64:
		m.Kind, m.Value = metaKindInt, []byte(strconv.FormatInt(t, 10))
	case uint:
		m.Kind, m.Value = metaKindUint, []byte(strconv.FormatUint(uint64(t), 10))
	case uint32:
		m.Kind, m.Value = metaKindUint, []byte(strconv.FormatUint(uint64(t), 10))
	case uint64:
		m.Kind, m.Value = metaKindUint, []byte(strconv.FormatUint(t, 10))
	case float32:
		m.Kind, m.Value = metaKindFloat, []byte(strconv.FormatFloat(float64(t), 'g', -1, 32))
	case float64:
		m.Kind, m.Value = metaKindFloat, []byte(strconv.FormatFloat(t, 'g', -1, 64))
	case time.Time:
		m.Kind, m.Value = metaKindTime, []byte(t.Format(time.RFC3339Nano))
	default:
		if j, err := json.Marshal(v); err == nil {
			m.Kind, m.Value = metaKindJSON, j
		} else {
			m.Value = []byte(fmt.Sprint(v))
		}
	}
	return m
}

// Decode returns the value MetaOf stored, with its type: string, []byte,
// bool, int64, uint64, float64, time.Time, or what encoding/json decodes
// (numbers as json.Number). A value that does not parse as its kind, or of
// a kind this build does not know, comes back as its text.
func (m Meta) Decode() any {
	s := string(m.Value)
	switch m.Kind {
	case metaKindBytes:
		return m.Value
	case metaKindBool:
		if v, err := strconv.ParseBool(s); err == nil {
			return v
		}
	case metaKindInt:
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return v
		}
	case metaKindUint:
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return v
		}
	case metaKindFloat:
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return v
		}
	case metaKindTime:
		if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return v
		}
	case metaKindJSON:
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			return v
		}
	}
	return s
}
