package currents

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
	"github.com/currents-segment/currents-segment/internal/segment"
	"github.com/currents-segment/currents-segment/internal/spec"
)

// FuzzMap feeds the decoder arbitrary bytes, seeded with every example of the
// contract. Run it with: go test ./currents -run '^$' -fuzz FuzzMap -fuzztime 60s
func FuzzMap(f *testing.F) {
	events, err := spec.Events()
	if err != nil {
		f.Fatal(err)
	}
	for _, typ := range spec.TypeNames(events) {
		for _, shape := range []string{"http", "storage"} {
			if raw, ok := spec.Example(typ, shape); ok {
				f.Add(raw, typ)
				if shape == "http" { // and as Braze posts it
					f.Add(append(append([]byte(`{"events":[`), raw...), "]}"...), "")
				}
			}
		}
	}
	f.Add([]byte(`{"events":[{"event_type":"users.messages.email.Send","id":"a","time":1,"user":{"user_id":"u","external_user_id":"x"}}]}`), "")
	// Nested as deep as the scanner takes in an envelope, in one and flat:
	// with properties: all the call puts "extra" one level deeper than
	// the event held it.
	deep := strings.Repeat(`[`, jsonscan.MaxDepth-3) + strings.Repeat(`]`, jsonscan.MaxDepth-3)
	f.Add([]byte(`{"events":[{"event_type":"users.messages.email.Send","id":"a","time":1,"user":{"user_id":"u","external_user_id":"x"},"properties":{"p":`+deep+`},"extra":`+deep+`}]}`), "")
	f.Add([]byte(`{"event_type":"users.messages.email.Send","id":"a","time":1,"user":{"user_id":"u","external_user_id":"x"},"properties":{"p":`+deep+`},"extra":`+deep+`}`), "")
	f.Add([]byte(`{"id":"a","time":1,"user_id":{"string":"u"},"external_user_id":{"string":"x"},"media_urls":{"array":[{"string":"m"},null]}}`), "users.messages.sms.InboundReceive")
	m, err := NewMapper(DefaultCatalog(), Options{AnonymousUsers: AnonymousSend, Properties: PropertiesAll, UnknownTypes: UnknownPassthrough})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, hint string) {
		results := m.Map(data, &Origin{DefaultType: hint})
		// RFC 8259 JSON, which the scanner accepts: json.Valid lets
		// invalid UTF-8 through (decoding replaces it).
		valid := json.Valid(data) && utf8.Valid(data)
		for _, r := range results {
			switch r.Outcome {
			case Mapped:
				var call map[string]any
				if err := json.Unmarshal(r.Track, &call); err != nil {
					t.Fatalf("mapped to invalid JSON: %v\n%s", err, r.Track)
				}
				if call["type"] != "track" || call["event"] == "" || call["messageId"] == "" || call["timestamp"] == "" {
					t.Fatalf("incomplete call: %s", r.Track)
				}
				if call["userId"] == nil && call["anonymousId"] == nil {
					t.Fatalf("call without identity: %s", r.Track)
				}
				// What the segment output trusts without validating
				// (plugin/conforming_call.go): a call of an event in an
				// envelope, within the limits the mapper does not know.
				if r.InEnvelope && len(r.Track) <= segment.MaxMessageBytes && utf8.RuneCountInString(r.EventID) <= segment.MaxMessageIDLength {
					if _, err := segment.Validate(r.Track); err != nil {
						t.Fatalf("a call the output would trust fails Validate: %v\n%s", err, r.Track)
					}
				}
			case Failed:
				var se *jsonscan.SyntaxError
				if valid && errors.As(r.Err, &se) {
					t.Fatalf("valid JSON refused as invalid: %v", r.Err)
				}
			case Skipped:
			default:
				t.Fatalf("no outcome: %+v", r)
			}
		}
		if !valid && (len(results) != 1 || results[0].Outcome != Failed) {
			t.Fatalf("invalid JSON accepted: %q", data)
		}
	})
}
