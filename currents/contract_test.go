package currents

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/spec"
)

// The expectations here are computed from events.json (the contract) and the
// example events with encoding/json, independently of the mapper's code.

var legacySegmentNames = map[string]string{
	"users.campaigns.Abort": "Campaign Aborted",
	"users.canvas.Abort":    "Canvas Aborted",
}

// flatten merges an HTTP event's top level, user and properties, or returns
// a storage record as is.
func flatten(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	flat := map[string]any{}
	for k, v := range ev {
		switch k {
		case "user", "properties":
			for kk, vv := range v.(map[string]any) {
				flat[kk] = vv
			}
		default:
			flat[k] = v
		}
	}
	return flat
}

func present(v any) bool {
	return v != nil && v != ""
}

// expectedCall is what Braze's connector sends for a flattened event.
func expectedCall(t *testing.T, typ string, et spec.EventType, flat map[string]any) map[string]any {
	t.Helper()
	call := map[string]any{
		"type":      "track",
		"messageId": flat["id"],
		"timestamp": time.Unix(int64(flat["time"].(float64)), 0).UTC().Format(time.RFC3339),
	}
	if present(flat["external_user_id"]) {
		call["userId"] = flat["external_user_id"]
	}
	if present(flat["user_id"]) {
		call["anonymousId"] = flat["user_id"]
	}
	props := map[string]any{}
	context := map[string]any{}
	if et.Segment == nil {
		call["event"] = legacySegmentNames[typ]
		for _, f := range et.Fields {
			switch f.Name {
			case "id", "user_id", "external_user_id", "time", "timezone":
				continue
			}
			if present(flat[f.Name]) {
				props[f.Name] = flat[f.Name]
			}
		}
	} else {
		s := et.Segment
		call["event"] = s.Event
		source := map[string]string{}
		for from, to := range s.Renames {
			source[to] = from
		}
		for _, p := range s.Properties {
			field := p
			if from, ok := source[p]; ok {
				field = from
			}
			if present(flat[field]) {
				props[p] = flat[field]
			}
		}
		traits := map[string]any{}
		if s.TraitsEmail != nil && present(flat[*s.TraitsEmail]) {
			traits["email"] = flat[*s.TraitsEmail]
		}
		if s.TraitsPhone != nil && present(flat[*s.TraitsPhone]) {
			traits["phone"] = flat[*s.TraitsPhone]
		}
		if len(traits) > 0 {
			context["traits"] = traits
		}
		device := map[string]any{}
		for k, field := range s.ContextDevice {
			if present(flat[field]) {
				device[k] = flat[field]
			}
		}
		if len(device) > 0 {
			context["device"] = device
		}
	}
	if len(context) > 0 {
		call["context"] = context
	}
	if len(props) > 0 {
		call["properties"] = props
	}
	return call
}

func mapOne(t *testing.T, m *Mapper, raw []byte, hint string) Result {
	t.Helper()
	rs := m.Map(raw, func() string { return hint })
	if len(rs) != 1 {
		t.Fatalf("got %d results, want 1", len(rs))
	}
	return rs[0]
}

func assertCall(t *testing.T, r Result, want map[string]any) {
	t.Helper()
	if r.Outcome != Mapped {
		t.Fatalf("outcome %v, err %v, skip %q", r.Outcome, r.Err, r.SkipReason)
	}
	var got map[string]any
	if err := json.Unmarshal(r.Track, &got); err != nil {
		t.Fatalf("mapper wrote invalid JSON: %v\n%s", err, r.Track)
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("mapped call differs from the contract\n got: %s\nwant: %s", gb, wb)
	}
}

func TestContractEveryTypeEveryShape(t *testing.T) {
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMapper(DefaultCatalog(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	shapes := 0
	for _, typ := range spec.TypeNames(events) {
		et := events[typ]
		for _, shape := range []string{"http", "storage"} {
			raw, ok := spec.Example(typ, shape)
			if !ok {
				if shape == "http" && et.Segment != nil {
					t.Errorf("%s: no HTTP example", typ)
				}
				continue
			}
			t.Run(typ+"/"+shape, func(t *testing.T) {
				want := expectedCall(t, typ, et, flatten(t, raw))
				// Storage records carry no event_type: the type comes from the
				// object path, as the processor passes it.
				r := mapOne(t, m, raw, typ)
				assertCall(t, r, want)
				if r.EventType != typ || r.EventID != want["messageId"] || r.SegmentEvent != want["event"] {
					t.Fatalf("result metadata: type %q id %q event %q", r.EventType, r.EventID, r.SegmentEvent)
				}
				if shape == "storage" {
					wrapped := avroJSONWrap(t, typ, raw)
					assertCall(t, mapOne(t, m, wrapped, typ), want)
				}
			})
			shapes++
		}
	}
	if shapes != 48+50 {
		t.Fatalf("checked %d examples, want 98 (48 HTTP, 50 storage)", shapes)
	}
}

// avroJSONWrap rewrites a storage example as Avro's JSON encoding writes it:
// every non-null value of a ["null", T] union wrapped as {"T": value}, and so
// are the items of arrays of ["null","string"].
func avroJSONWrap(t *testing.T, typ string, raw []byte) []byte {
	t.Helper()
	schemaBytes, err := spec.AvroSchema(typ)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Fields []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(schemaBytes, &schema); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	for _, f := range schema.Fields {
		v, ok := rec[f.Name]
		if !ok || v == nil {
			continue
		}
		var union []json.RawMessage
		if json.Unmarshal(f.Type, &union) != nil {
			continue // not a union: Avro JSON writes it plainly
		}
		branch := strings.Trim(string(union[1]), `"`)
		if strings.HasPrefix(branch, "{") {
			var arr struct {
				Items json.RawMessage `json:"items"`
			}
			_ = json.Unmarshal(union[1], &arr)
			branch = "array"
			if strings.HasPrefix(string(arr.Items), "[") {
				items := v.([]any)
				for i, it := range items {
					if it != nil {
						items[i] = map[string]any{"string": it}
					}
				}
			}
		}
		rec[f.Name] = map[string]any{branch: v}
	}
	out, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestContractHTTPEnvelopeKeepsOrder(t *testing.T) {
	events, _ := spec.Events()
	m, _ := NewMapper(DefaultCatalog(), Options{})
	var batch []json.RawMessage
	var wants []map[string]any
	for _, typ := range spec.TypeNames(events) {
		raw, ok := spec.Example(typ, "http")
		if !ok {
			continue
		}
		batch = append(batch, raw)
		wants = append(wants, expectedCall(t, typ, events[typ], flatten(t, raw)))
	}
	body, _ := json.Marshal(map[string]any{"events": batch})
	rs := m.Map(body, nil)
	if len(rs) != len(wants) {
		t.Fatalf("got %d results for %d events", len(rs), len(wants))
	}
	for i := range rs {
		assertCall(t, rs[i], wants[i])
	}
}
