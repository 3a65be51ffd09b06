package segment

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
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
	// RuleWriteKey: the message's write key is missing (empty, or the null
	// an unset environment variable interpolates to) or could not be
	// resolved.
	RuleWriteKey = "write_key"
)

// ValidationError is why a message was refused before sending. Segment would
// have answered 400 to the whole request, or 200 and dropped the message:
// either way it must go to a dead letter instead of the API.
type ValidationError struct {
	Rule   string
	Detail string
	// Err is the cause, when there is one (the JSON scanner's error).
	Err error
	// MessageID and Event identify the message when they could be read.
	MessageID string
	Event     string
}

func (e *ValidationError) Error() string {
	if e.MessageID == "" && e.Event == "" {
		return fmt.Sprintf("invalid Segment track: %s: %s", e.Rule, e.Detail)
	}
	return fmt.Sprintf("invalid Segment track (messageId %s, event %s): %s: %s",
		quoteShort(e.MessageID), quoteShort(e.Event), e.Rule, e.Detail)
}

func (e *ValidationError) Unwrap() error { return e.Err }

// Validate checks raw against the Tracking API's rules for a track call and
// returns its identifying fields. It never modifies raw, and the returned
// strings do not point into it.
//
// One pass validates the whole message, as Segment answers 400 to the entire
// batch request when one message is not valid JSON, and reads the five
// top-level fields the rules need. How fields are read follows Segment's API,
// not encoding/json, where they differ:
//   - keys match exactly: "UserId" is not "userId" (encoding/json would have
//     filled UserID from it case-insensitively, and Segment would then have
//     dropped the message for lack of an identity);
//   - when a key repeats, the last value wins, a null included: a null (or
//     absent) field counts as empty;
//   - a field of the wrong type is refused even when a later duplicate is a
//     string, and the first in input order is the one reported;
//   - strings must be valid UTF-8, white space is only JSON's four bytes, and
//     nesting deeper than jsonscan.MaxDepth levels below the top object is
//     refused (see the jsonscan package).
func Validate(raw []byte) (Track, error) {
	s := jsonscan.NewScanner(raw)
	s.SkipSpace()
	if s.Peek() != '{' {
		return Track{}, &ValidationError{Rule: RuleJSONObject, Detail: "the message is not a JSON object"}
	}
	var f fields
	badField, badKind := -1, jsonscan.KindInvalid
	it := jsonscan.NewObjectIter(s, 0)
	err := it.Open()
	for err == nil {
		var more bool
		if more, err = it.Next(); err != nil || !more {
			break
		}
		id := fieldOf(it.Key, it.KeyEsc)
		if id < 0 {
			continue
		}
		switch it.Kind {
		case jsonscan.KindString:
			f[id] = field{content: it.Val[1 : len(it.Val)-1], esc: it.Esc}
		case jsonscan.KindNull:
			f[id] = field{}
		default:
			f[id] = field{}
			if badField < 0 {
				badField, badKind = id, it.Kind
			}
		}
	}
	if err == nil {
		end := it.Scanner()
		err = end.End()
	}
	if err != nil {
		return Track{}, &ValidationError{Rule: RuleJSONObject, Detail: "the message is not valid JSON: " + err.Error(), Err: err}
	}
	t := f.track()
	t.Raw = raw
	fail := func(rule, detail string) (Track, error) {
		return t, &ValidationError{Rule: rule, Detail: detail, MessageID: t.MessageID, Event: t.Event}
	}
	if badField >= 0 {
		return fail(RuleFieldType, "field "+fieldNames[badField]+" must be a string, not "+kindName(badKind))
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

// The top-level fields Validate reads, in the order of fieldNames.
const (
	fieldType = iota
	fieldEvent
	fieldMessageID
	fieldUserID
	fieldAnonymousID
	numFields
)

var fieldNames = [numFields]string{"type", "event", "messageId", "userId", "anonymousId"}

// fields holds them as scanned, indexed by those constants.
type fields [numFields]field

// field is one of them as scanned: the string's contents, still escaped
// when esc is set, pointing into the message; empty when the field is
// absent, null or not a string.
type field struct {
	content []byte
	esc     bool
}

// fieldOf returns which field a key (escaped form, without quotes) names,
// or -1.
func fieldOf(key []byte, esc bool) int {
	if esc {
		// An escape spells at most one byte of a name in at most six, so a
		// longer key cannot name a field; a shorter one is decoded on the
		// stack.
		if len(key) > 6*len("anonymousId") {
			return -1
		}
		var buf [6 * len("anonymousId")]byte
		key = jsonscan.AppendUnescaped(buf[:0], key)
	}
	switch string(key) {
	case "type":
		return fieldType
	case "event":
		return fieldEvent
	case "messageId":
		return fieldMessageID
	case "userId":
		return fieldUserID
	case "anonymousId":
		return fieldAnonymousID
	}
	return -1
}

// track decodes the fields into one string allocation, sliced into the four
// values, so a message costs one allocation whatever its fields hold. "type"
// is almost always "track" and then costs nothing.
func (f *fields) track() Track {
	var t Track
	switch ty := f[fieldType]; {
	case !ty.esc && string(ty.content) == "track":
		t.Type = "track"
	case ty.esc:
		t.Type = jsonscan.Unescape(ty.content)
	default:
		t.Type = string(ty.content)
	}
	// Decoding never lengthens a string, so the escaped lengths bound the
	// buffer and Grow is the only allocation.
	n := 0
	for id := fieldEvent; id < numFields; id++ {
		n += len(f[id].content)
	}
	if n == 0 {
		return t
	}
	var b strings.Builder
	b.Grow(n)
	var ends [numFields]int
	for id := fieldEvent; id < numFields; id++ {
		if c := f[id]; c.esc {
			var buf [128]byte
			b.Write(jsonscan.AppendUnescaped(buf[:0], c.content))
		} else {
			b.Write(c.content)
		}
		ends[id] = b.Len()
	}
	all := b.String()
	t.Event = all[:ends[fieldEvent]]
	t.MessageID = all[ends[fieldEvent]:ends[fieldMessageID]]
	t.UserID = all[ends[fieldMessageID]:ends[fieldUserID]]
	t.AnonymousID = all[ends[fieldUserID]:ends[fieldAnonymousID]]
	return t
}

// kindName names a JSON type in a field_type detail with the words
// encoding/json used, so the texts stay what dead-letter consumers saw.
func kindName(k jsonscan.Kind) string {
	if k == jsonscan.KindBool {
		return "bool"
	}
	return k.String()
}
