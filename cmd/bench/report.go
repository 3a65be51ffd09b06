package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// printRun is the progress line of one pipeline at one size, printed as
// soon as it is measured, so a long run shows where it is.
func printRun(w io.Writer, r result) {
	fmt.Fprintf(w, "  %-22s %9.0f events/s  %7.2f CPU s/1M  %7.1f MiB peak RSS  (%.2f s wall%s)\n",
		r.pipeline, r.eventsPerSec(), r.cpuPerMillion(), r.rssMiB(), r.wall.Seconds(), r.note)
}

// report prints the table of every run and then the targets: those of each
// pipeline in ps, per size, and the growth of peak RSS from the smallest size
// to the largest. It knows no pipeline by name: what is compared with what is
// in the pipelines' entries.
func report(w io.Writer, ps []pipeline, results []result, sizes []int) {
	fmt.Fprintln(w, "\n## Results")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pipeline\tevents\tevents/s\tCPU s/1M events\tpeak RSS MiB\tpeak anon MiB\twall s\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.1f\t%.1f\t%.2f\t\n", r.pipeline, r.n, r.eventsPerSec(), r.cpuPerMillion(), r.rssMiB(), r.anonMiB(), r.wall.Seconds())
	}
	tw.Flush()

	get := func(name string, n int) (result, bool) {
		for _, r := range results {
			if r.pipeline == name && r.n == n {
				return r, true
			}
		}
		return result{}, false
	}
	fmt.Fprintln(w, "\n## Targets")
	for _, n := range sizes {
		at := func(name string) (result, bool) { return get(name, n) }
		for _, p := range ps {
			for _, t := range p.targets {
				if l, ok := t.line(p.name, n, at); ok {
					fmt.Fprintln(w, l)
				}
			}
		}
	}
	if len(sizes) >= 2 {
		// Memory must not grow with the number of events: a pipeline streams.
		lo, hi := sizes[0], sizes[len(sizes)-1]
		for _, p := range ps {
			a, okA := get(p.name, lo)
			b, okB := get(p.name, hi)
			if !okA || !okB {
				continue
			}
			ratio := float64(b.maxRSSKiB) / float64(a.maxRSSKiB)
			fmt.Fprintf(w, "peak RSS %s: %d -> %d events = %.1f -> %.1f MiB, x%.2f (target <= 1.2): %s; anonymous (heap, stacks) %.1f -> %.1f MiB, x%.2f\n",
				p.name, lo, hi, a.rssMiB(), b.rssMiB(), ratio, verdict(ratio <= 1.2), a.anonMiB(), b.anonMiB(), float64(b.anonKiB)/float64(max(a.anonKiB, 1)))
		}
	}
}
