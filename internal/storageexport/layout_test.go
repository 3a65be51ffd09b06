package storageexport

import (
	"testing"
	"time"
)

func TestParseKey(t *testing.T) {
	hour := time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)
	cases := []struct {
		key  string
		want Object
	}{
		{
			key:  "currents/dataexport.prod-01.S3.integration.abc/event_type=users.messages.email.Send/date=2026-11-28-13/484/us-east-1/f.avro",
			want: Object{EventType: "users.messages.email.Send", Hour: hour, SchemaID: "484"},
		},
		{
			// The layout of the bundled sample: no schema folder.
			key:  "currents/dataexport.prod-01.S3.integration.abc/event_type=users.canvas.Entry/date=2026-11-28-13/f.avro",
			want: Object{EventType: "users.canvas.Entry", Hour: hour},
		},
		{
			// Braze warns names may change: nothing in another layout is read.
			key:  "exports/2026/11/28/users.messages.email.Send/f.avro",
			want: Object{},
		},
		{
			// An hour that is not one is not an hour partition.
			key:  "x/event_type=users.canvas.Entry/date=yesterday/f.avro",
			want: Object{EventType: "users.canvas.Entry"},
		},
	}
	for _, c := range cases {
		got := ParseKey(c.key)
		c.want.Key = c.key
		if got.EventType != c.want.EventType || !got.Hour.Equal(c.want.Hour) || got.SchemaID != c.want.SchemaID || got.Key != c.key {
			t.Errorf("ParseKey(%q) = %+v, want %+v", c.key, got, c.want)
		}
	}
}

func TestEventTypeOfSchema(t *testing.T) {
	cases := []struct{ ns, name, want string }{
		{"dataexport.S3.inner.users.messages.email", "Send", "users.messages.email.Send"},
		{"dataexport.AzureBlob.inner.users.behaviors", "CustomEvent", "users.behaviors.CustomEvent"},
		{"dataexport.GCS.inner", "Thing", "Thing"},
		{"users.canvas", "Entry", "users.canvas.Entry"},
		{"", "Entry", "Entry"},
		{"x", "", ""},
	}
	for _, c := range cases {
		if got := EventTypeOfSchema(c.ns, c.name); got != c.want {
			t.Errorf("EventTypeOfSchema(%q, %q) = %q, want %q", c.ns, c.name, got, c.want)
		}
	}
}

func TestParseHour(t *testing.T) {
	cases := []struct {
		in    string
		until bool
		want  time.Time
	}{
		{"2026-11-28-13", false, time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)},
		{"2026-11-28", false, time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		{"2026-11-28", true, time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)},
		{"2026-11-28T13:45:00+01:00", false, time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)},
		{"", false, time.Time{}},
	}
	for _, c := range cases {
		got, err := ParseHour(c.in, c.until)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseHour(%q, %v) = %v, %v; want %v", c.in, c.until, got, err, c.want)
		}
	}
	if _, err := ParseHour("28/11/2026", false); err == nil {
		t.Error("ParseHour accepted 28/11/2026")
	}
}

func TestSelectionValidate(t *testing.T) {
	since := time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)
	s := Selection{Since: since, Until: since.Add(-time.Hour)}
	if err := s.Validate(); err == nil {
		t.Error("until before since was accepted")
	}
	s = Selection{Types: []string{"users/x"}}
	if err := s.Validate(); err == nil {
		t.Error("a type with a slash was accepted")
	}
	s = Selection{Since: since, Until: since, Types: []string{"users.canvas.Entry"}}
	if err := s.Validate(); err != nil {
		t.Errorf("a one-hour selection was refused: %v", err)
	}
}
