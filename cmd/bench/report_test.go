package main

import (
	"strings"
	"testing"
)

// The report prints the table, then each pipeline's targets per size in the
// table's order (leaving out those whose pipelines did not run at that size),
// then the growth of peak RSS of every pipeline run at the smallest and the
// largest size. The pipelines here are the test's own, so the expected text
// stays put when a pipeline is added to the harness.
func TestReport(t *testing.T) {
	ps := []pipeline{
		{name: "base"},
		{name: "floor", diag: true},
		{name: "ours", targets: []target{
			cpuAtMost("base", 1.5),
			info(figure{over: "base", metric: cpuDifference}),
			info(figure{of: "base", over: "floor", metric: cpuRatio, note: "the stage"}, figure{over: "floor", metric: cpuRatio}),
		}},
		{name: "theirs", targets: []target{cpuAtLeast("ours", 5)}},
	}
	withRSS := func(r result, rss, anon int64) result { r.maxRSSKiB, r.anonKiB = rss, anon; return r }
	results := []result{
		withRSS(measured("base", 100000, 5, 2), 30720, 10240),
		withRSS(measured("ours", 100000, 4, 2.8), 32768, 11264),
		withRSS(measured("base", 1000000, 50, 20), 33792, 10240),
		withRSS(measured("floor", 1000000, 50, 16), 30720, 9216),
		withRSS(measured("ours", 1000000, 40, 31), 40960, 12288),
		withRSS(measured("theirs", 1000000, 160, 155), 51200, 20480),
	}
	var b strings.Builder
	report(&b, ps, results, []int{100000, 1000000})
	want := `
## Results
  pipeline   events  events/s  CPU s/1M events  peak RSS MiB  peak anon MiB  wall s
      base   100000     20000            20.00          30.0           10.0    5.00
      ours   100000     25000            28.00          32.0           11.0    4.00
      base  1000000     20000            20.00          33.0           10.0   50.00
     floor  1000000     20000            16.00          30.0            9.0   50.00
      ours  1000000     25000            31.00          40.0           12.0   40.00
    theirs  1000000      6250           155.00          50.0           20.0  160.00

## Targets
[100000] ours CPU / base CPU = 1.40 (target <= 1.5): met
[100000] (info) ours CPU - base CPU = 8.0 s per 1M events
[1000000] ours CPU / base CPU = 1.55 (target <= 1.5): NOT MET
[1000000] (info) ours CPU - base CPU = 11.0 s per 1M events
[1000000] (info) base CPU / floor CPU = 1.25 (the stage); ours CPU / floor CPU = 1.94
[1000000] theirs CPU / ours CPU = 5.00 (target >= 5): met
peak RSS base: 100000 -> 1000000 events = 30.0 -> 33.0 MiB, x1.10 (target <= 1.2): met; anonymous (heap, stacks) 10.0 -> 10.0 MiB, x1.00
peak RSS ours: 100000 -> 1000000 events = 32.0 -> 40.0 MiB, x1.25 (target <= 1.2): NOT MET; anonymous (heap, stacks) 11.0 -> 12.0 MiB, x1.09
`
	if got := b.String(); got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
}

// One size: no RSS growth lines.
func TestReportOneSize(t *testing.T) {
	ps := []pipeline{{name: "base"}, {name: "ours", targets: []target{cpuAtMost("base", 1.5)}}}
	var b strings.Builder
	report(&b, ps, []result{measured("base", 1000, 1, 1), measured("ours", 1000, 1, 1)}, []int{1000})
	if got := b.String(); strings.Contains(got, "peak RSS base") || !strings.HasSuffix(got, "## Targets\n[1000] ours CPU / base CPU = 1.00 (target <= 1.5): met\n") {
		t.Errorf("report:\n%s", got)
	}
}
