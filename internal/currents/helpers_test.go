package currents

import (
	"encoding/json"
	"testing"
)

func mustMapper(t *testing.T, opts Options) *Mapper {
	t.Helper()
	m, err := NewMapper(DefaultCatalog(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func decodeCall(t *testing.T, r Result) map[string]any {
	t.Helper()
	if r.Outcome != Mapped {
		t.Fatalf("outcome %v err %v skip %q", r.Outcome, r.Err, r.SkipReason)
	}
	var out map[string]any
	if err := json.Unmarshal(r.Track, &out); err != nil {
		t.Fatalf("invalid JSON %v: %s", err, r.Track)
	}
	return out
}

func mapOne(t *testing.T, m *Mapper, raw []byte, hint string) Result {
	t.Helper()
	rs := m.Map(raw, &Origin{DefaultType: hint})
	if len(rs) != 1 {
		t.Fatalf("got %d results, want 1", len(rs))
	}
	return rs[0]
}
