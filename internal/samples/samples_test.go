package samples

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the timezone check must not depend on the host's zoneinfo

	"github.com/linkedin/goavro/v2"

	"github.com/currents-segment/currents-segment/internal/spec"
)

// filled returns the record with every schema field present, nil where null,
// which is how goavro decodes a row.
func filled(t *testing.T, eventType string, rec map[string]any) map[string]any {
	t.Helper()
	s := mustSchema(eventType)
	out := make(map[string]any, len(s.fields))
	for _, f := range s.fields {
		out[f.name] = rec[f.name]
	}
	return out
}

func TestEveryTypeParses(t *testing.T) {
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	withHTTP := 0
	for typ := range events {
		if _, ok := spec.Example(typ, "http"); ok {
			withHTTP++
		}
	}
	if got := len(Types(ShapeStorage)); got != len(events) {
		t.Fatalf("storage types: got %d, want the contract's %d", got, len(events))
	}
	if got := len(Types(ShapeHTTPEvent)); got != withHTTP {
		t.Fatalf("HTTP types: got %d, want the %d with an HTTP example", got, withHTTP)
	}
	for _, typ := range Types(ShapeHTTPBatch) {
		if strings.HasSuffix(typ, "campaigns.Abort") || strings.HasSuffix(typ, "canvas.Abort") {
			t.Errorf("legacy %s in the HTTP types", typ)
		}
	}
	for _, typ := range Types(ShapeStorage) {
		if _, err := AvroCodec(typ); err != nil {
			t.Error(err)
		}
	}
}

func TestRecordsRoundTripThroughAvro(t *testing.T) {
	g := New(7)
	for _, typ := range Types(ShapeStorage) {
		codec, err := AvroCodec(typ)
		if err != nil {
			t.Fatal(err)
		}
		s := mustSchema(typ)
		for i := range 200 {
			rec := g.Record(typ)
			for _, f := range s.fields {
				if !f.nullable && rec[f.name] == nil {
					t.Fatalf("%s: required field %s not set", typ, f.name)
				}
			}
			native, err := ToAvroNative(typ, rec)
			if err != nil {
				t.Fatalf("%s #%d: %v", typ, i, err)
			}
			bin, err := codec.BinaryFromNative(nil, native)
			if err != nil {
				t.Fatalf("%s #%d: encode: %v", typ, i, err)
			}
			decoded, rest, err := codec.NativeFromBinary(bin)
			if err != nil || len(rest) != 0 {
				t.Fatalf("%s #%d: decode: %v (%d bytes left)", typ, i, err, len(rest))
			}
			back, err := FromAvroNative(typ, decoded.(map[string]any))
			if err != nil {
				t.Fatal(err)
			}
			if want := filled(t, typ, rec); !reflect.DeepEqual(back, want) {
				t.Fatalf("%s #%d: round trip differs\n got %#v\nwant %#v", typ, i, back, want)
			}
		}
	}
}

func TestOCFFilesReadBack(t *testing.T) {
	g := New(11)
	for _, comp := range []string{CompressionNull, CompressionDeflate, CompressionSnappy} {
		for _, typ := range Types(ShapeStorage) {
			recs := make([]map[string]any, 25)
			for i := range recs {
				recs[i] = g.Record(typ)
			}
			var buf bytes.Buffer
			if err := WriteOCF(&buf, typ, recs, WithCompression(comp), WithBlockSize(10)); err != nil {
				t.Fatalf("%s %s: %v", comp, typ, err)
			}
			var again bytes.Buffer
			if err := WriteOCF(&again, typ, recs, WithCompression(comp), WithBlockSize(10)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Fatalf("%s %s: two writes of the same records differ", comp, typ)
			}
			r, err := goavro.NewOCFReader(&buf)
			if err != nil {
				t.Fatalf("%s %s: %v", comp, typ, err)
			}
			if r.CompressionName() != comp {
				t.Errorf("%s: compression %q", typ, r.CompressionName())
			}
			schema, _ := spec.AvroSchema(typ)
			if r.Codec().Schema() != string(schema) {
				t.Errorf("%s: file schema is not the contract's", typ)
			}
			var i int
			for r.Scan() {
				v, err := r.Read()
				if err != nil {
					t.Fatal(err)
				}
				got, err := FromAvroNative(typ, v.(map[string]any))
				if err != nil {
					t.Fatal(err)
				}
				if want := filled(t, typ, recs[i]); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s %s record %d differs", comp, typ, i)
				}
				i++
			}
			if r.Err() != nil || i != len(recs) {
				t.Fatalf("%s %s: read %d of %d records: %v", comp, typ, i, len(recs), r.Err())
			}
		}
	}
}

