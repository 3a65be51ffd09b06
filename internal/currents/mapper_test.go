package currents

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const goodEmailSend = `{"event_type":"users.messages.email.Send","id":"ev-1","time":1764334800,` +
	`"user":{"user_id":"u-1","external_user_id":"ext-1","timezone":"Europe/Paris","device_id":"d-1"},` +
	`"properties":{"email_address":"a@example.com","campaign_name":"Black \"Friday\" ✓","send_id":"s-1","ip_pool":"","message_extras":null,"os_version":"17.1"}}`

func TestMapConnectorDefaults(t *testing.T) {
	got := decodeCall(t, mapOne(t, mustMapper(t, Options{}), []byte(goodEmailSend), ""))
	want := map[string]any{
		"type": "track", "event": "Email Sent", "messageId": "ev-1", "userId": "ext-1", "anonymousId": "u-1",
		"timestamp": "2025-11-28T13:00:00Z",
		"context":   map[string]any{"traits": map[string]any{"email": "a@example.com"}},
		// ip_pool "" and message_extras null are absent; timezone and
		// os_version are not in the connector's list.
		"properties": map[string]any{"campaign_name": `Black "Friday" ✓`, "send_id": "s-1", "device_id": "d-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestMapPropertiesAll(t *testing.T) {
	got := decodeCall(t, mapOne(t, mustMapper(t, Options{Properties: PropertiesAll}), []byte(goodEmailSend), ""))
	ctx := got["context"].(map[string]any)
	if ctx["timezone"] != "Europe/Paris" {
		t.Fatalf("context.timezone = %v", ctx["timezone"])
	}
	props := got["properties"].(map[string]any)
	for k, v := range map[string]any{"os_version": "17.1", "email_address": "a@example.com", "send_id": "s-1", "device_id": "d-1"} {
		if props[k] != v {
			t.Fatalf("properties.%s = %v, want %v (all: %v)", k, props[k], v, props)
		}
	}
	for _, k := range []string{"id", "time", "user_id", "external_user_id", "timezone", "event_type", "ip_pool", "message_extras"} {
		if _, ok := props[k]; ok {
			t.Fatalf("properties has %s: %v", k, props)
		}
	}
}

func TestMapRenamesInAllMode(t *testing.T) {
	ev := `{"event_type":"users.messages.contentcard.Click","id":"e","time":1,"user":{"user_id":"u","external_user_id":"x"},"properties":{"content_card_id":"card-9","platform":"ios"}}`
	got := decodeCall(t, mapOne(t, mustMapper(t, Options{Properties: PropertiesAll}), []byte(ev), ""))
	props := got["properties"].(map[string]any)
	if props["card_id"] != "card-9" || props["content_card_id"] != nil {
		t.Fatalf("rename lost in all mode: %v", props)
	}
	if got["context"].(map[string]any)["device"].(map[string]any)["type"] != "ios" {
		t.Fatalf("device type: %v", got["context"])
	}
}

func TestMapAnonymousUsers(t *testing.T) {
	anon := strings.Replace(goodEmailSend, `"external_user_id":"ext-1",`, "", 1)
	r := mapOne(t, mustMapper(t, Options{}), []byte(anon), "")
	if r.Outcome != Skipped || r.SkipReason != SkipAnonymous || r.EventID != "ev-1" {
		t.Fatalf("default should skip anonymous users: %+v", r)
	}
	got := decodeCall(t, mapOne(t, mustMapper(t, Options{AnonymousUsers: AnonymousSend}), []byte(anon), ""))
	if _, ok := got["userId"]; ok || got["anonymousId"] != "u-1" {
		t.Fatalf("send should carry anonymousId only: %v", got)
	}
	// SMS inbound events may have no Braze user id at all.
	noIDs := `{"event_type":"users.messages.sms.InboundReceive","id":"e","time":1,"properties":{"user_phone_number":"+1"}}`
	r = mapOne(t, mustMapper(t, Options{AnonymousUsers: AnonymousSend}), []byte(noIDs), "")
	if r.Outcome != Skipped || r.SkipReason != SkipNoIdentity {
		t.Fatalf("no identity at all: %+v", r)
	}
}

func TestMapEventsAllowListAndNames(t *testing.T) {
	m := mustMapper(t, Options{
		Events:     []string{"users.messages.email.Open", "users_canvas_abort"},
		EventNames: map[string]string{"users.messages.email.Open": "Opened (Braze)"},
	})
	if r := mapOne(t, m, []byte(goodEmailSend), ""); r.Outcome != Skipped || r.SkipReason != SkipNotSelected {
		t.Fatalf("not selected: %+v", r)
	}
	open := strings.Replace(goodEmailSend, "email.Send", "email.Open", 1)
	if got := decodeCall(t, mapOne(t, m, []byte(open), "")); got["event"] != "Opened (Braze)" {
		t.Fatalf("rename: %v", got["event"])
	}
	canvasAbort := `{"id":"e","user_id":"u","external_user_id":"x","time":5,"canvas_name":"c","abort_type":"quiet_hours"}`
	got := decodeCall(t, mapOne(t, m, []byte(canvasAbort), "users.canvas.Abort"))
	if got["event"] != "Canvas Aborted" || got["properties"].(map[string]any)["abort_type"] != "quiet_hours" {
		t.Fatalf("legacy abort via alias allow-list: %v", got)
	}
}

func TestMapUnknownTypes(t *testing.T) {
	ev := `{"event_type":"users.messages.carrierpigeon.Send","id":"e","time":1,"user":{"user_id":"u","external_user_id":"x"},"properties":{"email_address":"p@example.com","bird":"Frank","weight":{"g":300}}}`
	r := mapOne(t, mustMapper(t, Options{}), []byte(ev), "")
	if r.Outcome != Failed || r.Err.Error() != `currents event (id "e", type users.messages.carrierpigeon.Send): field "event_type": unknown event type "users.messages.carrierpigeon.Send" (set unknown_event_types to skip or passthrough to accept it)` {
		t.Fatalf("reject: %+v %v", r, r.Err)
	}
	if r := mapOne(t, mustMapper(t, Options{UnknownTypes: UnknownSkip}), []byte(ev), ""); r.Outcome != Skipped || r.SkipReason != SkipUnknownType {
		t.Fatalf("skip: %+v", r)
	}
	m := mustMapper(t, Options{UnknownTypes: UnknownPassthrough, EventNames: map[string]string{"users.messages.carrierpigeon.Send": "Pigeon Sent"}})
	got := decodeCall(t, mapOne(t, m, []byte(ev), ""))
	want := map[string]any{"type": "track", "event": "Pigeon Sent", "messageId": "e", "userId": "x", "anonymousId": "u",
		"timestamp": "1970-01-01T00:00:01Z", "context": map[string]any{"traits": map[string]any{"email": "p@example.com"}},
		"properties": map[string]any{"email_address": "p@example.com", "bird": "Frank", "weight": map[string]any{"g": 300.0}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("passthrough\n got %v\nwant %v", got, want)
	}
}

// A type whose Segment name Braze does not publish is sent as the type
// itself, every field a property, in either properties mode; event_names
// renames it like any other.
func TestMapTypeWithoutPublishedName(t *testing.T) {
	ev := `{"event_type":"users.messages.banner.Dismiss","id":"e","time":1,"user":{"user_id":"u","external_user_id":"x","timezone":"UTC"},"properties":{"banner_placement_id":"top","is_unique":true,"bird":"Frank"}}`
	want := map[string]any{"type": "track", "event": "users.messages.banner.Dismiss", "messageId": "e", "userId": "x", "anonymousId": "u",
		"timestamp": "1970-01-01T00:00:01Z", "properties": map[string]any{"banner_placement_id": "top", "is_unique": true, "bird": "Frank"}}
	if got := decodeCall(t, mapOne(t, mustMapper(t, Options{}), []byte(ev), "")); !reflect.DeepEqual(got, want) {
		t.Fatalf("default\n got %v\nwant %v", got, want)
	}
	got := decodeCall(t, mapOne(t, mustMapper(t, Options{Properties: PropertiesAll}), []byte(ev), ""))
	if !reflect.DeepEqual(got["properties"], want["properties"]) || got["context"].(map[string]any)["timezone"] != "UTC" {
		t.Fatalf("all: %v", got)
	}
	m := mustMapper(t, Options{EventNames: map[string]string{"users.messages.banner.Dismiss": "Banner Dismissed"}})
	if r := mapOne(t, m, []byte(ev), ""); r.SegmentEvent != "Banner Dismissed" || decodeCall(t, r)["event"] != "Banner Dismissed" {
		t.Fatalf("rename: %+v", r)
	}
	if r := mapOne(t, m, []byte(strings.Replace(ev, `"is_unique":true`, `"is_unique":"yes"`, 1)), ""); r.Outcome != Failed || !strings.Contains(r.Err.Error(), `field "is_unique": expected a boolean`) {
		t.Fatalf("a v11 field is type-checked: %+v", r)
	}
}

func TestMapBadInput(t *testing.T) {
	m := mustMapper(t, Options{})
	cases := []struct {
		name, in, hint, want string
	}{
		{"not JSON", `{"id": "x",`, "", `currents event: message is not a Currents event: invalid JSON at byte 11: unexpected end of input`},
		{"not an object", `"hello"`, "", `currents event: message is not a Currents event: expected a JSON object (a Currents event or an {"events":[...]} batch): invalid JSON at byte 0: expected an object`},
		{"trailing data", `{"id":"x"} {}`, "", `currents event: message is not a Currents event: invalid JSON at byte 11: unexpected data after the JSON value`},
		{"invalid UTF-8", "{\"id\":\"\xff\"}", "", `currents event: message is not a Currents event: invalid JSON at byte 6: string is not valid UTF-8`},
		{"no id", `{"event_type":"users.messages.email.Send","time":1,"user":{"user_id":"u"}}`, "", `currents event (type users.messages.email.Send): field "id": is missing: every Currents event has a string id, used as Segment's messageId`},
		{"id not a string", `{"event_type":"users.messages.email.Send","id":42,"time":1,"user":{"user_id":"u"}}`, "", `currents event (type users.messages.email.Send): field "id": expected a string, got number 42`},
		{"no user_id", `{"event_type":"users.messages.email.Send","id":"e1","time":1,"user":{"external_user_id":"x"}}`, "", `currents event (id "e1", type users.messages.email.Send): field "user_id": is missing: expected the Braze user id (a string), sent as Segment's anonymousId`},
		{"no time", `{"event_type":"users.messages.email.Send","id":"e1","user":{"user_id":"u"}}`, "", `currents event (id "e1", type users.messages.email.Send): field "time": is missing: expected the event's UNIX time in seconds`},
		{"time a string", `{"event_type":"users.messages.email.Send","id":"e1","time":"2025-11-28","user":{"user_id":"u"}}`, "", `currents event (id "e1", type users.messages.email.Send): field "time": expected a number of UNIX seconds, got string "2025-11-28"`},
		{"time negative", `{"event_type":"users.messages.email.Send","id":"e1","time":-5,"user":{"user_id":"u"}}`, "", `currents event (id "e1", type users.messages.email.Send): field "time": expected UNIX seconds between 0 and 253402300799, got -5`},
		{"wrong field type", `{"event_type":"users.messages.email.Click","id":"e1","time":1,"user":{"user_id":"u"},"properties":{"is_amp":"yes"}}`, "", `currents event (id "e1", type users.messages.email.Click): field "is_amp": expected a boolean, got string "yes"`},
		{"wrong array type", `{"id":"e1","time":1,"user_id":"u","suspected_bot_click_reason":[1]}`, "users.messages.email.Click", `currents event (id "e1", type users.messages.email.Click): field "suspected_bot_click_reason": expected an array of strings, got array [1]`},
		{"wrong wrapped type", `{"id":"e1","time":1,"user_id":"u","app_group_id":{"string":7}}`, "users.messages.email.Send", `currents event (id "e1", type users.messages.email.Send): field "app_group_id": expected a string, got number 7`},
		{"no type anywhere", `{"id":"e1","time":1,"user_id":"u"}`, "", `currents event (id "e1"): field "event_type": is missing: the event has no event_type field, its path metadata has no event_type=<type> segment, and the processor has no event_type configured`},
		{"event_type not a string", `{"event_type":3,"id":"e1","time":1}`, "", `currents event (id "e1"): field "event_type": expected a string, got number 3`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mapOne(t, m, []byte(c.in), c.hint)
			if r.Outcome != Failed || r.Err == nil {
				t.Fatalf("outcome %v, want Failed", r.Outcome)
			}
			if r.Err.Error() != c.want {
				t.Fatalf("error\n got: %s\nwant: %s", r.Err, c.want)
			}
			if string(r.Raw) != c.in {
				t.Fatalf("raw event not kept for the dead letter: %q", r.Raw)
			}
		})
	}
}

func TestMapEnvelopeWithOneBadEvent(t *testing.T) {
	bad := `{"event_type":"users.messages.email.Send","id":"e2","time":"soon","user":{"user_id":"u"}}`
	body := `{"events":[` + goodEmailSend + `,` + bad + `,7,` + strings.Replace(goodEmailSend, `"ev-1"`, `"ev-3"`, 1) + `]}`
	rs := mustMapper(t, Options{}).Map([]byte(body), nil)
	if len(rs) != 4 {
		t.Fatalf("%d results", len(rs))
	}
	if rs[0].Outcome != Mapped || rs[0].EventID != "ev-1" || rs[3].Outcome != Mapped || rs[3].EventID != "ev-3" {
		t.Fatalf("good events around bad ones must map: %+v / %+v", rs[0], rs[3])
	}
	if rs[1].Err.Error() != `currents event #1 of the batch (id "e2", type users.messages.email.Send): field "time": expected a number of UNIX seconds, got string "soon"` || string(rs[1].Raw) != bad {
		t.Fatalf("bad event: %v raw %s", rs[1].Err, rs[1].Raw)
	}
	if rs[2].Err.Error() != `currents event #2 of the batch: not a Currents event: expected the event to be a JSON object: invalid JSON at byte 0: expected an object` {
		t.Fatalf("non-object element: %v", rs[2].Err)
	}
}

// The batch is read in one pass, each event mapped as its element is read;
// broken JSON after some events still fails the whole message as one, with
// the offset in the message, and nothing mapped before the break is kept.
func TestMapEnvelopeBrokenAfterGoodEvents(t *testing.T) {
	m := mustMapper(t, Options{})
	head := `{"events":[` + goodEmailSend
	for _, c := range []struct {
		name, body, want string
		at               int
	}{
		{"inside an element", head + `,{"id":}]}`, "unexpected character '}'", len(head) + len(`,{"id":`)},
		{"after the array", head + `]`, "unterminated object", len(head) + 1},
		{"after a JSON array", `[` + goodEmailSend + `] x`, "", len(goodEmailSend) + 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := m.AppendMap(make([]Result, 0, 4), []byte(c.body), nil)
			if len(rs) != 1 || rs[0].Outcome != Failed || string(rs[0].Raw) != c.body {
				t.Fatalf("want the whole message failed once, got %d results: %+v", len(rs), rs)
			}
			var ne *NotEventError
			if !errors.As(rs[0].Err, &ne) || ne.InBatch {
				t.Fatalf("want a whole-message NotEventError, got %v", rs[0].Err)
			}
			if rs[:cap(rs)][1].Track != nil {
				t.Fatal("the dropped result still holds its track")
			}
			if want := fmt.Sprintf("invalid JSON at byte %d: %s", c.at, c.want); !strings.Contains(rs[0].Err.Error(), want) {
				t.Fatalf("error %v, want it to say %q", rs[0].Err, want)
			}
		})
	}
}

// A duplicated "events" member: the last one counts, as encoding/json has
// it, even when it is empty.
func TestMapEnvelopeDuplicatedEvents(t *testing.T) {
	m := mustMapper(t, Options{})
	second := strings.Replace(goodEmailSend, `"ev-1"`, `"ev-2"`, 1)
	rs := m.Map([]byte(`{"events":[`+goodEmailSend+`],"events":[`+second+`]}`), nil)
	if len(rs) != 1 || rs[0].EventID != "ev-2" {
		t.Fatalf("want only the last events member, got %+v", rs)
	}
	if rs := m.Map([]byte(`{"events":[`+goodEmailSend+`],"events":[]}`), nil); len(rs) != 0 {
		t.Fatalf("want the empty last member to count, got %+v", rs)
	}
}

func TestNewMapperConfigErrors(t *testing.T) {
	_, err := NewMapper(DefaultCatalog(), Options{Events: []string{"users.messages.email.Sent", "users.messages.carrierpigeon.Coo"}})
	if err == nil || err.Error() != `events: unknown event type "users.messages.email.Sent": did you mean "users.messages.email.Send"?; unknown event type "users.messages.carrierpigeon.Coo" (the README lists every type)` {
		t.Fatalf("events: %v", err)
	}
	_, err = NewMapper(DefaultCatalog(), Options{EventNames: map[string]string{"users.messages.email.Sent": "x"}})
	if err == nil || !strings.HasPrefix(err.Error(), `event_names: unknown event type "users.messages.email.Sent": did you mean "users.messages.email.Send"? (set unknown_event_types: passthrough`) {
		t.Fatalf("event_names: %v", err)
	}
	_, err = NewMapper(DefaultCatalog(), Options{EventNames: map[string]string{"users.messages.email.Send": " "}})
	if err == nil || err.Error() != "event_names: the Segment event name for users.messages.email.Send is empty" {
		t.Fatalf("empty name: %v", err)
	}
}

func TestMapFractionalTimeAndEscapedKeys(t *testing.T) {
	ev := `{"event_type":"users.messages.email.Send","id":"e","time":1764334800.25,"user":{"user_id":"u","external\u005fuser_id":"x"},"properties":{"send\u005fid":"s"}}`
	got := decodeCall(t, mapOne(t, mustMapper(t, Options{}), []byte(ev), ""))
	if got["timestamp"] != "2025-11-28T13:00:00.25Z" || got["userId"] != "x" || got["properties"].(map[string]any)["send_id"] != "s" {
		t.Fatalf("%v", got)
	}
}

// "default" in events stands for the default selection, so a list can add a
// type to what Braze's connector sends without listing all of it.
func TestMapperEventsDefaultPlusAType(t *testing.T) {
	m := mustMapper(t, Options{Events: []string{SelectDefault, "users.behaviors.Purchase"}})
	cat := DefaultCatalog()
	var inDefault, outside int
	for _, name := range cat.Names() {
		typ, _ := cat.Lookup(name)
		want := typ.Default || name == "users.behaviors.Purchase"
		if m.Selected(typ) != want {
			t.Errorf("%s: selected %v, want %v", name, m.Selected(typ), want)
		}
		if typ.Default {
			inDefault++
		} else {
			outside++
		}
	}
	if inDefault == 0 || outside < 2 {
		t.Fatalf("the catalog has %d default types and %d others", inDefault, outside)
	}
	only := mustMapper(t, Options{Events: []string{"users.behaviors.Purchase"}})
	if email, _ := cat.Lookup("users.messages.email.Send"); only.Selected(email) {
		t.Fatal("a list without default still maps default types")
	}
}
