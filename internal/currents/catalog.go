// Package currents knows Braze Currents: the catalog of event types and the
// Segment call Braze's own connector makes of each, the decoder for every wire
// shape Braze emits (HTTP envelope, single HTTP event, flat storage record with
// or without Avro union wrapping), and the mapping of a decoded event to a
// Segment track call. It has no Benthos imports.
package currents

import "sort"

//go:generate go run ./internal/gencatalog -out catalog_table.go
//go:generate go run ./internal/gencatalogdoc -readme ../../README.md

// Kind is the JSON kind a Currents field must have.
type Kind uint8

// The kinds of the Avro types Currents uses (int and long are both integers).
const (
	KindAny Kind = iota
	KindString
	KindInt
	KindBool
	KindStringArray
	// KindNumber is any JSON number (Avro float).
	KindNumber
	// KindObject is a JSON object (the HTTP shape's custom and purchase
	// properties).
	KindObject
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
	case KindNumber:
		return "a number"
	case KindObject:
		return "an object"
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

// Status says what Braze documents of the Segment call of a type.
type Status uint8

// The statuses of the contract's types.
const (
	// StatusDocumented: Braze's Segment tab names the event, and the
	// catalog sends what the tab lists.
	StatusDocumented Status = iota + 1
	// StatusNameUnknown: Braze shows a Segment tab, but no readable name.
	StatusNameUnknown
	// StatusNoSegmentTab: Braze documents no Segment tab for the type.
	StatusNoSegmentTab
	// StatusLegacy: a removed type no current glossary has
	// (users.campaigns.Abort, users.canvas.Abort), named by this project.
	StatusLegacy
)

func (s Status) String() string {
	switch s {
	case StatusDocumented:
		return "documented"
	case StatusNameUnknown:
		return "Segment tab, name unknown"
	case StatusNoSegmentTab:
		return "no Segment tab"
	case StatusLegacy:
		return "legacy, named by this project"
	}
	return "unknown"
}

// EventType is one Currents event type and how it maps to Segment.
type EventType struct {
	// Name is Braze's type, e.g. users.messages.email.Click.
	Name string
	// SegmentEvent is the track call's event name: the one Braze's connector
	// uses where it is documented, the project's for the legacy types, and
	// the type itself (e.g. users.messages.banner.Dismiss) where Braze
	// publishes none. A type with a NameField sends each event under its
	// own name instead.
	SegmentEvent string
	// NameField, when set, names the field whose value is the Segment event
	// of each event of the type, in place of SegmentEvent
	// (users.behaviors.CustomEvent: name); an event without it fails.
	NameField string
	// Status says whether Braze documents the name, and why not.
	Status Status
	// Default marks the types of the default selection (Options.Events
	// empty): those Braze's Segment connector sends.
	Default bool
	// TraitsEmail and TraitsPhone name the field sent as context.traits.email
	// and context.traits.phone, if any.
	TraitsEmail string
	TraitsPhone string
	// DeviceModel and DeviceType name the fields sent as context.device.model
	// and context.device.type, if any.
	DeviceModel string
	DeviceType  string
	// UserIDOptional is set where Braze's schema allows a null user_id, or
	// has none.
	UserIDOptional bool
	// Fields are the type's known fields with their kinds.
	Fields []FieldSpec
	// Properties is the connector's property list, in order; empty for a
	// type that is not StatusDocumented, which sends every field.
	Properties []Property
	// CustomString and CustomObject name the fields that carry the event's
	// custom properties, sent as properties of their own: the storage
	// record's JSON-encoded string (properties) and the HTTP event's object
	// (custom_properties, purchase_properties). CustomObject also names the
	// property that holds the custom ones whose names a standard property
	// has. Empty for the types without custom properties.
	CustomString string
	CustomObject string

	allFields bool // every field is a property: Status is not StatusDocumented

	index      int          // position in the catalog
	propFields []bool       // by field id: read by a property
	fieldKinds []kindByID   // known fields, resolved to ids
	props      []propertyID // Properties, resolved to ids
	email      int          // field id or -1
	phone      int
	devModel   int
	devType    int
	nameID     int // NameField's id or -1
	customStr  int // CustomString's id or -1
	customObj  int // CustomObject's id or -1
	// floats marks, by field id, the Avro float fields (KindNumber); nil
	// for a type without any.
	floats []bool
	// reserved are the property names a custom property must not take, in
	// the connector mode and under properties: all; nil for a type without
	// custom properties.
	reserved [2]map[string]bool
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

// Catalog is the immutable table of every supported event type, built once.
// It is safe for concurrent use.
type Catalog struct {
	types  []*EventType
	byName map[string]*EventType
	// fieldIDs numbers every field name any type knows, so that a decoded
	// event stores its values in a flat array instead of a map.
	fieldIDs   map[string]int
	fieldNames []string
	// quotedNames are fieldNames as JSON strings, ready to append.
	quotedNames []string
	// fields is fieldIDs for the decoder's hot path.
	fields fieldTable
	// objectFields marks, by field id, the fields some type knows as
	// KindObject (the HTTP custom properties), which are never union
	// wrappers.
	objectFields []bool
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

// DefaultCatalog returns the catalog of every type of the contract (96).
func DefaultCatalog() *Catalog { return defaultCatalog }

func buildCatalog() *Catalog {
	c := &Catalog{byName: map[string]*EventType{}, fieldIDs: map[string]int{}}
	for _, n := range wellKnownFields {
		c.fieldID(n)
	}
	all := append([]EventType(nil), contractTypes...)
	for i := range all {
		t := &all[i]
		t.index = i
		t.allFields = t.Status != StatusDocumented
		t.email, t.phone, t.devModel, t.devType = c.optionalID(t.TraitsEmail), c.optionalID(t.TraitsPhone), c.optionalID(t.DeviceModel), c.optionalID(t.DeviceType)
		t.nameID, t.customStr, t.customObj = c.optionalID(t.NameField), c.optionalID(t.CustomString), c.optionalID(t.CustomObject)
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
		for _, f := range t.fieldKinds {
			if f.kind == KindNumber {
				if t.floats == nil {
					t.floats = make([]bool, len(c.fieldNames))
				}
				t.floats[f.id] = true
			}
		}
		if t.CustomObject != "" {
			t.reserved = t.reservedNames(c)
		}
	}
	for alias, name := range aliases {
		c.byName[alias] = c.byName[name]
	}
	c.objectFields = make([]bool, len(c.fieldNames))
	for _, t := range c.types {
		for _, f := range t.fieldKinds {
			c.objectFields[f.id] = c.objectFields[f.id] || f.kind == KindObject
		}
	}
	c.fields = newFieldTable(c.fieldNames)
	for _, n := range c.fieldNames {
		c.quotedNames = append(c.quotedNames, quote(n))
	}
	return c
}

func (t *EventType) isProperty(id int) bool { return t.propFields[id] }

// isFloat reports whether the field with this id is an Avro float of t.
func (t *EventType) isFloat(id int) bool { return t.floats != nil && t.floats[id] }

// reservedNames are the names of the standard properties of t, which a
// custom property of the same name does not replace: in the connector mode
// the property list (or, for a type without one, every field), under
// properties: all every field. The fields that carry the custom properties
// are not sent, but CustomObject is where colliding custom properties go.
func (t *EventType) reservedNames(c *Catalog) [2]map[string]bool {
	all := map[string]bool{t.CustomObject: true}
	for _, f := range t.fieldKinds {
		if f.id != t.customStr && f.id != t.customObj {
			all[c.fieldNames[f.id]] = true
		}
	}
	if t.allFields {
		return [2]map[string]bool{all, all}
	}
	connector := map[string]bool{t.CustomObject: true}
	for _, p := range t.Properties {
		connector[p.Name] = true
	}
	return [2]map[string]bool{connector, all}
}

// SendsAllFields reports whether every field of the type is sent as a
// property: true for a type whose Segment call Braze does not document,
// which has no property list.
func (t *EventType) SendsAllFields() bool { return t.allFields }

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

// Types returns every supported type, sorted by name.
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
