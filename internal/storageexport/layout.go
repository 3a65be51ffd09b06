package storageexport

import (
	"path"
	"strings"
	"time"
)

// HourLayout is how Braze names an hour partition: date=2026-11-28-13 holds
// the events of 13:00 to 13:59 UTC on 28 November 2026.
const HourLayout = "2006-01-02-15"

// Path segments of Braze's layout that the listing understands.
const (
	typeSegment = "event_type="
	hourSegment = "date="
	objectExt   = ".avro"
)

// Object is one export file as the listing found it. EventType, Hour and
// SchemaID are what its key says in Braze's layout; each is zero when the key
// does not say it (the reader then types the records by the file's schema).
type Object struct {
	Key  string
	Size int64
	// ModTime is when the storage service last wrote the object, for the lag
	// of follow mode.
	ModTime time.Time

	EventType string
	Hour      time.Time
	// SchemaID is the folder between the hour partition and the file (Braze
	// writes one per schema version of the type), "" when there is none.
	SchemaID string
}

// IsExportObject reports whether key names an export file: anything ending in
// .avro, wherever it lies under the prefix.
func IsExportObject(key string) bool { return strings.HasSuffix(key, objectExt) }

// ParseKey reads what Braze's layout says in key. It never fails: a key in
// another layout gives an Object with only Key set.
func ParseKey(key string) Object {
	o := Object{Key: key}
	segs := strings.Split(key, "/")
	for i, s := range segs[:len(segs)-1] { // the last one is the file name
		switch {
		case strings.HasPrefix(s, typeSegment):
			o.EventType = s[len(typeSegment):]
		case strings.HasPrefix(s, hourSegment):
			if h, ok := parsePartitionHour(s); ok {
				o.Hour = h
				if i+1 < len(segs)-1 {
					o.SchemaID = segs[i+1]
				}
			}
		}
	}
	return o
}

// dirSegment returns the last segment of a directory key as a listing with
// delimiter "/" returns it ("a/b/event_type=x/" gives "event_type=x").
func dirSegment(dir string) string {
	return path.Base(strings.TrimSuffix(dir, "/"))
}

// parsePartitionHour reads an hour partition segment (date=2026-11-28-13).
func parsePartitionHour(seg string) (time.Time, bool) {
	if !strings.HasPrefix(seg, hourSegment) {
		return time.Time{}, false
	}
	h, err := time.Parse(HourLayout, seg[len(hourSegment):])
	if err != nil {
		return time.Time{}, false
	}
	return h, true
}

// EventTypeOfSchema returns the Currents event type a record schema names:
// Braze's schemas are named like the type, under a namespace that starts with
// the export's storage ("dataexport.S3.inner.users.messages.email" + "Send"
// is users.messages.email.Send). It returns "" for a name it cannot place.
func EventTypeOfSchema(namespace, name string) string {
	if name == "" {
		return ""
	}
	ns := namespace
	if rest, ok := strings.CutPrefix(ns, "dataexport."); ok {
		// dataexport.<storage>.inner.<type namespace>
		if i := strings.Index(rest, ".inner."); i >= 0 {
			ns = rest[i+len(".inner."):]
		} else if rest, ok := strings.CutSuffix(rest, ".inner"); ok && !strings.Contains(rest, ".") {
			ns = ""
		}
	}
	if ns == "" {
		return name
	}
	return ns + "." + name
}
