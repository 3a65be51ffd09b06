package currents

import (
	"bytes"
	"os"
	"testing"

	"github.com/currents-segment/currents-segment/internal/currents/internal/catalogsrc"
	"github.com/currents-segment/currents-segment/internal/spec"
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
		t.Fatal("catalog_table.go is stale: run `go generate ./internal/currents`")
	}
}

func TestCatalogNamesAndAliases(t *testing.T) {
	c := DefaultCatalog()
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Types()); n != len(events) {
		t.Fatalf("catalog has %d types, the contract %d", n, len(events))
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
		"users.messages.banner.Dismiss":         "users.messages.banner.Dismiss",
		"users.behaviors.CustomEvent":           "users.behaviors.CustomEvent",
		"agentconsole.AgentExecuted":            "agentconsole.AgentExecuted",
		"users.messages.rcs.Abort":              "Aborted",
	} {
		typ, ok := c.Lookup(name)
		if !ok || typ.SegmentEvent != event {
			t.Fatalf("%s: got %+v, want event %q", name, typ, event)
		}
	}
}

// TestFieldTableFindsEveryName checks the decoder's field lookup against the
// catalog's map for every known name, and for names that are not fields:
// prefixes, near misses sharing the hashed bytes, and the empty key.
func TestFieldTableFindsEveryName(t *testing.T) {
	c := DefaultCatalog()
	for name, id := range c.fieldIDs {
		if got := c.fields.lookup([]byte(name)); got != id {
			t.Fatalf("%q: id %d, want %d", name, got, id)
		}
		for _, miss := range []string{name[:len(name)-1], name + "x", name[:1] + "#" + name[1:len(name)-1] + name[len(name)-1:]} {
			if _, known := c.fieldIDs[miss]; known {
				continue
			}
			if got := c.fields.lookup([]byte(miss)); got != -1 {
				t.Fatalf("%q is not a field, found id %d", miss, got)
			}
		}
	}
	if got := c.fields.lookup(nil); got != -1 {
		t.Fatalf("empty key found id %d", got)
	}
	// Names sharing length, first, middle and last byte hash alike whatever
	// the multiplier: each is still found, and so is a stranger's absence.
	colliding := []string{"abcde", "axcde", "aycde", "a"}
	tbl := newFieldTable(colliding)
	for id, n := range colliding {
		if got := tbl.lookup([]byte(n)); got != id {
			t.Fatalf("colliding %q: id %d, want %d", n, got, id)
		}
	}
	if got := tbl.lookup([]byte("azcde")); got != -1 {
		t.Fatalf("azcde found id %d", got)
	}
}
