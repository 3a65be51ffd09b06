package samples

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
)

// Custom events and purchases carry custom properties: in storage as the
// JSON-encoded string field "properties", over HTTP as an object (the
// contract README, "Known differences between the two shapes").

// customObjects name the HTTP object of the custom properties of each type
// that has them.
var customObjects = map[string]string{
	"users.behaviors.CustomEvent": "custom_properties",
	"users.behaviors.Purchase":    "purchase_properties",
}

var customEventNames = []string{
	"added_to_cart", "level_completed", "video_played", "search", "Signed Up",
	"wishlist_added", "referral_sent", "onboarding_step", "rated_app", "Trial Started",
}

// The draws below take their randomness from one alnum(r, 6), the draw the
// fallback of a string field makes, so that the generator's stream, and with
// it every other event of a seed (the bundled quickstart data), is what it
// was before these fields had rules.

func seedOf(r *rand.Rand) []byte { return []byte(alnum(r, 6)) }

// customEventName names a custom event.
func customEventName(r *rand.Rand) string {
	s := seedOf(r)
	return customEventNames[int(s[0])%len(customEventNames)]
}

// customProperties returns a JSON-encoded object of custom properties of the
// kinds Braze allows (strings, numbers, booleans, arrays, nested objects);
// about one in eight is "" (none). On purchases, one in eight has a "price"
// of its own (a list price), which the standard property of that name keeps
// out of the top level.
func customProperties(r *rand.Rand, eventType string) string {
	s := seedOf(r)
	if s[0]%8 == 0 {
		return ""
	}
	props := map[string]any{}
	if eventType == "users.behaviors.Purchase" {
		props["quantity"] = int(s[1])%5 + 1
		props["gift"] = s[2]%2 == 0
		if s[3]%3 == 0 {
			props["coupon"] = "SAVE" + string(s[4:6])
		}
		if s[5]%8 == 0 {
			props["price"] = 19.99
		}
	} else {
		props["source"] = []string{"home", "search", "push", "deep_link"}[int(s[1])%4]
		props["count"] = int(s[2]) % 50
		props["premium"] = s[3]%2 == 0
		props["tags"] = strings.Split([]string{"a", "a,b", "new,sale,ü"}[int(s[4])%3], ",")
		if s[5]%4 == 0 {
			props["device"] = map[string]any{"orientation": "portrait", "dark_mode": true}
		}
		if s[5]%5 == 0 {
			props["note"] = "says \"hi\"\n\\ ✓"
		}
	}
	b, _ := json.Marshal(props)
	return string(b)
}
