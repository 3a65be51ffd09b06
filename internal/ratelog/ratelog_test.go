package ratelog

import (
	"strings"
	"testing"
	"time"
)

func TestLimiterLetsOneLinePerKeyThroughPerInterval(t *testing.T) {
	l := New(time.Hour)
	if due, held := l.Allow("a"); !due || held != 0 {
		t.Fatalf("first line: due %v, held %d", due, held)
	}
	for range 3 {
		if due, _ := l.Allow("a"); due {
			t.Fatal("a second line within the interval was let through")
		}
	}
	if due, _ := l.Allow("b"); !due {
		t.Fatal("another key is limited on its own")
	}
	l.last["a"] = time.Now().Add(-2 * time.Hour)
	due, held := l.Allow("a")
	if !due || held != 3 {
		t.Fatalf("after the interval: due %v, held %d, want 3", due, held)
	}
	if n := l.Note(held); !strings.Contains(n, "3 more") || !strings.Contains(n, "1h0m0s") {
		t.Fatalf("note: %q", n)
	}
}

func TestLimiterWithoutIntervalLetsTheFirstOfEachKindThrough(t *testing.T) {
	l := New(0)
	if due, _ := l.Allow("skip|x"); !due {
		t.Fatal("the first line is due")
	}
	l.last["skip|x"] = time.Now().Add(-24 * time.Hour)
	if due, _ := l.Allow("skip|x"); due {
		t.Fatal("a zero interval lets a kind through once")
	}
	if !strings.Contains(l.Note(0), "further ones") {
		t.Fatal(l.Note(0))
	}
}
