package currents

import (
	"fmt"
	"testing"
)

// A repeated value is made once; an escaped one is decoded; past
// recentKept distinct values the oldest slot is replaced, and every answer
// stays the value's own string.
func TestRecentStrings(t *testing.T) {
	var r recentStrings
	a := r.value([]byte(`"ws-1"`), false)
	b := r.value([]byte(`"ws-1"`), false)
	if a != "ws-1" || b != "ws-1" {
		t.Fatalf("got %q, %q", a, b)
	}
	if allocs := testing.AllocsPerRun(100, func() { r.value([]byte(`"ws-1"`), false) }); allocs != 0 {
		t.Fatalf("a repeated value allocates %v times", allocs)
	}
	if got := r.value([]byte(`"a\u00e9"`), true); got != "aé" {
		t.Fatalf("escaped: got %q", got)
	}
	for i := range 3 * recentKept {
		want := fmt.Sprintf("v%d", i)
		if got := r.value([]byte(`"`+want+`"`), false); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		if r.n > recentKept {
			t.Fatalf("keeps %d strings", r.n)
		}
	}
	if got := r.value([]byte(`"ws-1"`), false); got != "ws-1" {
		t.Fatalf("after replacement: got %q", got)
	}
}