func TestToAvroNativeRejectsBadRecords(t *testing.T) {
	const typ = "users.messages.email.Click"
	good := New(1).Record(typ)
	cases := map[string]func(map[string]any){
		"missing required": func(r map[string]any) { delete(r, "email_address") },
		"wrong type":       func(r map[string]any) { r["time"] = "yesterday" },
		"unknown field":    func(r map[string]any) { r["event_type"] = typ },
		"int overflow":     func(r map[string]any) { r["time"] = int64(1) << 40 },
		"null array item":  func(r map[string]any) { r["suspected_bot_click_reason"] = []any{nil} },
	}
	for name, spoil := range cases {
		rec := make(map[string]any, len(good))
		for k, v := range good {
			rec[k] = v
		}
		spoil(rec)
		if _, err := ToAvroNative(typ, rec); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Records decoded from JSON carry float64 numbers and []any arrays.
	b, _ := json.Marshal(good)
	var fromJSON map[string]any
	json.Unmarshal(b, &fromJSON)
	if _, err := ToAvroNative(typ, fromJSON); err != nil {
		t.Errorf("JSON-decoded record: %v", err)
	}
}

func TestHTTPEventShape(t *testing.T) {
	g := New(3)
	for _, typ := range Types(ShapeHTTPEvent) {
		for range 20 {
			rec := g.Record(typ)
			ev := HTTPEvent(typ, rec)
			for k := range ev {
				switch k {
				case "event_type", "id", "time", "user", "properties":
				default:
					t.Fatalf("%s: unexpected top-level key %q", typ, k)
				}
			}
			if ev["event_type"] != typ || ev["id"] != rec["id"] || ev["time"] != rec["time"] {
				t.Fatalf("%s: top level %v", typ, ev)
			}
			for k, v := range ev["user"].(map[string]any) {
				if !httpUserKeys[k] || v == nil {
					t.Fatalf("%s: user.%s = %v", typ, k, v)
				}
			}
			props := ev["properties"].(map[string]any)
			if obj := customObjects[typ]; obj != "" {
				// The custom properties are an object over HTTP.
				var want map[string]any
				json.Unmarshal([]byte(rec["properties"].(string)), &want)
				got, _ := props[obj].(map[string]any)
				if len(want) == 0 && got != nil || len(want) > 0 && !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: %s = %v, the record's properties %v", typ, obj, props[obj], rec["properties"])
				}
				if props["properties"] != nil {
					t.Fatalf("%s: the JSON-encoded properties are in the HTTP event too", typ)
				}
			}
			for k, v := range rec {
				if k == "properties" && customObjects[typ] != "" {
					continue
				}
				inProps := props[k] != nil
				want := v != nil && !httpUserKeys[k] && k != "id" && k != "time"
				if inProps != want {
					t.Fatalf("%s: field %s (%v) in properties: %v", typ, k, v, inProps)
				}
			}
		}
	}
}

// TestHTTPEventMatchesContractExamples converts each storage example of the
// contract and compares it with the HTTP example of the same event.
func TestHTTPEventMatchesContractExamples(t *testing.T) {
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range Types(ShapeHTTPEvent) {
		var storage, want map[string]any
		sb, _ := spec.Example(typ, "storage")
		hb, _ := spec.Example(typ, "http")
		if err := json.Unmarshal(sb, &storage); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(hb, &want); err != nil {
			t.Fatal(err)
		}
		absent := map[string]bool{} // in the schema, missing from Braze's HTTP example
		floats := map[string]bool{}
		for _, f := range events[typ].Fields {
			floats[f.Name] = f.AvroType == "float"
			if strings.Contains(f.HTTP, "absent in HTTP example") {
				absent[f.Name] = true
			}
		}
		httpOnly := map[string]bool{}
		for _, k := range events[typ].HTTPOnlyFields {
			httpOnly[k] = true
		}
		got := HTTPEvent(typ, storage)
		for _, part := range []string{"user", "properties"} {
			g, w := got[part].(map[string]any), want[part].(map[string]any)
			for k, v := range g {
				if absent[k] {
					continue
				}
				if floats[k] {
					// An Avro float decodes to its float32 value (3.14 →
					// 3.140000104904175) where the HTTP example shows 3.14:
					// the same float32 (the contract README says so).
					gf, gok := v.(float64)
					wf, wok := w[k].(float64)
					if gok && wok && float32(gf) == float32(wf) {
						continue
					}
				}
				if !reflect.DeepEqual(v, w[k]) {
					t.Errorf("%s: %s.%s = %v, example has %v", typ, part, k, v, w[k])
				}
			}
			for k := range w {
				if _, ok := g[k]; !ok && !httpOnly[k] {
					t.Errorf("%s: %s.%s of the example not produced", typ, part, k)
				}
			}
		}
		for _, k := range []string{"event_type", "id", "time"} {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s: %s = %v, example has %v", typ, k, got[k], want[k])
			}
		}
	}
}

