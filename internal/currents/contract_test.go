package currents

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/currents-segment/currents-segment/internal/contract"
	"github.com/currents-segment/currents-segment/internal/spec"
)

// The expectations here come from package contract: events.json and the
// example events read with encoding/json, independently of the mapper's code.

func flatten(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	flat, err := contract.Flatten(raw)
	if err != nil {
		t.Fatal(err)
	}
	return flat
}

func expectedCall(t *testing.T, typ string, et spec.EventType, flat map[string]any) map[string]any {
	t.Helper()
	call, err := contract.ExpectedCall(typ, et, flat)
	if err != nil {
		t.Fatal(err)
	}
	return call
}

func assertCall(t *testing.T, r Result, want map[string]any) {
	t.Helper()
	got := decodeCall(t, r)
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
