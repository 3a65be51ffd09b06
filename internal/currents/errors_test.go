package currents

import (
	"errors"
	"testing"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// TestErrorsKeepTheirCause: the text is one line for a log, while errors.As
// and errors.Is reach what was wrong, for a dead-letter reader or a metric.
func TestErrorsKeepTheirCause(t *testing.T) {
	m := mustMapper(t, Options{})
	mapErr := func(t *testing.T, in string) error {
		t.Helper()
		rs := m.Map([]byte(in), nil)
		if len(rs) != 1 || rs[0].Outcome != Failed {
			t.Fatalf("%s: %+v, want one failure", in, rs)
		}
		var ee *EventError
		if !errors.As(rs[0].Err, &ee) {
			t.Fatalf("%s: %T is not an *EventError", in, rs[0].Err)
		}
		return rs[0].Err
	}

	t.Run("invalid JSON", func(t *testing.T) {
		err := mapErr(t, `{"id": "x",`)
		var ne *NotEventError
		var se *jsonscan.SyntaxError
		if !errors.As(err, &ne) || ne.InBatch || !errors.As(err, &se) || se.Offset != 11 {
			t.Fatalf("%v: want a whole-message NotEventError caused by the scanner's SyntaxError at byte 11", err)
		}
	})
	t.Run("valid JSON of another shape", func(t *testing.T) {
		for _, in := range []string{`"hello"`, `{"events":[7]}`} {
			rs := m.Map([]byte(in), nil)
			err := rs[0].Err
			var ne *NotEventError
			var shape *ShapeError
			var se *jsonscan.SyntaxError
			if !errors.As(err, &ne) || !errors.As(err, &shape) || errors.As(err, &se) {
				t.Fatalf("%s: %v: want a NotEventError caused by a ShapeError, and no SyntaxError (the JSON is valid)", in, err)
			}
		}
	})
	t.Run("wrong kind", func(t *testing.T) {
		err := mapErr(t, `{"event_type":"users.messages.email.Click","id":"e1","time":1,"user":{"user_id":"u"},"properties":{"is_amp":"yes"}}`)
		var ke *KindError
		var ee *EventError
		if !errors.As(err, &ke) || ke.Want != "a boolean" || ke.Got != jsonscan.KindString || ke.Value != `"yes"` || !errors.As(err, &ee) || ee.Field != "is_amp" {
			t.Fatalf("%v: want a KindError on is_amp", err)
		}
	})
	t.Run("no type", func(t *testing.T) {
		if err := mapErr(t, `{"id":"e1","time":1,"user_id":"u"}`); !errors.Is(err, ErrNoEventType) {
			t.Fatalf("%v: want ErrNoEventType", err)
		}
		if err := mapErr(t, `{"id":"e1","time":1,"user_id":"u"}`); !errors.As(err, new(*MissingError)) {
			t.Fatalf("%v: want a MissingError", err)
		}
	})
	t.Run("unknown type", func(t *testing.T) {
		var ue *UnknownEventTypeError
		if err := mapErr(t, `{"event_type":"x.Y","id":"e","time":1,"user_id":"u"}`); !errors.As(err, &ue) || ue.Name != "x.Y" {
			t.Fatalf("%v: want an UnknownEventTypeError", err)
		}
	})
	t.Run("time out of range", func(t *testing.T) {
		var te *TimeRangeError
		if err := mapErr(t, `{"event_type":"users.messages.email.Send","id":"e","time":-5,"user_id":"u"}`); !errors.As(err, &te) || te.Value != "-5" {
			t.Fatalf("%v: want a TimeRangeError", err)
		}
	})
}
