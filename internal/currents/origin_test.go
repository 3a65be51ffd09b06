package currents

import "testing"

func TestEventTypeFromPath(t *testing.T) {
	for path, want := range map[string]string{
		"s3://bucket/currents/dataexport.prod-03.S3.integration.5f/event_type=users.messages.email.Send/date=2025-11-28-13/0_2_abc.avro": "users.messages.email.Send",
		`C:\exports\event_type=users.canvas.Entry\date=x\1.avro`:                                                                         "users.canvas.Entry",
		"/data/events.jsonl": "",
	} {
		if got := eventTypeFromPath(path); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

// TestOriginTypesOnlyEventsWithoutOne: an event's own event_type wins over
// the origin; for a record without one, the path wins over the default.
func TestOriginTypesOnlyEventsWithoutOne(t *testing.T) {
	m := mustMapper(t, Options{})
	flat := `{"id":"e","time":1,"user_id":"u","external_user_id":"x"}`
	own := `{"event_type":"users.messages.email.Open","id":"e","time":1,"user_id":"u","external_user_id":"x"}`
	byPath := &Origin{Path: "/x/event_type=users.messages.email.Click/date=d/0.avro", DefaultType: "users.messages.email.Send"}
	for _, c := range []struct {
		name, in string
		from     *Origin
		want     string
	}{
		{"own type over origin", own, byPath, "users.messages.email.Open"},
		{"path over default", flat, byPath, "users.messages.email.Click"},
		{"default without a typed path", flat, &Origin{Path: "/data/events.jsonl", DefaultType: "users.messages.email.Send"}, "users.messages.email.Send"},
	} {
		rs := m.Map([]byte(c.in), c.from)
		if len(rs) != 1 || rs[0].Outcome != Mapped || rs[0].EventType != c.want {
			t.Errorf("%s: %+v, want %s", c.name, rs, c.want)
		}
	}
	for _, from := range []*Origin{nil, {}, {Path: "/data/events.jsonl"}} {
		if rs := m.Map([]byte(flat), from); len(rs) != 1 || rs[0].Outcome != Failed {
			t.Errorf("origin %+v typed a record: %+v", from, rs)
		}
	}
}
