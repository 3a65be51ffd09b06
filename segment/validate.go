package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Validation rules, named in every ValidationError so a dead-letter consumer
// can group rejects by cause.
const (
	RuleJSONObject    = "json_object"
	RuleFieldType     = "field_type"
	RuleTypeTrack     = "type_track"
	RuleEventRequired = "event_required"
	RuleIdentity      = "user_or_anonymous_id"
	RuleMessageIDLen  = "message_id_length"
	RuleMessageSize   = "message_size"
)

// ValidationError is why a message was refused before sending. Segment would
// have answered 400 to the whole request, or 200 and dropped the message:
// either way it must go to a dead letter instead of the API.
type ValidationError struct {
	Rule   string
	Detail string
	// MessageID and Event identify the message when they could be read.
	MessageID string
	Event     string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid Segment track (messageId %s, event %s): %s: %s",
		quoteShort(e.MessageID), quoteShort(e.Event), e.Rule, e.Detail)
}

// Validate checks raw against the Tracking API's rules for a track call and
// returns its identifying fields. It never modifies raw.
func Validate(raw []byte) (Track, error) {
	var t Track
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return t, &ValidationError{Rule: RuleJSONObject, Detail: "the message is not a JSON object"}
	}
	if err := json.Unmarshal(trimmed, &t); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return t, &ValidationError{Rule: RuleFieldType, MessageID: t.MessageID, Event: t.Event,
				Detail: fmt.Sprintf("field %s must be a string, not %s", typeErr.Field, typeErr.Value)}
		}
		return t, &ValidationError{Rule: RuleJSONObject, Detail: "the message is not valid JSON: " + err.Error()}
	}
	t.Raw = raw
	fail := func(rule, detail string) (Track, error) {
		return t, &ValidationError{Rule: rule, Detail: detail, MessageID: t.MessageID, Event: t.Event}
	}
	if len(raw) > MaxMessageBytes {
		return fail(RuleMessageSize, "the message is "+strconv.Itoa(len(raw))+" bytes, over the "+strconv.Itoa(MaxMessageBytes)+" byte limit")
	}
	if t.Type != "track" {
		return fail(RuleTypeTrack, `"type" must be "track", got `+quoteShort(t.Type))
	}
	if t.Event == "" {
		return fail(RuleEventRequired, `"event" must be a non-empty string`)
	}
	if t.UserID == "" && t.AnonymousID == "" {
		return fail(RuleIdentity, `one of "userId" or "anonymousId" must be a non-empty string`)
	}
	if n := utf8.RuneCountInString(t.MessageID); n > MaxMessageIDLength {
		return fail(RuleMessageIDLen, `"messageId" is `+strconv.Itoa(n)+" characters, over "+strconv.Itoa(MaxMessageIDLength))
	}
	return t, nil
}
