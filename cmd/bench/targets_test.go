package main

import "testing"

func TestMetricValue(t *testing.T) {
	ours, base := measured("ours", 1000000, 40, 28), measured("base", 1000000, 50, 20)
	for _, c := range []struct {
		m    metric
		want float64
	}{
		{cpuRatio, 1.4},         // 28 s / 20 s
		{throughputRatio, 1.25}, // 25,000 / 20,000 events/s
		{cpuDifference, 8},      // 28 - 20 CPU s per 1M events
	} {
		if got := c.m.value(ours, base); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("metric %d = %v, want %v", c.m, got, c.want)
		}
	}
}

// A ratio on the limit meets the target, either way.
func TestBound(t *testing.T) {
	for _, c := range []struct {
		b    bound
		v    float64
		met  bool
		text string
	}{
		{bound{atMost: true, limit: 1.5}, 1.5, true, "<= 1.5"},
		{bound{atMost: true, limit: 1.5}, 1.51, false, "<= 1.5"},
		{bound{limit: 5}, 5, true, ">= 5"},
		{bound{limit: 5}, 4.99, false, ">= 5"},
	} {
		if got := c.b.met(c.v); got != c.met {
			t.Errorf("%s met by %v = %v", c.b, c.v, got)
		}
		if got := c.b.String(); got != c.text {
			t.Errorf("bound %+v prints %q, want %q", c.b, got, c.text)
		}
	}
}

func TestTargetLine(t *testing.T) {
	runs := map[string]result{
		"ours":   measured("ours", 1000, 40, 28),
		"base":   measured("base", 1000, 50, 20),
		"floor":  measured("floor", 1000, 50, 16),
		"theirs": measured("theirs", 1000, 160, 140),
	}
	get := func(name string) (result, bool) { r, ok := runs[name]; return r, ok }
	for _, c := range []struct {
		t    target
		want string
	}{
		{cpuAtMost("base", 1.5), "[1000] ours CPU / base CPU = 1.40 (target <= 1.5): met"},
		{cpuAtMost("base", 1.2), "[1000] ours CPU / base CPU = 1.40 (target <= 1.2): NOT MET"},
		{cpuAtLeast("theirs", 5), "[1000] ours CPU / theirs CPU = 0.20 (target >= 5): NOT MET"},
		{throughputAtLeast("theirs", 3), "[1000] ours events/s / theirs events/s = 4.00 (target >= 3): met"},
		{info(figure{over: "base", metric: cpuDifference}), "[1000] (info) ours CPU - base CPU = 8000.0 s per 1M events"},
		{info(figure{of: "base", over: "floor", metric: cpuRatio, note: "the stage"}, figure{over: "floor", metric: cpuRatio}),
			"[1000] (info) base CPU / floor CPU = 1.25 (the stage); ours CPU / floor CPU = 1.75"},
	} {
		got, ok := c.t.line("ours", 1000, get)
		if !ok || got != c.want {
			t.Errorf("got %q (%v)\nwant %q", got, ok, c.want)
		}
	}
	// A target naming a pipeline that was not run is left out.
	if l, ok := cpuAtMost("absent", 2).line("ours", 1000, get); ok {
		t.Errorf("printed %q without the other pipeline", l)
	}
	if l, ok := cpuAtMost("base", 2).line("absent", 1000, get); ok {
		t.Errorf("printed %q without the pipeline itself", l)
	}
}
