package currents

import (
	"bytes"
	"os"
	"testing"

	"github.com/currents-segment/currents-segment/currents/internal/catalogsrc"
)

func TestCatalogTableIsGeneratedFromTheContract(t *testing.T) {
	want, err := catalogsrc.Render()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("catalog_table.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("catalog_table.go is stale: run `go generate ./currents`")
	}
}

func TestCatalogNamesAndAliases(t *testing.T) {
	c := DefaultCatalog()
	if n := len(c.Types()); n != 60 {
		t.Fatalf("catalog has %d types, want 50 contract + 10 documented", n)
	}
	for alias, name := range map[string]string{"users_campaigns_abort": "users.campaigns.Abort", "users_canvas_abort": "users.canvas.Abort"} {
		a, ok := c.Lookup(alias)
		if !ok || a.Name != name {
			t.Fatalf("alias %s resolves to %v", alias, a)
		}
	}
	for name, event := range map[string]string{
		"users.campaigns.Abort":                 "Campaign Aborted",
		"users.canvas.Abort":                    "Canvas Aborted",
		"users.messages.sms.CarrierSend":        "SMS Sent to Carrier",
		"users.messages.liveactivity.Outcome":   "Live Activity Outcome",
		"users.messages.email.Click":            "Email Link Clicked",
		"users.messages.featureflag.Impression": "Feature Flag Experiment Impressed",
	} {
		typ, ok := c.Lookup(name)
		if !ok || typ.SegmentEvent != event {
			t.Fatalf("%s: got %+v, want event %q", name, typ, event)
		}
	}
}