func TestIDsUniqueOver100k(t *testing.T) {
	seen := make(map[string]struct{}, 100000)
	for _, rec := range New(5).Mix(100000, ShapeStorage) {
		id := rec["id"].(string)
		if _, dup := seen[id]; dup {
			t.Fatalf("duplicate id %s after %d events", id, len(seen))
		}
		seen[id] = struct{}{}
	}
}

func TestMixYieldsTheShape(t *testing.T) {
	for typ, ev := range New(8).Mix(100, ShapeHTTPEvent) {
		if ev["event_type"] != typ || ev["user"] == nil || ev["properties"] == nil {
			t.Fatalf("HTTP mix yielded %v", ev)
		}
	}
	for typ, rec := range New(8).Mix(100, ShapeStorage) {
		if _, err := ToAvroNative(typ, rec); err != nil {
			t.Fatalf("storage mix yielded a record that is not a %s: %v", typ, err)
		}
	}
}

func TestMixCoversEveryType(t *testing.T) {
	for _, shape := range []Shape{ShapeStorage, ShapeHTTPEvent} {
		count := map[string]int{}
		for typ := range New(9).Mix(500, shape) {
			count[typ]++
		}
		for _, typ := range Types(shape) {
			if count[typ] == 0 {
				t.Errorf("%s: %s missing from a mix of 500", shape, typ)
			}
		}
		if len(count) != len(Types(shape)) {
			t.Errorf("%s: %d types in the mix, want %d", shape, len(count), len(Types(shape)))
		}
		// The frequent types must dominate the rare ones.
		if count["users.messages.email.Send"] <= count["users.campaigns.EnrollInControl"] {
			t.Errorf("%s: email sends (%d) not more frequent than control enrollments (%d)",
				shape, count["users.messages.email.Send"], count["users.campaigns.EnrollInControl"])
		}
	}
}

func TestDeterministic(t *testing.T) {
	write := func(seed int64, shape Shape) []byte {
		var buf bytes.Buffer
		if err := New(seed).WriteJSONLines(&buf, 300, shape); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, shape := range []Shape{ShapeStorage, ShapeHTTPEvent, ShapeHTTPBatch} {
		a, b := write(42, shape), write(42, shape)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: same seed, different output", shape)
		}
		if bytes.Equal(a, write(43, shape)) {
			t.Errorf("%s: different seeds, same output", shape)
		}
	}
}

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	brazeIDRE  = regexp.MustCompile(`^[0-9a-f]{24}$`)
	externalRE = regexp.MustCompile(`^user-[0-9]{6}$`)
	e164RE     = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	emailRE    = regexp.MustCompile(`^[a-z0-9._+]+@[a-z0-9.-]+\.[a-z]+$`)
	urlRE      = regexp.MustCompile(`^https://[^\s]+$`)
)

