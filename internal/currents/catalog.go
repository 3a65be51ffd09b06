// Package currents knows Braze Currents: the catalog of event types and the
// Segment call Braze's own connector makes of each, the decoder for every wire
// shape Braze emits (HTTP envelope, single HTTP event, flat storage record with
// or without Avro union wrapping), and the mapping of a decoded event to a
// Segment track call. It has no Benthos imports.
package currents

import "sort"

//go:generate go run ./internal/gencatalog -out catalog_table.go

// Kind is the JSON kind a Currents field must have.
type Kind uint8

// The kinds of the Avro types Currents uses (int and long are both integers).
const (
	KindAny Kind = iota
	KindString
	KindInt
	KindBool
	KindStringArray
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "a string"
	case KindInt:
		return "an integer"
	case KindBool:
		return "a boolean"
	case KindStringArray:
		return "an array of strings"
	}
	return "any JSON value"
}

// FieldSpec is one field of an event type.
type FieldSpec struct {
	Name string
	Kind Kind
}

// Property is one entry of the connector's property list: the Currents field it
// reads and the property name it is sent as (they differ only for renames such
// as content_card_id → card_id).
type Property struct {
	Field string
	Name  string
}

// EventType is one Currents event type and how it maps to Segment.
type EventType struct {
	// Name is Braze's type, e.g. users.messages.email.Click.
	Name string
	// SegmentEvent is the track call's event name in Braze's connector.
	SegmentEvent string
	// TraitsEmail and TraitsPhone name the field sent as context.traits.email
	// and context.traits.phone, if any.
	TraitsEmail string
	TraitsPhone string
	// DeviceModel and DeviceType name the fields sent as context.device.model
	// and context.device.type, if any.
	DeviceModel string
	DeviceType  string
	// UserIDOptional is set where Braze's schema allows a null user_id.
	UserIDOptional bool
	// Legacy marks the two removed Abort types, named by this project.
	Legacy bool
	// Generic marks a documented type without a schema: every field is sent
	// as a property and no field kind is checked.
	Generic bool
	// Fields are the type's known fields with their kinds.
	Fields []FieldSpec
	// Properties is the connector's property list, in order.
	Properties []Property

	index      int          // position in the catalog
	propFields []bool       // by field id: read by a property
	fieldKinds []kindByID   // known fields, resolved to ids
	props      []propertyID // Properties, resolved to ids
	email      int          // field id or -1
	phone      int
	devModel   int
	devType    int
}

type kindByID struct {
	id   int
	kind Kind
}

type propertyID struct {
	id int
	// quoted is the property name as a JSON string, ready to append.
	quoted string
}

// aliases are other spellings Braze's documentation uses for a type.
var aliases = map[string]string{
	"users_campaigns_abort": "users.campaigns.Abort",
	"users_canvas_abort":    "users.canvas.Abort",
}

// documentedTypes exist in Braze's glossary without a schema in the contract:
// their fields are mapped generically.
var documentedTypes = []EventType{
	{Name: "users.messages.sms.CarrierSend", SegmentEvent: "SMS Sent to Carrier"},
	{Name: "users.messages.email.Deferral", SegmentEvent: "Email Deferred"},
	{Name: "users.messages.webhook.Failure", SegmentEvent: "Webhook Failed"},
	{Name: "users.messages.whatsapp.Click", SegmentEvent: "WhatsApp Tracked Link Clicked"},
	{Name: "users.messages.featureflag.Impression", SegmentEvent: "Feature Flag Experiment Impressed"},
	{Name: "users.messages.banner.Abort", SegmentEvent: "Banner Aborted"},
	{Name: "users.messages.banner.Click", SegmentEvent: "Banner Clicked"},
	{Name: "users.canvasstep.Progression", SegmentEvent: "Canvas Step Progression"},
	{Name: "users.messages.liveactivity.Send", SegmentEvent: "Live Activity Sent"},
	{Name: "users.messages.liveactivity.Outcome", SegmentEvent: "Live Activity Outcome"},
}

// Catalog is the immutable table of every supported event type, built once.
// It is safe for concurrent use.
type Catalog struct {
	types  []*EventType
	byName map[string]*EventType
	// fieldIDs numbers every field name any type knows, so that a decoded
	// event stores its values in a flat array instead of a map.
	fieldIDs   map[string]int
	fieldNames []string
	// fields is fieldIDs for the decoder's hot path.
	fields fieldTable
}

// Well-known field ids, fixed so the decoder can test them without lookups.
const (
	fieldID = iota
	fieldUserID
	fieldExternalUserID
	fieldTime
	fieldTimezone
	fieldEventType
	fieldDeviceID
	fieldEmailAddress
	fieldToPhoneNumber
	fieldUserPhoneNumber
	fieldAppGroupID
)

var wellKnownFields = []string{
	"id", "user_id", "external_user_id", "time", "timezone", "event_type",
	"device_id", "email_address", "to_phone_number", "user_phone_number", "app_group_id",
}

var defaultCatalog = buildCatalog()

// DefaultCatalog returns the catalog of every type this package supports: the
// 50 types of the contract and the documented types without a schema.
func DefaultCatalog() *Catalog { return defaultCatalog }

func buildCatalog() *Catalog {
	c := &Catalog{byName: map[string]*EventType{}, fieldIDs: map[string]int{}}
	for _, n := range wellKnownFields {
		c.fieldID(n)
	}
	all := make([]EventType, 0, len(contractTypes)+len(documentedTypes))
	all = append(all, contractTypes...)
	for _, d := range documentedTypes {
		d.Generic = true
		all = append(all, d)
	}
	for i := range all {
		t := &all[i]
		t.index = i
		t.email, t.phone, t.devModel, t.devType = c.optionalID(t.TraitsEmail), c.optionalID(t.TraitsPhone), c.optionalID(t.DeviceModel), c.optionalID(t.DeviceType)
		if t.Generic {
			t.email = fieldEmailAddress
		}
		for _, f := range t.Fields {
			if c.fieldID(f.Name) < fieldDeviceID {
				continue // identity, time and timezone are checked for every type
			}
			t.fieldKinds = append(t.fieldKinds, kindByID{id: c.fieldID(f.Name), kind: f.Kind})
		}
		for _, p := range t.Properties {
			t.props = append(t.props, propertyID{id: c.fieldID(p.Field), quoted: quote(p.Name)})
		}
		c.types = append(c.types, t)
		c.byName[t.Name] = t
	}
	for _, t := range c.types {
		t.propFields = make([]bool, len(c.fieldNames))
		for _, p := range t.props {
			t.propFields[p.id] = true
		}
	}
	for alias, name := range aliases {
		c.byName[alias] = c.byName[name]
	}
	c.fields = newFieldTable(c.fieldNames)
	return c
}

func (t *EventType) isProperty(id int) bool { return t.propFields[id] }

func (c *Catalog) fieldID(name string) int {
	if id, ok := c.fieldIDs[name]; ok {
		return id
	}
	id := len(c.fieldNames)
	c.fieldIDs[name] = id
	c.fieldNames = append(c.fieldNames, name)
	return id
}

func (c *Catalog) optionalID(name string) int {
	if name == "" {
		return -1
	}
	return c.fieldID(name)
}

// Lookup returns the event type of a Currents type name or one of its aliases.
func (c *Catalog) Lookup(name string) (*EventType, bool) {
	t, ok := c.byName[name]
	return t, ok
}

// Types returns every supported type, contract types first.
func (c *Catalog) Types() []*EventType { return c.types }

// Names returns every accepted type name, aliases included, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.byName))
	for n := range c.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
