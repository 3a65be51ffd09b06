package brazehttp

import (
	"errors"
	"fmt"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
)

// ExpectedEnvelope describes the body Braze's custom HTTP Currents connector
// posts; it is quoted in every 400 answer so the sender knows what was wanted.
const ExpectedEnvelope = `a JSON object with an "events" array: {"events":[{"event_type":"...","id":"...","time":1732798800,"user":{...},"properties":{...}}, ...]}`

// EnvelopeError says why a body is not a Currents envelope.
type EnvelopeError struct {
	Reason string
	// Err is the scanner's error behind Reason, when there is one.
	Err error
}

func (e *EnvelopeError) Error() string {
	return "not a Braze Currents envelope: " + e.Reason
}

func (e *EnvelopeError) Unwrap() error { return e.Err }

// CountEvents checks that body is a Currents HTTP envelope, a JSON object
// whose "events" member is an array, and returns how many elements the
// array holds. The elements are validated as JSON but not looked at: a
// malformed event inside a good envelope is the mapping's business (it is
// flagged for the dead letter there), not a reason to refuse the whole
// request. It reads "events" as the currents decoder does, so the count is
// the number of events the pipeline will see: the last "events" member
// counts when there are several, and a key spelled with escapes
// ("ev\u0065nts") is another key.
//
// It runs on jsonscan, which validates without allocating, so counting costs
// no memory however many events a body holds: the bound on events in flight
// is enforced before any of them becomes a message.
func CountEvents(body []byte) (int, error) {
	rest := trimLeftSpace(body)
	switch {
	case len(rest) == 0:
		return 0, &EnvelopeError{Reason: "the body is empty or cut short"}
	case rest[0] != '{':
		if what := describeStart(rest); what != "" {
			return 0, &EnvelopeError{Reason: fmt.Sprintf("the body is JSON but not an object (it starts with %s)", what)}
		}
		return 0, &EnvelopeError{Reason: fmt.Sprintf("the body is not JSON (it starts with %q)", rest[0])}
	}
	s := jsonscan.NewScanner(body)
	s.SkipSpace()
	it := jsonscan.NewObjectIter(s, 0)
	if err := it.Open(); err != nil {
		return 0, scanErr(err, body)
	}
	count, found := 0, false
	for {
		more, err := it.NextKey()
		if err != nil {
			return 0, scanErr(err, body)
		}
		if !more {
			break
		}
		if it.KeyEsc || string(it.Key) != "events" {
			if err := it.ReadValue(); err != nil {
				return 0, scanErr(err, body)
			}
			continue
		}
		if it.Peek() != '[' {
			if err := it.ReadValue(); err != nil {
				return 0, scanErr(err, body)
			}
			return 0, &EnvelopeError{Reason: fmt.Sprintf(`"events" is %s, not an array`, describeKind(it.Kind))}
		}
		// Counted as the array is validated, in the same pass: the events
		// are the whole body, and a second walk over them cost as much as
		// the first.
		arr := it.NestedArray()
		n, err := countElements(&arr)
		it.EndNestedArray(&arr)
		if err != nil {
			return 0, scanErr(err, body)
		}
		count, found = n, true
	}
	end := it.Scanner()
	if err := end.End(); err != nil {
		return 0, &EnvelopeError{Reason: "unexpected data after the JSON object", Err: err}
	}
	if !found {
		return 0, &EnvelopeError{Reason: `the object has no "events" member`}
	}
	return count, nil
}

// countElements validates the array it stands at and counts its elements.
func countElements(it *jsonscan.ArrayIter) (int, error) {
	if err := it.Open(); err != nil {
		return 0, err
	}
	n := 0
	for {
		more, err := it.Next()
		if err != nil || !more {
			return n, err
		}
		n++
	}
}

// scanErr turns a scanner error into the reason of a 400: a body that ends
// in the middle of a value is "cut short" (a sender that lost part of its
// body), anything else "not valid JSON" with the offset.
func scanErr(err error, body []byte) error {
	var syn *jsonscan.SyntaxError
	if errors.As(err, &syn) {
		if syn.Offset >= len(body) {
			return &EnvelopeError{Reason: fmt.Sprintf("the JSON is cut short (the body ends at byte %d inside the object)", len(body)), Err: err}
		}
		return &EnvelopeError{Reason: fmt.Sprintf("the body is not valid JSON (%s at byte %d)", syn.Msg, syn.Offset), Err: err}
	}
	return &EnvelopeError{Reason: "the body is not valid JSON", Err: err}
}

func trimLeftSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// describeStart names the JSON value that rest, a body that is not an
// object, starts with, or returns "" when it starts with no JSON value. The
// first token is enough for the answer.
func describeStart(rest []byte) string {
	switch c := rest[0]; {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	case hasPrefix(rest, "true"), hasPrefix(rest, "false"):
		return "a boolean"
	case hasPrefix(rest, "null"):
		return "null"
	}
	return ""
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

func describeKind(k jsonscan.Kind) string {
	switch k {
	case jsonscan.KindObject:
		return "an object"
	case jsonscan.KindArray:
		return "an array"
	case jsonscan.KindString:
		return "a string"
	case jsonscan.KindNumber:
		return "a number"
	case jsonscan.KindBool:
		return "a boolean"
	case jsonscan.KindNull:
		return "null"
	}
	return k.String()
}
