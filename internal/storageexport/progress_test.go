package storageexport

import (
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	start := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	p := NewProgress(start)
	for range 4 {
		p.Listed(1 << 20)
	}
	p.Skipped()
	p.Read(3000, 2<<20)
	p.Done(1<<20, false)
	p.Done(1<<20, true)

	line := p.Snapshot(start.Add(10 * time.Second)).Line()
	for _, want := range []string{"2 of 4+ (still listing) objects done", "1 damaged", "1 more done by an earlier run", "3000 events read (300/s)", "2.0 MiB"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "left") {
		t.Errorf("an ETA before the listing is complete: %q", line)
	}

	p.ListingDone()
	s := p.Snapshot(start.Add(10 * time.Second))
	eta, ok := s.ETA()
	// Half the bytes in 10 s: 10 s left.
	if !ok || eta != 10*time.Second {
		t.Errorf("ETA = %v, %v; want 10s", eta, ok)
	}
	if !strings.Contains(s.Line(), "2 of 4 objects done") || !strings.Contains(s.Line(), "about 10s left") {
		t.Errorf("progress line %q", s.Line())
	}
}
