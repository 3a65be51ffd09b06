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
}

// Segment is what Braze's own Segment connector sends for an event type.
type Segment struct {
	Event               string            `json:"event"`
	ContextDevice       map[string]string `json:"context_device"`
	TraitsEmail         *string           `json:"traits_email"`
	TraitsPhone         *string           `json:"traits_phone"`
	Renames             map[string]string `json:"renames"`
	Properties          []string          `json:"properties"`
	PropertiesNotInAvro []string          `json:"properties_not_in_avro"`
}

// EventType is one entry of events.json.
type EventType struct {
	Namespace      string   `json:"namespace"`
	RecordName     string   `json:"record_name"`
	TimeType       string   `json:"time_type"`
	Fields         []Field  `json:"fields"`
	HTTPUserKeys   []string `json:"http_user_keys"`
	HTTPOnlyFields []string `json:"http_only_fields"`
	// Segment is nil for the two legacy Abort types, which Braze's connector
	// never documented.
	Segment *Segment `json:"segment"`
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
// "storage"); ok is false where the contract has none (the legacy Abort types
// have no HTTP example).
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
