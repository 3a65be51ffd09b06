// Package contract computes, from events.json alone and with encoding/json,
// the Segment call Braze's connector sends for an event (or, where Braze
// publishes none, the call the contract README prescribes), and which types
// the connector sends at all. Tests compare the
// mapper's output against it, so the expectation never comes from the code
// under test.
package contract

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/currents-segment/currents-segment/internal/spec"
)

// legacyNames are the names this project gives the two undocumented legacy
// Abort types (the contract README says so).
var legacyNames = map[string]string{
	"users.campaigns.Abort": "Campaign Aborted",
	"users.canvas.Abort":    "Canvas Aborted",
}

// connectorPage are the behavior types Braze's Segment for Currents page
// lists as supported (the contract README, "What Braze's own Segment
// connector sends").
var connectorPage = map[string]bool{
	"users.behaviors.Uninstall":                      true,
	"users.behaviors.subscription.GlobalStateChange": true,
	"users.behaviors.subscriptiongroup.StateChange":  true,
}

// InDefault says whether Braze's Segment connector sends a type, as the
// contract README puts it: the message engagement types that have a Segment
// tab (their segment block is transcribed from the message engagement
// glossary, [G] or [L]), the behavior types the connector page lists, and the
// two legacy Abort types.
func InDefault(typ string, et spec.EventType) bool {
	if _, legacy := legacyNames[typ]; legacy || connectorPage[typ] {
		return true
	}
	return et.Segment != nil && strings.Contains(et.Sources.Segment, "message_engagement_events")
}

// Named says whether Braze documents the Segment event name of a type.
func Named(et spec.EventType) bool { return et.Segment != nil && et.Segment.Documented }

// EventName is the Segment event a type is sent as: Braze's documented name,
// the project's name of a legacy type, or else the type itself.
func EventName(typ string, et spec.EventType) string {
	if Named(et) {
		return et.Segment.Event
	}
	if name, ok := legacyNames[typ]; ok {
		return name
	}
	return typ
}

// Flatten merges an HTTP event's top level, user and properties objects, and
// returns a storage record as it is (its properties field, a JSON-encoded
// string on the custom event and purchase records, stays a field).
func Flatten(raw []byte) (map[string]any, error) {
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	flat := map[string]any{}
	for k, v := range ev {
		inner, ok := v.(map[string]any)
		if (k == "user" || k == "properties") && ok {
			for kk, vv := range inner {
				flat[kk] = vv
			}
			continue
		}
		flat[k] = v
	}
	return flat, nil
}

// customProperties are the types the contract README says carry custom
// properties ("Known differences between the two shapes"): the storage
// record as the JSON-encoded string properties, the HTTP event as the object
// named here. [CB] says the payload is "populated with any custom event
// properties" (and purchase properties): each is a property of its own.
var customProperties = map[string]string{
	"users.behaviors.CustomEvent": "custom_properties",
	"users.behaviors.Purchase":    "purchase_properties",
}

// nameField is the field that names each custom event: Braze's tab names no
// event for the type, and the project sends each under its own name (issue
// 10, the README's Event types).
var nameField = map[string]string{"users.behaviors.CustomEvent": "name"}

// NameField is the field whose value is the Segment event of each event of
// a type, or "" for a type whose events share one name.
func NameField(typ string) string { return nameField[typ] }

// EventNameOf is the Segment event of one flattened event: its own name for
// a custom event, else EventName.
func EventNameOf(typ string, et spec.EventType, flat map[string]any) string {
	if f, ok := nameField[typ]; ok {
		name, _ := flat[f].(string)
		return name
	}
	return EventName(typ, et)
}

// CustomProperties returns the custom properties of a flattened event and
// the name of the property their colliding ones go under, with ok false for
// a type that has none. A storage string that is not a JSON object is an
// error; an empty one, or null, is none.
func CustomProperties(typ string, flat map[string]any) (custom map[string]any, nested string, ok bool, err error) {
	nested, ok = customProperties[typ]
	if !ok {
		return nil, "", false, nil
	}
	custom = map[string]any{}
	if obj, isObj := flat[nested].(map[string]any); isObj {
		for k, v := range obj {
			custom[k] = v
		}
	}
	if s, isStr := flat["properties"].(string); isStr && s != "" {
		var fromStr map[string]any
		if err := json.Unmarshal([]byte(s), &fromStr); err != nil {
			return nil, nested, true, fmt.Errorf("properties is not a JSON object: %w", err)
		}
		for k, v := range fromStr {
			custom[k] = v
		}
	}
	return custom, nested, true, nil
}

