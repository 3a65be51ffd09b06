package currents

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/currents-segment/currents-segment/internal/jsonscan"
	"github.com/currents-segment/currents-segment/internal/spec"
)

// The contract's two examples of a custom event and of a purchase, one per
// shape, give one call: the custom event under its own name, the custom
// properties (a JSON-encoded string in storage, an object over HTTP) as
// properties of their own, the purchase's product_id, price (3.14 in both,
// though storage decodes the Avro float as 3.140000104904175) and currency,
// and neither container.
func TestMapCustomPropertiesBothShapesOneCall(t *testing.T) {
	for typ, want := range map[string]struct {
		event string
		props map[string]any
	}{
		"users.behaviors.CustomEvent": {"name", map[string]any{"name": "name"}},
		"users.behaviors.Purchase":    {"Purchased", map[string]any{"product_id": "product_id", "price": 3.14, "currency": "USD"}},
	} {
		m := mustMapper(t, Options{Events: []string{typ}})
		var calls []map[string]any
		for _, shape := range []string{"http", "storage"} {
			raw, _ := spec.Example(typ, shape)
			r := mapOne(t, m, raw, typ)
			call := decodeCall(t, r)
			if call["event"] != want.event || r.SegmentEvent != want.event {
				t.Errorf("%s/%s: event %v (result %q), want %q", typ, shape, call["event"], r.SegmentEvent, want.event)
			}
			props := call["properties"].(map[string]any)
			for k, v := range map[string]any{"stringProperty": "properties", "numberProperty": 1.0, "listProperty": []any{"a"}} {
				if !reflect.DeepEqual(props[k], v) {
					t.Errorf("%s/%s: custom property %s = %v, want %v", typ, shape, k, props[k], v)
				}
			}
			for k, v := range want.props {
				if !reflect.DeepEqual(props[k], v) {
					t.Errorf("%s/%s: property %s = %v, want %v", typ, shape, k, props[k], v)
				}
			}
			for _, k := range []string{"properties", "custom_properties", "purchase_properties"} {
				if _, ok := props[k]; ok {
					t.Errorf("%s/%s: the container %s is sent: %s", typ, shape, k, r.Track)
				}
			}
			calls = append(calls, call)
		}
		if !reflect.DeepEqual(calls[0], calls[1]) {
			a, _ := json.Marshal(calls[0])
			b, _ := json.Marshal(calls[1])
			t.Errorf("%s: the shapes give different calls\n   HTTP: %s\nstorage: %s", typ, a, b)
		}
	}
}

// storagePurchase is a purchase storage record with the given properties
// field (JSON text, so null and non-strings can be given).
func storagePurchase(properties string) []byte {
	return []byte(`{"id":"p-1","user_id":"u","external_user_id":"x","time":1764334800,"product_id":"SKU-1","price":9.5,"currency":"EUR","platform":"ios","properties":` + properties + `}`)
}

func httpPurchase(purchaseProperties string) []byte {
	return []byte(`{"event_type":"users.behaviors.Purchase","id":"p-1","time":1764334800,"user":{"user_id":"u","external_user_id":"x"},"properties":{"product_id":"SKU-1","price":9.5,"currency":"EUR","platform":"ios","purchase_properties":` + purchaseProperties + `}}`)
}

