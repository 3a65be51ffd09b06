package currents

import "testing"

func TestCatalogSuggest(t *testing.T) {
	cat := DefaultCatalog()
	for name, want := range map[string]string{
		"users.messages.email.open":           "users.messages.email.Open",
		"users.messages.emial.Click":          "users.messages.email.Click",
		"users.message.pushnotification.Send": "users.messages.pushnotification.Send",
		"users.messages.carrierpigeon.Coo":    "",
		"x":                                   "",
	} {
		if got := cat.Suggest(name); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", name, got, want)
		}
	}
}
