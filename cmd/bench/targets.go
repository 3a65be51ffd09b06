package main

import (
	"fmt"
	"strings"
)

// A target is one line under "## Targets", printed for every size at which
// all the pipelines it names were measured. It compares pipelines measured in
// the same run at the same size: on a shared machine absolute figures move
// with the load, ratios within one run much less.
type target struct {
	// figures are printed on one line, joined by "; ".
	figures []figure
	// bound is what the figure is held to, met or NOT MET; nil for an
	// (info) line, which explains a target rather than being one. A bounded
	// target has exactly one figure.
	bound *bound
}

// A figure compares the pipeline of is with the pipeline over is.
type figure struct {
	// of is the pipeline compared; empty for the pipeline whose entry holds
	// the target.
	of     string
	over   string
	metric metric
	// note, if any, is printed in parentheses after the value.
	note string
}

type metric int

const (
	// cpuRatio is of's CPU time over over's (user + sys of the child).
	cpuRatio metric = iota
	// throughputRatio is of's events/s over over's (wall clock).
	throughputRatio
	// cpuDifference is what of costs on top of over, in CPU seconds per
	// million events: the absolute size of a ratio's numerator.
	cpuDifference
)

// bound is "at most limit" or "at least limit".
type bound struct {
	atMost bool
	limit  float64
}

// cpuAtMost: the pipeline's CPU is at most limit times that of against.
func cpuAtMost(against string, limit float64) target {
	return target{figures: []figure{{over: against, metric: cpuRatio}}, bound: &bound{atMost: true, limit: limit}}
}

// cpuAtLeast: the pipeline's CPU is at least limit times that of against
// (the baseline is that much dearer than ours).
func cpuAtLeast(against string, limit float64) target {
	return target{figures: []figure{{over: against, metric: cpuRatio}}, bound: &bound{limit: limit}}
}

// throughputAtLeast: the pipeline's events/s are at least limit times those
// of against.
func throughputAtLeast(against string, limit float64) target {
	return target{figures: []figure{{over: against, metric: throughputRatio}}, bound: &bound{limit: limit}}
}

// info is a line with no verdict.
func info(figures ...figure) target { return target{figures: figures} }

// value is the figure computed from the two runs.
func (m metric) value(of, over result) float64 {
	switch m {
	case throughputRatio:
		return of.eventsPerSec() / over.eventsPerSec()
	case cpuDifference:
		return of.cpuPerMillion() - over.cpuPerMillion()
	default:
		return of.cpu().Seconds() / over.cpu().Seconds()
	}
}

// format writes the figure as the report prints it.
func (m metric) format(of, over string, v float64) string {
	switch m {
	case throughputRatio:
		return fmt.Sprintf("%s events/s / %s events/s = %.2f", of, over, v)
	case cpuDifference:
		return fmt.Sprintf("%s CPU - %s CPU = %.1f s per 1M events", of, over, v)
	default:
		return fmt.Sprintf("%s CPU / %s CPU = %.2f", of, over, v)
	}
}

func (b bound) met(v float64) bool {
	if b.atMost {
		return v <= b.limit
	}
	return v >= b.limit
}

func (b bound) String() string {
	op := ">="
	if b.atMost {
		op = "<="
	}
	return fmt.Sprintf("%s %g", op, b.limit)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

// line renders t for the pipeline self at size n, with get looking up the
// run of a pipeline at that size; ok is false if one of the pipelines t names
// was not measured there.
func (t target) line(self string, n int, get func(name string) (result, bool)) (string, bool) {
	var parts []string
	var last float64
	for _, f := range t.figures {
		of := f.of
		if of == "" {
			of = self
		}
		a, okA := get(of)
		b, okB := get(f.over)
		if !okA || !okB {
			return "", false
		}
		last = f.metric.value(a, b)
		s := f.metric.format(of, f.over, last)
		if f.note != "" {
			s += " (" + f.note + ")"
		}
		parts = append(parts, s)
	}
	if t.bound == nil {
		return fmt.Sprintf("[%d] (info) %s", n, strings.Join(parts, "; ")), true
	}
	return fmt.Sprintf("[%d] %s (target %s): %s", n, strings.Join(parts, "; "), t.bound, verdict(t.bound.met(last))), true
}