// float32Shown is the value a person sees of an Avro float: the shortest
// decimal that reads back as the same float32 (the contract README: the
// storage 3.14 decodes to 3.140000104904175 where the HTTP event shows
// 3.14). A number that is not exactly a float32 is kept.
func float32Shown(v any) any {
	f, ok := v.(float64)
	if !ok || float64(float32(f)) != f {
		return v
	}
	shown, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
	if err != nil {
		return v
	}
	return shown
}

func present(v any) bool { return v != nil && v != "" }

// Skip says why no call is sent for a flattened event, as the reason the
// processor counts it under (its README lists them), or "" when one is: the
// connector sends no event of a user without external_user_id; with
// anonymous (the opt-in) such an event is sent with anonymousId only, and an
// event with neither id is never sent, whatever the setting ("Events with
// neither id are skipped with reason no_user_identity").
func Skip(flat map[string]any, anonymous bool) string {
	switch {
	case present(flat["external_user_id"]):
		return ""
	case !present(flat["user_id"]):
		return "no_user_identity"
	case !anonymous:
		return "no_external_user_id"
	}
	return ""
}

// ExpectedCall is the track call for a flattened event of a contract type,
// with numbers as float64 as encoding/json decodes them.
func ExpectedCall(typ string, et spec.EventType, flat map[string]any) (map[string]any, error) {
	ts, ok := flat["time"].(float64)
	if !ok {
		return nil, fmt.Errorf("time is %T", flat["time"])
	}
	call := map[string]any{
		"type":      "track",
		"messageId": flat["id"],
		"timestamp": time.Unix(int64(ts), 0).UTC().Format(time.RFC3339),
	}
	if present(flat["external_user_id"]) {
		call["userId"] = flat["external_user_id"]
	}
	if present(flat["user_id"]) {
		call["anonymousId"] = flat["user_id"]
	}
	props := map[string]any{}
	context := map[string]any{}
	call["event"] = EventNameOf(typ, et, flat)
	custom, nested, hasCustom, err := CustomProperties(typ, flat)
	if err != nil {
		return nil, err
	}
	// The standard property names a custom property does not take.
	standard := map[string]bool{nested: true}
	if !Named(et) {
		// No documented property list: every field of the event.
		for _, f := range et.Fields {
			standard[f.Name] = true
		}
		for _, f := range et.HTTPOnlyFields {
			standard[f] = true
		}
		for k, v := range flat {
			switch k {
			case "id", "user_id", "external_user_id", "time", "timezone", "event_type":
				continue
			}
			if hasCustom && (k == "properties" || k == nested) {
				continue // the custom properties, below
			}
			standard[k] = true
			if present(v) {
				props[k] = v
			}
		}
		delete(standard, "properties")
		for _, k := range []string{"id", "user_id", "external_user_id", "time", "timezone", "event_type"} {
			delete(standard, k)
		}
	} else {
		source := map[string]string{}
		for from, to := range et.Segment.Renames {
			source[to] = from
		}
		for _, p := range et.Segment.Properties {
			field := p
			if from, ok := source[p]; ok {
				field = from
			}
			standard[p] = true
			if present(flat[field]) {
				props[p] = flat[field]
			}
		}
	}
	for _, f := range et.Fields {
		if f.AvroType == "float" && props[f.Name] != nil {
			props[f.Name] = float32Shown(props[f.Name])
		}
	}
	clashes := map[string]any{}
	for k, v := range custom {
		if standard[k] {
			clashes[k] = v
		} else {
			props[k] = v
		}
	}
	if len(clashes) > 0 {
		props[nested] = clashes
	}
	if s := et.Segment; s != nil {
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
	return call, nil
}
