package backlog

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// Every value a Benthos message's metadata can hold comes back with its
// type through the stored form.
func TestMetaValueRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 28, 13, 0, 0, 123456789, time.UTC)
	for _, c := range []struct {
		in   any
		want any
		kind byte
	}{
		{"path/to/x.avro", "path/to/x.avro", 's'},
		{[]byte{0, 1, 2}, []byte{0, 1, 2}, 'b'},
		{true, true, 't'},
		{7, int64(7), 'i'},
		{int32(-7), int64(-7), 'i'},
		{int64(1) << 62, int64(1) << 62, 'i'},
		{uint(7), uint64(7), 'u'},
		{uint64(1) << 63, uint64(1) << 63, 'u'},
		{float32(3.14), 3.14, 'f'},
		{2.5, 2.5, 'f'},
		{at, at, 'T'},
		{map[string]any{"a": 1}, map[string]any{"a": json.Number("1")}, 'j'},
		{[]any{"x", 2.5}, []any{"x", json.Number("2.5")}, 'j'},
	} {
		m := MetaOf("k", c.in)
		if m.Key != "k" || m.Kind != c.kind {
			t.Errorf("%#v stored as key %q kind %q, want kind %q", c.in, m.Key, m.Kind, c.kind)
		}
		if got := m.Decode(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%#v came back as %#v (%T), want %#v (%T)", c.in, got, got, c.want, c.want)
		}
	}
}

// A value with no JSON form is kept as its text; a value that does not parse
// as its kind, or of a kind this build does not know, comes back as text
// rather than being lost.
func TestMetaValueFallsBackToText(t *testing.T) {
	if m := MetaOf("k", make(chan int)); m.Kind != 's' || m.Decode() == nil {
		t.Errorf("a channel: %+v", m)
	}
	for _, m := range []Meta{{Key: "k", Kind: 'i', Value: []byte("seven")}, {Key: "k", Kind: 'Z', Value: []byte("later")}} {
		if got := m.Decode(); got != string(m.Value) {
			t.Errorf("%+v came back as %#v, want its text", m, got)
		}
	}
}
