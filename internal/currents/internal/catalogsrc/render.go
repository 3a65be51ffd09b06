// Package catalogsrc renders the Go source of the built-in Currents catalog
// from the embedded contract. It is shared by the generator command and by the
// test that proves the checked-in table is up to date.
package catalogsrc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"strings"

	"github.com/currents-segment/currents-segment/internal/spec"
)

// legacyNames names the two legacy Abort types, which have schemas but are in
// no current glossary, so events.json has no segment block and no source for
// one: the contract README says the project names them so.
var legacyNames = map[string]string{
	"users.campaigns.Abort": "Campaign Aborted",
	"users.canvas.Abort":    "Canvas Aborted",
}

// connectorPageBehaviors are the only behavior types Braze's "Segment for
// Currents" page lists as supported (contract README, "What Braze's own
// Segment connector sends"). The data says the same thing another way: they
// are the behavior types whose Segment tab is in the message engagement
// glossary. This list is not the rule, only a check of it: Render fails if
// the rule ever disagrees with the page.
var connectorPageBehaviors = []string{
	"users.behaviors.Uninstall",
	"users.behaviors.subscription.GlobalStateChange",
	"users.behaviors.subscriptiongroup.StateChange",
}

// customPropertyTypes are the types the contract README names as carrying
// custom properties ("Known differences between the two shapes"): a
// JSON-encoded string properties in storage, an object over HTTP. As with
// connectorPageBehaviors, the rule reads the data (customFields) and this list
// only checks it.
var customPropertyTypes = map[string]string{
	"users.behaviors.CustomEvent": "custom_properties",
	"users.behaviors.Purchase":    "purchase_properties",
}

// nameFields name the field whose value is the Segment event of each event of
// a type. Braze's tab for custom events names no event (segment.event is
// null), and every custom event has its own name: sending them all under one
// name, the type, would leave a tracking plan nothing to tell them apart by
// (issue 10).
var nameFields = map[string]string{
	"users.behaviors.CustomEvent": "name",
}

// customFields returns the fields of a type that hold its custom properties:
// the storage field "properties", a string absent from the HTTP example, and
// the HTTP-only object that replaces it there.
func customFields(et spec.EventType, httpKinds map[string]string) (str, obj string) {
	for _, f := range et.Fields {
		if f.Name == "properties" && f.AvroType == "string" && strings.Contains(f.HTTP, "absent in HTTP example") {
			str = f.Name
		}
	}
	for _, f := range et.HTTPOnlyFields {
		if httpKinds[f] == "KindObject" {
			obj = f
		}
	}
	if str == "" || obj == "" {
		return "", ""
	}
	return str, obj
}

// messageEngagementGlossary is how sources.segment of events.json cites
// Braze's message engagement glossary ([G], and the stored copy [L]).
const messageEngagementGlossary = "message_engagement_events"

// noSegmentTab starts sources.segment of a type whose glossary lists no
// Segment tab.
const noSegmentTab = "no Segment tab"

func kindOf(avroType string) (string, error) {
	switch avroType {
	case "string":
		return "KindString", nil
	case "int", "long":
		return "KindInt", nil
	case "float":
		return "KindNumber", nil
	case "boolean":
		return "KindBool", nil
	case "array<string>", "array<string?>":
		return "KindStringArray", nil
	}
	return "", fmt.Errorf("unsupported avro type %q", avroType)
}

// status is the catalog's Status constant of a type, from what Braze
// documents of its Segment call.
func status(name string, et spec.EventType) (string, error) {
	_, legacy := legacyNames[name]
	switch {
	case legacy:
		if et.Segment != nil {
			return "", fmt.Errorf("a legacy type with a segment block: name it from the block")
		}
		return "StatusLegacy", nil
	case et.Segment == nil:
		if !strings.HasPrefix(et.Sources.Segment, noSegmentTab) {
			return "", fmt.Errorf("no segment block, and sources.segment does not say %q: %q", noSegmentTab, et.Sources.Segment)
		}
		return "StatusNoSegmentTab", nil
	case !et.Segment.Documented:
		if et.Segment.Event != "" {
			return "", fmt.Errorf("segment.documented is false but segment.event is %q", et.Segment.Event)
		}
		return "StatusNameUnknown", nil
	case et.Segment.Event == "":
		return "", fmt.Errorf("segment.documented is true but segment.event is empty")
	}
	return "StatusDocumented", nil
}

// inDefault is the rule of the default selection (events: []), the types
// Braze's Segment connector sends: every type whose Segment tab is in the
// message engagement glossary (a segment block, documented or not, cited from
// [G] or [L] in sources.segment; this takes in the three behavior types the
// connector page lists, which that glossary carries), and the two legacy
// Abort types, which only Braze's connector ever sent. Outside it: the
// customer-behavior types, whose Segment tabs are in [CB] but not on the
// connector page, and the types with no Segment tab.
func inDefault(name string, et spec.EventType) bool {
	if _, legacy := legacyNames[name]; legacy {
		return true
	}
	return et.Segment != nil && strings.Contains(et.Sources.Segment, messageEngagementGlossary)
}

