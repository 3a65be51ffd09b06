package samples

import "encoding/json"

// httpUserKeys are the record fields Braze's HTTP connector moves into the
// event's "user" object; id and time go to the top level and everything else
// into "properties".
var httpUserKeys = map[string]bool{
	"user_id":          true,
	"external_user_id": true,
	"device_id":        true,
	"timezone":         true,
}

// HTTPEvent returns a storage record in the shape of Braze's custom HTTP
// Currents connector:
//
//	{"event_type", "id", "time",
//	 "user": {"user_id", "external_user_id", "device_id", "timezone"},
//	 "properties": {every other field}}
//
// Null and absent fields are left out, as Braze does. The record is not
// modified; values are shared with it, not copied. "user" and "properties"
// are always present, possibly empty.
//
// A few HTTP examples of the contract carry a field their Avro schema lacks
// (events.json lists them as http_only_fields, e.g. dispatch_id on
// users.campaigns.Conversion); a record cannot supply those, so they are not
// produced.
func HTTPEvent(eventType string, record map[string]any) map[string]any {
	user := make(map[string]any, len(httpUserKeys))
	props := make(map[string]any, len(record))
	ev := map[string]any{
		"event_type": eventType,
		"user":       user,
		"properties": props,
	}
	for k, v := range record {
		switch {
		case v == nil:
		case k == "id" || k == "time":
			ev[k] = v
		case httpUserKeys[k]:
			user[k] = v
		case k == "properties" && customObjects[eventType] != "":
			// The JSON-encoded custom properties of storage are an object
			// over HTTP, left out when there are none.
			var obj map[string]any
			if s, ok := v.(string); ok && json.Unmarshal([]byte(s), &obj) == nil && len(obj) > 0 {
				props[customObjects[eventType]] = obj
			}
		default:
			props[k] = v
		}
	}
	return ev
}
