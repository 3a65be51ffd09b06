// Package contract computes, from events.json alone and with encoding/json,
// the Segment call Braze's connector sends for an event. Tests compare the
// mapper's output against it, so the expectation never comes from the code
// under test.
package contract

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/currents-segment/currents-segment/internal/spec"
)

// legacyNames are the names this project gives the two undocumented legacy
// Abort types (the contract README says so).
var legacyNames = map[string]string{
	"users.campaigns.Abort": "Campaign Aborted",
	"users.canvas.Abort":    "Canvas Aborted",
}

// Flatten merges an HTTP event's top level, user and properties objects, and
// returns a storage record as it is.
func Flatten(raw []byte) (map[string]any, error) {
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	flat := map[string]any{}
	for k, v := range ev {
		switch k {
		case "user", "properties":
			inner, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s is not an object", k)
			}
			for kk, vv := range inner {
				flat[kk] = vv
			}
		default:
			flat[k] = v
		}
	}
	return flat, nil
}

func present(v any) bool { return v != nil && v != "" }

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
	if et.Segment == nil {
		name, ok := legacyNames[typ]
		if !ok {
			return nil, fmt.Errorf("%s has no Segment mapping", typ)
		}
		call["event"] = name
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
	return call, nil
}
