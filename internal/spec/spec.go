// Package spec embeds the Currents data contract (Braze's event glossary, the
// Avro schemas of the storage exports and one example per type and wire shape)
// so that tests, the sample generator and the catalog generator all read the
// same copy. It is a verbatim copy of shared/currents-spec: never edit it by
// hand, re-copy it.
package spec

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed events.json avro/*.avsc examples/*.json
var files embed.FS

// FS returns the embedded contract files: events.json, avro/<type>.avsc and
// examples/<type>.<http|storage>.json.
func FS() fs.FS { return files }

// Field is one field of an event type as events.json describes it.
type Field struct {
	Name     string `json:"name"`
	AvroType string `json:"avro_type"`
	Nullable bool   `json:"nullable"`
	HTTP     string `json:"http"`
	Segment  string `json:"segment"`
	// Since is the Currents version that added a field after the samples
	// ("v11", "v12"), empty for the schema's own fields. Such fields are in
	// no .avsc and in no segment.properties: whether Braze's connector
	// sends them is not documented.
	Since string `json:"since"`
}

// Segment is what Braze's own Segment connector sends for an event type.
type Segment struct {
	// Event is the Segment event name, empty (null in events.json) where
	// Braze shows a Segment tab but its name cannot be read.
	Event string `json:"event"`
	// Documented is true where the block is transcribed from a Segment tab
	// that names the event; false where the name is unknown (then the rest
	// of the block is empty too unless the tab body was readable).
	Documented          bool              `json:"documented"`
	ContextDevice       map[string]string `json:"context_device"`
	TraitsEmail         *string           `json:"traits_email"`
	TraitsPhone         *string           `json:"traits_phone"`
	Renames             map[string]string `json:"renames"`
	Properties          []string          `json:"properties"`
	PropertiesNotInAvro []string          `json:"properties_not_in_avro"`
}

// Sources says where each part of an entry comes from.
type Sources struct {
	Avro string `json:"avro"`
	// HTTP is empty (null) for the types without an HTTP shape.
	HTTP string `json:"http"`
	// Segment cites the glossary page whose Segment tab the segment block
	// is transcribed from, or starts with "no Segment tab:" and cites the
	// page that lists the type's other tabs.
	Segment string `json:"segment"`
}

// EventType is one entry of events.json.
type EventType struct {
	Doc            string   `json:"doc"`
	Namespace      string   `json:"namespace"`
	RecordName     string   `json:"record_name"`
	TimeType       string   `json:"time_type"`
	Fields         []Field  `json:"fields"`
	HTTPUserKeys   []string `json:"http_user_keys"`
	HTTPOnlyFields []string `json:"http_only_fields"`
	// Segment is nil where Braze documents no Segment tab (Sources.Segment
	// says so), and for the two legacy Abort types, which no current
	// glossary has.
	Segment *Segment `json:"segment"`
	Sources Sources  `json:"sources"`
	Remarks []string `json:"remarks"`
}

// Events parses events.json, keyed by Currents event type.
func Events() (map[string]EventType, error) {
	b, err := files.ReadFile("events.json")
	if err != nil {
		return nil, err
	}
	var out map[string]EventType
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("events.json: %w", err)
	}
	return out, nil
}

// TypeNames lists the event types of events.json in sorted order.
func TypeNames(events map[string]EventType) []string {
	names := make([]string, 0, len(events))
	for n := range events {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Example returns the example of an event type in one wire shape ("http" or
// "storage"); ok is false where the contract has none (the legacy Abort types,
// users.RandomBucketNumberUpdate, users.UserDeleteRequest, users.UserOrphan
// and users.profile.Update have no HTTP example).
func Example(eventType, shape string) (b []byte, ok bool) {
	b, err := files.ReadFile("examples/" + eventType + "." + shape + ".json")
	return b, err == nil
}

// AvroSchema returns the Avro schema of an event type's storage export.
func AvroSchema(eventType string) ([]byte, error) {
	return files.ReadFile("avro/" + eventType + ".avsc")
}

// AvroTypes lists the event types that have an Avro schema.
func AvroTypes() []string {
	entries, _ := fs.ReadDir(files, "avro")
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".avsc"))
	}
	return out
}