// Render returns the gofmt-ed source of catalog_table.go.
func Render() ([]byte, error) {
	events, err := spec.Events()
	if err != nil {
		return nil, err
	}
	for _, name := range connectorPageBehaviors {
		if et, ok := events[name]; !ok || !inDefault(name, et) {
			return nil, fmt.Errorf("%s is on Braze's connector page but not in the default selection the contract gives", name)
		}
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by currents/internal/gencatalog from internal/spec/events.json. DO NOT EDIT.\n\n")
	b.WriteString("package currents\n\n")
	fmt.Fprintf(&b, "// contractTypes are the %d event types of the Currents contract, each with\n", len(events))
	b.WriteString("// the Segment call Braze's own connector makes of it, or the one this\n")
	b.WriteString("// project makes where Braze publishes none.\n")
	b.WriteString("var contractTypes = []EventType{\n")
	for _, name := range spec.TypeNames(events) {
		et := events[name]
		if err := renderType(&b, name, et); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

func renderType(b *bytes.Buffer, name string, et spec.EventType) error {
	st, err := status(name, et)
	if err != nil {
		return err
	}
	event := name // Braze publishes no name: the event is the type itself
	switch st {
	case "StatusDocumented":
		event = et.Segment.Event
	case "StatusLegacy":
		event = legacyNames[name]
	}
	fmt.Fprintf(b, "\t{\n\t\tName: %q,\n\t\tSegmentEvent: %q,\n\t\tStatus: %s,\n", name, event, st)
	if f, ok := nameFields[name]; ok {
		fmt.Fprintf(b, "\t\tNameField: %q,\n", f)
	}
	if inDefault(name, et) {
		b.WriteString("\t\tDefault: true,\n")
	}
	known := map[string]bool{}
	since := map[string]bool{}
	var fields []string
	userIDOptional := true // a type without a user_id field never requires one
	for _, f := range et.Fields {
		kind, err := kindOf(f.AvroType)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		known[f.Name] = true
		if f.Since != "" {
			since[f.Name] = true
		}
		if f.Name == "user_id" && !f.Nullable {
			userIDOptional = false
		}
		fields = append(fields, fmt.Sprintf("{Name: %q, Kind: %s}", f.Name, kind))
	}
	// Fields that only the HTTP shape carries have the JSON kind of the HTTP
	// example: strings, but for the custom and purchase properties objects.
	httpKinds, err := httpExampleKinds(name)
	if err != nil {
		return err
	}
	str, obj := customFields(et, httpKinds)
	if want := customPropertyTypes[name]; obj != want {
		return fmt.Errorf("custom properties in %q, the contract README says %q", obj, want)
	}
	if str != "" {
		fmt.Fprintf(b, "\t\tCustomString: %q,\n\t\tCustomObject: %q,\n", str, obj)
	}
	for _, f := range et.HTTPOnlyFields {
		if !known[f] {
			known[f] = true
			kind := httpKinds[f]
			if kind == "" {
				kind = "KindString"
			}
			fields = append(fields, fmt.Sprintf("{Name: %q, Kind: %s}", f, kind))
		}
	}
	var props []string
	if s := et.Segment; s != nil {
		if s.TraitsEmail != nil {
			fmt.Fprintf(b, "\t\tTraitsEmail: %q,\n", *s.TraitsEmail)
		}
		if s.TraitsPhone != nil {
			fmt.Fprintf(b, "\t\tTraitsPhone: %q,\n", *s.TraitsPhone)
		}
		if v, ok := s.ContextDevice["model"]; ok {
			fmt.Fprintf(b, "\t\tDeviceModel: %q,\n", v)
		}
		if v, ok := s.ContextDevice["type"]; ok {
			fmt.Fprintf(b, "\t\tDeviceType: %q,\n", v)
		}
		for k := range s.ContextDevice {
			if k != "model" && k != "type" {
				return fmt.Errorf("unsupported context.device key %q", k)
			}
		}
	}
	// Only a documented type has a property list: every other one sends
	// every field as a property.
	if st == "StatusDocumented" {
		s := et.Segment
		source := map[string]string{}
		for from, to := range s.Renames {
			source[to] = from
		}
		for _, p := range s.Properties {
			field := p
			if from, ok := source[p]; ok {
				field = from
			}
			if since[field] {
				return fmt.Errorf("property %s is a field added after the Segment tab (since)", field)
			}
			props = append(props, fmt.Sprintf("{Field: %q, Name: %q}", field, p))
			if !known[field] {
				known[field] = true
				fields = append(fields, fmt.Sprintf("{Name: %q, Kind: KindString}", field))
			}
		}
		if len(props) == 0 {
			return fmt.Errorf("a documented type without properties")
		}
	}
	if userIDOptional {
		b.WriteString("\t\tUserIDOptional: true,\n")
	}
	fmt.Fprintf(b, "\t\tFields: []FieldSpec{\n\t\t\t%s,\n\t\t},\n", strings.Join(fields, ",\n\t\t\t"))
	if len(props) > 0 {
		fmt.Fprintf(b, "\t\tProperties: []Property{\n\t\t\t%s,\n\t\t},\n", strings.Join(props, ",\n\t\t\t"))
	}
	b.WriteString("\t},\n")
	return nil
}

// httpExampleKinds returns the catalog kind of each object or string member
// of the HTTP example's user and properties objects, by field name; none
// where the type has no HTTP example.
func httpExampleKinds(name string) (map[string]string, error) {
	raw, ok := spec.Example(name, "http")
	if !ok {
		return nil, nil
	}
	var ev struct {
		User       map[string]json.RawMessage `json:"user"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("HTTP example: %w", err)
	}
	out := map[string]string{}
	for _, part := range []map[string]json.RawMessage{ev.User, ev.Properties} {
		for k, v := range part {
			switch bytes.TrimSpace(v)[0] {
			case '{':
				out[k] = "KindObject"
			case '"':
				out[k] = "KindString"
			}
		}
	}
	return out, nil
}