func TestValuesLookReal(t *testing.T) {
	g := New(13)
	// Fields whose nulls follow from the event (a Canvas message has no
	// campaign, a web user no advertising id) are counted apart from those
	// null at the default rate.
	structural := map[string]bool{"external_user_id": true, "ad_id": true, "ad_id_type": true,
		"ad_tracking_enabled": true, "push_token": true}
	for _, n := range []string{"campaign_id", "campaign_name", "message_variation_id", "message_variation_name",
		"canvas_id", "canvas_name", "canvas_variation_id", "canvas_variation_name", "canvas_step_id",
		"canvas_step_name", "canvas_step_message_variation_id", "canvas_api_id", "canvas_variation_api_id",
		"canvas_step_api_id"} {
		structural[n] = true
	}
	var events, anonymous, nullable, nulls, plainNullable, plainNulls, escapes, nonASCII int
	start, end := g.start, g.start+g.span
	for typ, rec := range g.Mix(20000, ShapeStorage) {
		events++
		s := mustSchema(typ)
		for _, f := range s.fields {
			v, present := rec[f.name]
			if f.nullable {
				nullable++
				if v == nil {
					nulls++
				}
				if !structural[f.name] && nullPercent(f.name) == nullPercent("") {
					plainNullable++
					if v == nil {
						plainNulls++
					}
				}
			}
			if f.name == "external_user_id" && v == nil {
				anonymous++
			}
			if v == nil {
				if present && !f.nullable {
					t.Fatalf("%s: required %s is nil", typ, f.name)
				}
				continue
			}
			str, _ := v.(string)
			if strings.ContainsAny(str, "\"\\\n\t") {
				escapes++
			}
			if strings.ContainsFunc(str, func(r rune) bool { return r > 127 }) {
				nonASCII++
			}
			check := func(re *regexp.Regexp) {
				if !re.MatchString(str) {
					t.Fatalf("%s: %s = %q does not match %s", typ, f.name, str, re)
				}
			}
			switch f.name {
			case "id":
				check(uuidRE)
			case "user_id", "dispatch_id":
				check(brazeIDRE)
			case "external_user_id":
				check(externalRE)
			case "email_address":
				check(emailRE)
			case "to_phone_number", "from_phone_number", "user_phone_number", "inbound_phone_number", "phone_number":
				check(e164RE)
			case "url", "short_url":
				check(urlRE)
			case "platform":
				if str != "ios" && str != "android" && str != "web" {
					t.Fatalf("platform %q", str)
				}
			case "timezone":
				if _, err := time.LoadLocation(str); err != nil {
					t.Fatalf("timezone %q: %v", str, err)
				}
			case "time":
				if n := v.(int64); n < start || n >= end {
					t.Fatalf("time %d outside [%d, %d)", n, start, end)
				}
			case "media_urls", "suspected_bot_click_reason":
				if n := len(v.([]any)); n > 3 {
					t.Fatalf("%s has %d items", f.name, n)
				}
			}
		}
	}
	t.Logf("%d events: %.1f%% anonymous; nullable fields %.1f%% null in all, %.1f%% at the default rate; "+
		"%d strings to escape, %d non-ASCII", events, 100*float64(anonymous)/float64(events),
		100*float64(nulls)/float64(nullable), 100*float64(plainNulls)/float64(plainNullable), escapes, nonASCII)
	if p := float64(anonymous) / float64(events); p < 0.05 || p > 0.16 {
		t.Errorf("anonymous share %.3f, want about 0.10", p)
	}
	if p := float64(plainNulls) / float64(plainNullable); p < 0.10 || p > 0.20 {
		t.Errorf("null share of nullable fields at the default rate %.3f, want 0.10 to 0.20", p)
	}
	if p := float64(nulls) / float64(nullable); p > 0.5 {
		t.Errorf("nullable fields null %.3f of the time: they should be present most of the time", p)
	}
	if escapes == 0 || nonASCII == 0 {
		t.Errorf("free text never needs escaping (%d) or is never non-ASCII (%d)", escapes, nonASCII)
	}
}

func TestHTTPBatches(t *testing.T) {
	var buf bytes.Buffer
	if err := New(2).WriteHTTPBatches(&buf, 250, 100); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	total := 0
	for _, l := range lines {
		var body struct {
			Events []map[string]any `json:"events"`
		}
		if err := json.Unmarshal([]byte(l), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Events) == 0 || len(body.Events) > 100 {
			t.Fatalf("batch of %d", len(body.Events))
		}
		total += len(body.Events)
	}
	if total != 250 {
		t.Fatalf("%d events, want 250", total)
	}
}

func TestParseShape(t *testing.T) {
	for _, s := range []Shape{ShapeStorage, ShapeHTTPEvent, ShapeHTTPBatch} {
		if got, err := ParseShape(s.String()); err != nil || got != s {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := ParseShape("xml"); err == nil {
		t.Error("xml accepted")
	}
}

func BenchmarkWriteJSONLines(b *testing.B) {
	for _, shape := range []Shape{ShapeStorage, ShapeHTTPEvent, ShapeHTTPBatch} {
		b.Run(shape.String(), func(b *testing.B) {
			g := New(1)
			b.ReportAllocs()
			for b.Loop() {
				if err := g.WriteJSONLines(io.Discard, 1000, shape); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
