package currents

import (
	"encoding/json"
	"io/fs"
	"reflect"
	"sort"
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

func contractEvents(t *testing.T) map[string]spec.EventType {
	t.Helper()
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// contractExamples lists the contract's example files as (type, shape).
func contractExamples(t *testing.T) [][2]string {
	t.Helper()
	entries, err := fs.ReadDir(spec.FS(), "examples")
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".json")
		dot := strings.LastIndexByte(name, '.')
		out = append(out, [2]string{name[:dot], name[dot+1:]})
	}
	return out
}

// assertOutcome checks a result against the contract: skipped for the
// reason it gives, or mapped to the call it gives.
func assertOutcome(t *testing.T, r Result, skip string, call map[string]any) {
	t.Helper()
	if skip != "" {
		if r.Outcome != Skipped || r.SkipReason != skip {
			t.Fatalf("want skipped as %s, got %+v", skip, r)
		}
		return
	}
	assertCall(t, r, call)
}

// Every example of the contract, in its shape (and, for storage, also with
// Avro-JSON union wrapping): selected by name (with anonymous_users: send, so
// that the examples without an external user id map too), it maps exactly as
// the contract says; under the default options it maps the same when the
// contract puts its type in Braze's connector, and is skipped as not
// selected, never failed, when not.
func TestContractEveryTypeEveryShape(t *testing.T) {
	events := contractEvents(t)
	def := mustMapper(t, Options{})
	examples := contractExamples(t)
	storage := map[string]bool{}
	for _, ex := range examples {
		typ, shape := ex[0], ex[1]
		et, ok := events[typ]
		if !ok {
			t.Fatalf("example of %s, a type events.json does not have", typ)
		}
		if shape == "storage" {
			storage[typ] = true
		}
		raw, _ := spec.Example(typ, shape)
		t.Run(typ+"/"+shape, func(t *testing.T) {
			flat := flatten(t, raw)
			want := expectedCall(t, typ, et, flat)
			selected := mustMapper(t, Options{Events: []string{typ}, AnonymousUsers: AnonymousSend})
			// Storage records carry no event_type: the type comes from the
			// object path, as the processor passes it.
			r := mapOne(t, selected, raw, typ)
			skip := contract.Skip(flat, true)
			assertOutcome(t, r, skip, want)
			if r.EventType != typ || r.EventID != want["messageId"] || (skip == "" && r.SegmentEvent != want["event"]) {
				t.Fatalf("result metadata: type %q id %q event %q", r.EventType, r.EventID, r.SegmentEvent)
			}
			if shape == "storage" {
				assertOutcome(t, mapOne(t, selected, avroJSONWrap(t, typ, raw), typ), skip, want)
			}
			r = mapOne(t, def, raw, typ)
			if contract.InDefault(typ, et) {
				assertOutcome(t, r, contract.Skip(flat, false), want)
			} else if r.Outcome != Skipped || r.SkipReason != SkipNotSelected || !r.Known || r.EventType != typ {
				t.Fatalf("outside the default selection: want skipped as %s, got %+v", SkipNotSelected, r)
			}
		})
	}
	if len(storage) != len(events) {
		t.Fatalf("%d types have a storage example, the contract has %d types", len(storage), len(events))
	}
}

// Where Braze publishes no Segment name the event is the type itself (the
// legacy Abort types aside), and never a name of another type; event_names
// renames it. A custom event is the exception: it is sent under its own name,
// and a rename of its type, which would give every custom event one name, is
// refused when the mapper is made.
func TestContractTypesWithoutPublishedName(t *testing.T) {
	events := contractEvents(t)
	n := 0
	for _, typ := range spec.TypeNames(events) {
		et := events[typ]
		if contract.Named(et) {
			continue
		}
		n++
		ct, ok := DefaultCatalog().Lookup(typ)
		if !ok {
			t.Fatalf("%s not in the catalog", typ)
		}
		if want := contract.EventName(typ, et); ct.SegmentEvent != want {
			t.Errorf("%s: event %q, want %q", typ, ct.SegmentEvent, want)
		}
		raw, _ := spec.Example(typ, "storage")
		renames := map[string]string{typ: "Renamed " + typ}
		if field := contract.NameField(typ); field != "" {
			_, err := NewMapper(DefaultCatalog(), Options{Events: []string{typ}, EventNames: renames})
			if err == nil || !strings.Contains(err.Error(), "event_names: "+typ) || !strings.Contains(err.Error(), field) {
				t.Errorf("%s: a rename of the type: err %v, want a config error naming the type and its %s field", typ, err, field)
			}
			r := mapOne(t, mustMapper(t, Options{Events: []string{typ}}), raw, typ)
			if want := contract.EventNameOf(typ, et, flatten(t, raw)); r.SegmentEvent != want || decodeCall(t, r)["event"] != want || want == "" {
				t.Errorf("%s: event %q (call %s), want its own %s %q", typ, r.SegmentEvent, r.Track, field, want)
			}
			continue
		}
		m := mustMapper(t, Options{Events: []string{typ}, EventNames: renames, AnonymousUsers: AnonymousSend})
		r := mapOne(t, m, raw, typ)
		if r.SegmentEvent != "Renamed "+typ {
			t.Errorf("%s: event_names did not rename it: %+v", typ, r)
		}
		if contract.Skip(flatten(t, raw), true) == "" && decodeCall(t, r)["event"] != "Renamed "+typ {
			t.Errorf("%s: the call is not renamed: %s", typ, r.Track)
		}
	}
	if n == 0 {
		t.Fatal("the contract has no type without a published name")
	}
}