// A custom property named like a standard property does not replace it: the
// standard one keeps its place, and the custom one is kept, under its name,
// in purchase_properties (custom_properties for a custom event), the same in
// both shapes. A name that is standard only under properties: all (platform,
// which the connector sends as context.device.type) collides only there.
func TestMapCustomPropertiesThatCollide(t *testing.T) {
	custom := `{"price":12,"product_id":"other","coupon":"SAVE5","purchase_properties":"x","platform":"web"}`
	quoted, _ := json.Marshal(custom)
	for _, tc := range []struct {
		mode   PropertyMode
		top    map[string]any
		nested map[string]any
	}{
		{PropertiesConnector,
			map[string]any{"price": 9.5, "product_id": "SKU-1", "currency": "EUR", "coupon": "SAVE5", "platform": "web"},
			map[string]any{"price": 12.0, "product_id": "other", "purchase_properties": "x"}},
		{PropertiesAll,
			map[string]any{"price": 9.5, "product_id": "SKU-1", "currency": "EUR", "coupon": "SAVE5", "platform": "ios"},
			map[string]any{"price": 12.0, "product_id": "other", "purchase_properties": "x", "platform": "web"}},
	} {
		m := mustMapper(t, Options{Events: []string{"users.behaviors.Purchase"}, Properties: tc.mode})
		for shape, raw := range map[string][]byte{"storage": storagePurchase(string(quoted)), "http": httpPurchase(custom)} {
			props := decodeCall(t, mapOne(t, m, raw, "users.behaviors.Purchase"))["properties"].(map[string]any)
			for k, v := range tc.top {
				if !reflect.DeepEqual(props[k], v) {
					t.Errorf("mode %d %s: %s = %v, want %v", tc.mode, shape, k, props[k], v)
				}
			}
			if !reflect.DeepEqual(props["purchase_properties"], tc.nested) {
				t.Errorf("mode %d %s: purchase_properties = %v, want %v", tc.mode, shape, props["purchase_properties"], tc.nested)
			}
		}
	}

	// A custom event sends every field: any of them is standard.
	m := mustMapper(t, Options{Events: []string{"users.behaviors.CustomEvent"}})
	raw := `{"event_type":"users.behaviors.CustomEvent","id":"c-1","time":1764334800,"user":{"user_id":"u","external_user_id":"x"},"properties":{"name":"played","app_id":"app","custom_properties":{"name":"other","app_id":"a2","os_version":"1","level":3}}}`
	props := decodeCall(t, mapOne(t, m, []byte(raw), ""))["properties"].(map[string]any)
	want := map[string]any{"name": "played", "app_id": "app", "level": 3.0,
		"custom_properties": map[string]any{"name": "other", "app_id": "a2", "os_version": "1"}}
	if !reflect.DeepEqual(props, want) {
		t.Errorf("custom event: properties %v, want %v", props, want)
	}
}

// Custom properties whose names are Avro union branches ({"map": "home"})
// are custom properties over HTTP, not a union to unwrap, in either shape.
func TestMapCustomPropertiesNamedLikeAvroBranches(t *testing.T) {
	m := mustMapper(t, Options{Events: []string{"users.behaviors.Purchase"}})
	for name, raw := range map[string][]byte{
		"http":    httpPurchase(`{"map":"home"}`),
		"storage": storagePurchase(`"{\"map\":\"home\"}"`),
	} {
		props := decodeCall(t, mapOne(t, m, raw, "users.behaviors.Purchase"))["properties"].(map[string]any)
		if props["map"] != "home" {
			t.Errorf("%s: properties %v, want map: home", name, props)
		}
	}
}

// An empty string, null, "null" or "{}" as the storage properties, and null
// or {} as the HTTP object, mean no custom properties: the call is the
// purchase's standard one.
func TestMapCustomPropertiesNone(t *testing.T) {
	m := mustMapper(t, Options{Events: []string{"users.behaviors.Purchase"}})
	want := map[string]any{"product_id": "SKU-1", "price": 9.5, "currency": "EUR"}
	for name, raw := range map[string][]byte{
		`storage ""`:     storagePurchase(`""`),
		`storage null`:   storagePurchase(`null`),
		`storage "null"`: storagePurchase(`"null"`),
		`storage "{}"`:   storagePurchase(`"{ }"`),
		`storage absent`: []byte(`{"id":"p-1","user_id":"u","external_user_id":"x","time":1764334800,"product_id":"SKU-1","price":9.5,"currency":"EUR"}`),
		`http null`:      httpPurchase(`null`),
		`http {}`:        httpPurchase(`{}`),
	} {
		r := mapOne(t, m, raw, "users.behaviors.Purchase")
		if props := decodeCall(t, r)["properties"]; !reflect.DeepEqual(props, want) {
			t.Errorf("%s: properties %v, want %v", name, props, want)
		}
	}
}

