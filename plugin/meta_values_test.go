package plugin

import (
	"fmt"
	"testing"
)

// A string is boxed once while it is kept, and past metaValuesKept distinct
// strings each is still given its own value.
func TestMetaValues(t *testing.T) {
	var m metaValues
	first := m.of("users.messages.email.Send")
	if allocs := testing.AllocsPerRun(100, func() { _ = m.of("users.messages.email.Send") }); allocs != 0 {
		t.Fatalf("a kept string is boxed again: %v allocations", allocs)
	}
	if first.(string) != "users.messages.email.Send" {
		t.Fatalf("got %v", first)
	}
	for i := range 2 * metaValuesKept {
		want := fmt.Sprintf("s%d", i)
		if got := m.of(want); got.(string) != want {
			t.Fatalf("got %v, want %s", got, want)
		}
	}
	if m.n != metaValuesKept {
		t.Fatalf("keeps %d values, want %d", m.n, metaValuesKept)
	}
}