// sampleValue is a value of a field's Avro type, and one of another type.
func sampleValue(avroType string) (good, bad any) {
	switch avroType {
	case "boolean":
		return true, "yes"
	case "int", "long":
		return 1764334800, "soon"
	case "float":
		return 2.5, "x"
	}
	return "v-" + avroType, 7
}

// The fields Braze added after the samples (since v11/v12) are known to
// their types: type-checked, sent under properties: all, and under
// properties: connector only for a type that sends every field (their
// Segment inclusion is not documented).
func TestContractFieldsAddedSince(t *testing.T) {
	events := contractEvents(t)
	checked := 0
	for _, typ := range spec.TypeNames(events) {
		et := events[typ]
		for _, f := range et.Fields {
			if f.Since == "" {
				continue
			}
			checked++
			raw, _ := spec.Example(typ, "storage")
			var rec map[string]any
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatal(err)
			}
			good, bad := sampleValue(f.AvroType)
			rec[f.Name] = good
			withField, _ := json.Marshal(rec)
			rec[f.Name] = bad
			withBad, _ := json.Marshal(rec)

			connector := mapOne(t, mustMapper(t, Options{Events: []string{typ}, AnonymousUsers: AnonymousSend}), withField, typ)
			_, sent := decodeCall(t, connector)["properties"].(map[string]any)[f.Name]
			if sent != !contract.Named(et) {
				t.Errorf("%s.%s (%s) under properties: connector: sent %v", typ, f.Name, f.Since, sent)
			}
			all := mapOne(t, mustMapper(t, Options{Events: []string{typ}, Properties: PropertiesAll, AnonymousUsers: AnonymousSend}), withField, typ)
			if v := decodeCall(t, all)["properties"].(map[string]any)[f.Name]; v == nil {
				t.Errorf("%s.%s (%s) not sent under properties: all", typ, f.Name, f.Since)
			}
			r := mapOne(t, mustMapper(t, Options{Events: []string{typ}}), withBad, typ)
			if r.Outcome != Failed || !strings.Contains(r.Err.Error(), `field "`+f.Name+`"`) {
				t.Errorf("%s.%s of the wrong type: %+v", typ, f.Name, r)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no field with since in the contract")
	}
}

// The "done when": one Braze batch holding the HTTP example of every
// type the contract has one for, through the Mapper with default options
// (anonymous_users: skip is enough: every HTTP example names its external
// user id but agentconsole.ToolInvocation's, which has no user at all and is
// outside the default selection), maps in order what the contract says and
// fails no event; the counts by outcome are what the contract gives.
func TestContractEveryHTTPExampleInOneBatch(t *testing.T) {
	events := contractEvents(t)
	type expect struct {
		typ  string
		skip string // "" for mapped
		call map[string]any
	}
	var batch []json.RawMessage
	var want []expect
	for _, typ := range spec.TypeNames(events) {
		raw, ok := spec.Example(typ, "http")
		if !ok {
			continue
		}
		batch = append(batch, raw)
		flat := flatten(t, raw)
		e := expect{typ: typ}
		if !contract.InDefault(typ, events[typ]) {
			e.skip = SkipNotSelected
		} else if e.skip = contract.Skip(flat, false); e.skip == "" {
			e.call = expectedCall(t, typ, events[typ], flat)
		}
		want = append(want, e)
	}
	body, _ := json.Marshal(map[string]any{"events": batch})
	rs := mustMapper(t, Options{}).Map(body, nil)
	if len(rs) != len(want) {
		t.Fatalf("got %d results for %d events", len(rs), len(want))
	}
	got, expected := map[string]int{}, map[string]int{}
	for i, r := range rs {
		w := want[i]
		if w.skip == "" {
			expected["mapped"]++
		} else {
			expected["skipped "+w.skip]++
		}
		switch r.Outcome {
		case Mapped:
			got["mapped"]++
		case Skipped:
			got["skipped "+r.SkipReason]++
		case Failed:
			got["failed"]++
			t.Errorf("event %d (%s) failed: %v", i, w.typ, r.Err)
			continue
		}
		if r.EventType != w.typ {
			t.Fatalf("event %d: type %s, want %s (order lost)", i, r.EventType, w.typ)
		}
		if w.skip == "" {
			assertCall(t, r, w.call)
		} else if r.Outcome != Skipped || r.SkipReason != w.skip {
			t.Errorf("event %d (%s): %+v, want skipped as %s", i, w.typ, r, w.skip)
		}
	}
	keys := make([]string, 0, len(expected))
	for k := range expected {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-30s %3d (contract: %d)", k, got[k], expected[k])
	}
	if !reflect.DeepEqual(got, expected) {
		t.Fatalf("counts %v, the contract gives %v", got, expected)
	}
	if expected["mapped"] == 0 || expected["skipped "+SkipNotSelected] == 0 {
		t.Fatalf("the contract's examples should both map and fall outside the default: %v", expected)
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

// Fidelity across shapes: for every type with both examples, the storage
// record and the HTTP event of the same event give the same call. What may
// differ is what the contract says the samples differ in: a field only one
// shape carries (events.json's http_only_fields, and the fields whose http
// column says they are absent from the HTTP example). The custom properties
// are not among those: the JSON-encoded string of storage and the object of
// HTTP give the same properties, and so do an Avro float and the number the
// HTTP event shows (3.14).
func TestContractStorageAndHTTPGiveTheSameCall(t *testing.T) {
	events := contractEvents(t)
	compared := 0
	for _, typ := range spec.TypeNames(events) {
		et := events[typ]
		httpRaw, ok := spec.Example(typ, "http")
		if !ok {
			continue
		}
		storageRaw, _ := spec.Example(typ, "storage")
		oneShape := map[string]bool{}
		for _, f := range et.HTTPOnlyFields {
			oneShape[f] = true
		}
		for _, f := range et.Fields {
			if strings.Contains(f.HTTP, "absent in HTTP example") {
				oneShape[f.Name] = true
			}
		}
		if _, nested, ok, _ := contract.CustomProperties(typ, nil); ok {
			// The containers of the custom properties are never sent.
			delete(oneShape, nested)
			delete(oneShape, "properties")
		}
		for _, mode := range []PropertyMode{PropertiesConnector, PropertiesAll} {
			m := mustMapper(t, Options{Events: []string{typ}, AnonymousUsers: AnonymousSend, Properties: mode})
			h, s := mapOne(t, m, httpRaw, typ), mapOne(t, m, storageRaw, typ)
			if h.Outcome != s.Outcome || h.SkipReason != s.SkipReason || h.SegmentEvent != s.SegmentEvent {
				t.Errorf("%s (mode %d): HTTP %v %q %q, storage %v %q %q", typ, mode, h.Outcome, h.SkipReason, h.SegmentEvent, s.Outcome, s.SkipReason, s.SegmentEvent)
				continue
			}
			if h.Outcome != Mapped {
				continue
			}
			hc, sc := decodeCall(t, h), decodeCall(t, s)
			for _, c := range []map[string]any{hc, sc} {
				props, _ := c["properties"].(map[string]any)
				for k := range oneShape {
					delete(props, k)
				}
				dropOneShapeContext(c, et, oneShape)
			}
			if !reflect.DeepEqual(hc, sc) {
				hb, _ := json.MarshalIndent(hc, "", " ")
				sb, _ := json.MarshalIndent(sc, "", " ")
				t.Errorf("%s (mode %d): the shapes give different calls\n   HTTP: %s\nstorage: %s", typ, mode, hb, sb)
			}
			compared++
		}
	}
	if compared < 2*80 {
		t.Fatalf("only %d calls compared", compared)
	}
}

// dropOneShapeContext removes from a call's context what a field only one
// shape carries gives it (the HTTP-only device_model of some push types).
func dropOneShapeContext(call map[string]any, et spec.EventType, oneShape map[string]bool) {
	seg := et.Segment
	ctx, _ := call["context"].(map[string]any)
	if seg == nil || ctx == nil {
		return
	}
	if dev, _ := ctx["device"].(map[string]any); dev != nil {
		for k, field := range seg.ContextDevice {
			if oneShape[field] {
				delete(dev, k)
			}
		}
		if len(dev) == 0 {
			delete(ctx, "device")
		}
	}
	if traits, _ := ctx["traits"].(map[string]any); traits != nil {
		if seg.TraitsEmail != nil && oneShape[*seg.TraitsEmail] {
			delete(traits, "email")
		}
		if seg.TraitsPhone != nil && oneShape[*seg.TraitsPhone] {
			delete(traits, "phone")
		}
		if len(traits) == 0 {
			delete(ctx, "traits")
		}
	}
	if len(ctx) == 0 {
		delete(call, "context")
	}
}
