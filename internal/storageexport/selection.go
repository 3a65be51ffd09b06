package storageexport

import (
	"fmt"
	"strings"
	"time"
)

// Selection is the part of an export a run reads: the keys under Prefix, of
// the event types in Types (all when empty), in the hour partitions from
// Since to Until, both inclusive (unbounded when zero).
type Selection struct {
	Prefix       string
	Types        []string
	Since, Until time.Time
}

// typeSelected reports whether events of type t are read.
func (s *Selection) typeSelected(t string) bool {
	if len(s.Types) == 0 {
		return true
	}
	for _, x := range s.Types {
		if x == t {
			return true
		}
	}
	return false
}

// hourSelected reports whether the partition of hour h is read.
func (s *Selection) hourSelected(h time.Time) bool {
	if !s.Since.IsZero() && h.Before(s.Since) {
		return false
	}
	if !s.Until.IsZero() && h.After(s.Until) {
		return false
	}
	return true
}

// Validate says what is wrong with a selection a person wrote.
func (s *Selection) Validate() error {
	if !s.Since.IsZero() && !s.Until.IsZero() && s.Until.Before(s.Since) {
		return fmt.Errorf("until (%s) is before since (%s): no hour partition lies between them", s.Until.Format(HourLayout), s.Since.Format(HourLayout))
	}
	for _, t := range s.Types {
		if strings.TrimSpace(t) == "" || strings.Contains(t, "/") {
			return fmt.Errorf("event type %q is not a Currents event type (like users.messages.email.Send)", t)
		}
	}
	return nil
}

// ParseHour reads a since or until bound: an hour partition as Braze names it
// (2026-11-28-13), a day (2026-11-28: its first hour for since, its last for
// until), or an RFC 3339 time (its hour). The result is UTC.
func ParseHour(s string, until bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if h, err := time.Parse(HourLayout, s); err == nil {
		return h, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if until {
			return d.Add(23 * time.Hour), nil
		}
		return d, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Truncate(time.Hour), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an hour: want a partition like 2026-11-28-13 (UTC), a day like 2026-11-28, or an RFC 3339 time", s)
}