// A storage properties string that is not a JSON object fails its event
// alone: the error names the event id, the field and what was expected, and
// errors.As reaches a *CustomPropertiesError that says whether the text is
// JSON at all, but no *jsonscan.SyntaxError: the event is valid JSON, and
// that error marks a broken message. In a batch, the next event still maps.
func TestMapCustomPropertiesMalformed(t *testing.T) {
	m := mustMapper(t, Options{Events: []string{"users.behaviors.Purchase"}})
	for properties, syntax := range map[string]bool{
		`"not json"`:         true,
		`"{\"a\":"`:          true,
		`"{\"a\":1} trail"`:  true,
		`"{\"a\":1,}"`:       true,
		`"[1,2]"`:            false,
		`"\"a string\""`:     false,
		`"42"`:               false,
		`"1,2"`:              true,
		`"  "`:               true,
		`"{\"a\":{\"b\":[}"`: true,
	} {
		r := mapOne(t, m, storagePurchase(properties), "users.behaviors.Purchase")
		var ee *EventError
		var ce *CustomPropertiesError
		if r.Outcome != Failed || !errors.As(r.Err, &ee) || !errors.As(r.Err, &ce) {
			t.Errorf("properties %s: %+v, want failed with a *CustomPropertiesError", properties, r)
			continue
		}
		var se *jsonscan.SyntaxError
		if errors.As(r.Err, &se) || ce.NotJSON != syntax || syntax != strings.Contains(r.Err.Error(), "invalid JSON at byte") {
			t.Errorf("properties %s: NotJSON %v, want %v; a syntax error in the chain: %v (%v)", properties, ce.NotJSON, syntax, se != nil, r.Err)
		}
		msg := r.Err.Error()
		for _, part := range []string{`id "p-1"`, "users.behaviors.Purchase", `field "properties"`, "expected a JSON object of custom properties"} {
			if !strings.Contains(msg, part) {
				t.Errorf("properties %s: error %q does not say %q", properties, msg, part)
			}
		}
		if ee.Field != "properties" || ee.EventID != "p-1" || r.Track != nil {
			t.Errorf("properties %s: %+v", properties, ee)
		}
	}

	// Over HTTP the custom properties must be an object.
	r := mapOne(t, m, httpPurchase(`"{\"a\":1}"`), "")
	var ke *KindError
	if r.Outcome != Failed || !errors.As(r.Err, &ke) || !strings.Contains(r.Err.Error(), `field "purchase_properties": expected an object`) {
		t.Errorf("HTTP purchase_properties as a string: %+v", r)
	}

	// One bad event of a batch fails alone.
	body := `{"events":[` + string(httpPurchase(`{"a":1}`)) + `,{"event_type":"users.behaviors.Purchase","id":"p-2","time":1764334800,"user_id":"u","external_user_id":"x","product_id":"S","price":1,"currency":"EUR","properties":"{oops"}` + `,` + string(httpPurchase(`{"b":2}`)) + `]}`
	rs := m.Map([]byte(body), nil)
	if len(rs) != 3 || rs[0].Outcome != Mapped || rs[1].Outcome != Failed || rs[2].Outcome != Mapped || !strings.Contains(rs[1].Err.Error(), `#1 of the batch (id "p-2"`) {
		t.Fatalf("batch with one malformed properties: %+v", rs)
	}
}

