package brazehttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ExpectedEnvelope describes the body Braze's custom HTTP Currents connector
// posts; it is quoted in every 400 answer so the sender knows what was wanted.
const ExpectedEnvelope = `a JSON object with an "events" array: {"events":[{"event_type":"...","id":"...","time":1732798800,"user":{...},"properties":{...}}, ...]}`

// EnvelopeError says why a body is not a Currents envelope.
type EnvelopeError struct {
	Reason string
}

func (e *EnvelopeError) Error() string {
	return "not a Braze Currents envelope: " + e.Reason
}

// CountEvents checks that body is a Currents HTTP envelope, a JSON object
// whose "events" member is an array, and returns how many elements the
// array holds. The elements themselves are not looked at: a malformed event
// inside a good envelope is the mapping's business (it is flagged for the
// dead letter there), not a reason to refuse the whole request. When the
// object holds "events" more than once, the last one counts, as it does for
// the currents decoder.
func CountEvents(body []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return 0, envelopeErr(err, "the body is not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return 0, &EnvelopeError{Reason: fmt.Sprintf("the body is JSON but not an object (it starts with %s)", describeToken(tok))}
	}
	count, found := 0, false
	var skip json.RawMessage
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return 0, envelopeErr(err, "the body is not valid JSON")
		}
		key, _ := keyTok.(string)
		if key != "events" {
			if err := dec.Decode(&skip); err != nil {
				return 0, envelopeErr(err, "the body is not valid JSON")
			}
			continue
		}
		tok, err := dec.Token()
		if err != nil {
			return 0, envelopeErr(err, "the body is not valid JSON")
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return 0, &EnvelopeError{Reason: fmt.Sprintf(`"events" is %s, not an array`, describeToken(tok))}
		}
		n := 0
		for dec.More() {
			if err := dec.Decode(&skip); err != nil {
				return 0, envelopeErr(err, "the body is not valid JSON")
			}
			n++
		}
		if _, err := dec.Token(); err != nil { // ']'
			return 0, envelopeErr(err, "the body is not valid JSON")
		}
		count, found = n, true
	}
	if _, err := dec.Token(); err != nil { // '}'
		return 0, envelopeErr(err, "the body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, &EnvelopeError{Reason: "unexpected data after the JSON object"}
	}
	if !found {
		return 0, &EnvelopeError{Reason: `the object has no "events" member`}
	}
	return count, nil
}

func envelopeErr(err error, reason string) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return &EnvelopeError{Reason: fmt.Sprintf("%s (%s at byte %d)", reason, syn.Error(), syn.Offset)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if reason == "the body is not JSON" {
			return &EnvelopeError{Reason: "the body is empty or cut short"}
		}
		return &EnvelopeError{Reason: "the JSON is cut short"}
	}
	return &EnvelopeError{Reason: reason + " (" + err.Error() + ")"}
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}