// A custom event is sent under its own name field, unescaped in the result
// and kept as JSON in the call; without one (absent, null, empty) it fails,
// naming the field.
func TestMapCustomEventName(t *testing.T) {
	m := mustMapper(t, Options{Events: []string{"users.behaviors.CustomEvent"}})
	ev := func(name string) []byte {
		return []byte(`{"id":"c-1","user_id":"u","external_user_id":"x","time":1764334800` + name + `,"properties":"{\"level\":2}"}`)
	}
	r := mapOne(t, m, ev(`,"name":"caf\u00e9 \"won\""`), "users.behaviors.CustomEvent")
	if call := decodeCall(t, r); call["event"] != `café "won"` || r.SegmentEvent != `café "won"` {
		t.Errorf("escaped name: call event %v, result %q", call["event"], r.SegmentEvent)
	}
	for _, name := range []string{``, `,"name":null`, `,"name":""`} {
		r := mapOne(t, m, ev(name), "users.behaviors.CustomEvent")
		var me *MissingError
		if r.Outcome != Failed || !errors.As(r.Err, &me) || !strings.Contains(r.Err.Error(), `(id "c-1", type users.behaviors.CustomEvent): field "name"`) {
			t.Errorf("name %q: %+v", name, r)
		}
		if me != nil && me.Empty != (name == `,"name":""`) {
			t.Errorf("name %q: %v", name, r.Err)
		}
	}
	if r := mapOne(t, m, ev(`,"name":7`), "users.behaviors.CustomEvent"); r.Outcome != Failed || !strings.Contains(r.Err.Error(), `field "name": expected a string`) {
		t.Errorf("a number as name: %+v", r)
	}
}

// agentconsole.ToolInvocation has no user at all: selected, it is skipped
// as no_user_identity under either anonymous_users setting (no setting could
// send it), never failed and never sent.
func TestMapToolInvocationHasNoUserIdentity(t *testing.T) {
	const typ = "agentconsole.ToolInvocation"
	for _, anon := range []AnonymousUsers{AnonymousSkip, AnonymousSend} {
		m := mustMapper(t, Options{Events: []string{typ}, AnonymousUsers: anon})
		for _, shape := range []string{"http", "storage"} {
			raw, ok := spec.Example(typ, shape)
			if !ok {
				t.Fatalf("no %s example of %s", shape, typ)
			}
			r := mapOne(t, m, raw, typ)
			if r.Outcome != Skipped || r.SkipReason != SkipNoIdentity || r.EventType != typ {
				t.Errorf("%s, anonymous %d: %+v, want skipped as %s", shape, anon, r, SkipNoIdentity)
			}
		}
	}
}

// An Avro float keeps the value a person sees: exactly a float32, it is
// written as the shortest decimal that reads back as that float32; any other
// number (more precise, an integer, beyond float32) is written as it came.
// Fields of other kinds are never rewritten.
func TestMapAvroFloatAsAPersonSeesIt(t *testing.T) {
	m := mustMapper(t, Options{Events: []string{"users.behaviors.Purchase"}})
	for in, want := range map[string]string{
		`3.140000104904175`:      `3.14`,
		`3.14`:                   `3.14`,
		`40.7127837`:             `40.7127837`,
		`19.989999771118164`:     `19.99`,
		`0.5`:                    `0.5`,
		`7`:                      `7`,
		`1e-7`:                   `1e-7`,
		`1.0000000116860974e-07`: `1e-07`,
		`1e300`:                  `1e300`,
	} {
		raw := []byte(`{"id":"p-1","user_id":"u","external_user_id":"x","time":1764334800,"product_id":"S","price":` + in + `,"currency":"EUR"}`)
		r := mapOne(t, m, raw, "users.behaviors.Purchase")
		if !strings.Contains(string(r.Track), `"price":`+want+`,`) && !strings.Contains(string(r.Track), `"price":`+want+`}`) {
			t.Errorf("price %s: %s, want %s", in, r.Track, want)
		}
	}
	// A float-looking value in a field that is not an Avro float.
	m = mustMapper(t, Options{Events: []string{"users.messages.email.Send"}, Properties: PropertiesAll})
	raw := []byte(`{"id":"e-1","user_id":"u","external_user_id":"x","time":1764334800,"email_address":"a@b.c","score":3.140000104904175}`)
	if r := mapOne(t, m, raw, "users.messages.email.Send"); !strings.Contains(string(r.Track), `"score":3.140000104904175`) {
		t.Errorf("an unknown field was rewritten: %s", r.Track)
	}
}
