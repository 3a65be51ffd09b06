package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
)

// The alerts (deploy/prometheus/alerts.yaml), the Grafana dashboard
// (deploy/grafana/dashboard.json) and the metric names of the docs are
// checked against what a running binary exports at /metrics: a renamed or
// misspelt metric makes an alert that never fires, so the names come from a
// scrape, never from the docs.

// requirePromtool returns promtool's path, or skips the test when it is
// missing, except in CI (CURRENTS_SEGMENT_CI=1, set by .ci/run, which
// installs it), where a missing promtool must not pass unnoticed.
func requirePromtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("CURRENTS_SEGMENT_CI") == "1" {
		t.Fatal("promtool not found and CURRENTS_SEGMENT_CI=1: install it (apt-get install prometheus), as .ci/run does")
	}
	t.Skip("promtool not found: apt-get install -y --no-install-recommends prometheus to check the alert rules")
	return ""
}

// TestAlertRulesPromtool checks the rules and runs their unit tests: each
// alert fires on a series that should page and stays silent otherwise.
func TestAlertRulesPromtool(t *testing.T) {
	promtool := requirePromtool(t)
	dir := filepath.Join(repoRoot(t), "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestDashboardPanels checks, without a scrape, that the dashboard parses,
// has its datasource variable, and graphs what an operator looks at first.
func TestDashboardPanels(t *testing.T) {
	root := repoRoot(t)
	used := map[string]bool{}
	for _, expr := range dashboardExprs(t, root) {
		for _, n := range promqlMetricNames(expr) {
			used[n] = true
		}
	}
	for _, want := range []string{
		"braze_currents_events_received", "currents_events_mapped", "currents_events_skipped", "currents_events_failed",
		"segment_messages_accepted", "segment_messages_failed", "segment_request_latency_seconds_bucket",
		"braze_currents_request_latency_seconds_bucket", "buffer_disk_backlog_bytes", "buffer_disk_oldest_message_age_seconds",
		"output_sent", "braze_storage_objects_done", "braze_storage_lag_seconds",
	} {
		if !used[want] {
			t.Errorf("no dashboard panel graphs %s", want)
		}
	}
}

// alertRules reads the alert names and expressions of alerts.yaml.
func alertRules(t *testing.T, root string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	if len(out) == 0 {
		t.Fatal("alerts.yaml has no alerts")
	}
	return out
}

// dashboardExprs returns every query of the dashboard: the panels' target
// expressions (rows nest panels) and the template variables' queries.
func dashboardExprs(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Type    string                  `json:"type"`
		Title   string                  `json:"title"`
		Targets []struct{ Expr string } `json:"targets"`
		Panels  []json.RawMessage       `json:"panels"`
	}
	var d struct {
		SchemaVersion int               `json:"schemaVersion"`
		Panels        []json.RawMessage `json:"panels"`
		Templating    struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("dashboard schemaVersion %d: want a current Grafana's (39)", d.SchemaVersion)
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	hasDatasource := false
	for _, v := range d.Templating.List {
		switch q := v.Query.(type) {
		case string:
			if v.Type == "datasource" && q == "prometheus" {
				hasDatasource = true
			}
		case map[string]any:
			if s, ok := q["query"].(string); ok {
				exprs = append(exprs, s)
			}
		}
	}
	if !hasDatasource {
		t.Error("the dashboard has no Prometheus datasource variable")
	}
	return exprs
}

var (
	promqlString  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlMatcher = regexp.MustCompile(`\{[^}]*\}`)
	promqlRange   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGroup   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlVar     = regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_]\w*`)
	promqlIdent   = regexp.MustCompile(`(?:^|[^A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)`)
	labelValues   = regexp.MustCompile(`label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,[^)]*\)`)
)

var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "offset": true, "bool": true, "by": true, "without": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true, "Inf": true, "NaN": true,
}

// promqlMetricNames returns the metric names an expression reads: the
// identifiers left once strings, label matchers, ranges, grouping clauses
// and Grafana variables are removed, less function and aggregation names
// (followed by "(") and keywords. Grafana's label_values(metric, label)
// counts its metric.
func promqlMetricNames(expr string) []string {
	var out []string
	for _, m := range labelValues.FindAllStringSubmatch(expr, -1) {
		out = append(out, m[1])
	}
	e := labelValues.ReplaceAllString(expr, " ")
	e = promqlString.ReplaceAllString(e, `""`)
	e = promqlMatcher.ReplaceAllString(e, " ")
	e = promqlRange.ReplaceAllString(e, " ")
	e = promqlGroup.ReplaceAllString(e, " ")
	e = promqlVar.ReplaceAllString(e, " ")
	for _, loc := range promqlIdent.FindAllStringSubmatchIndex(e, -1) {
		name := e[loc[2]:loc[3]]
		rest := strings.TrimLeft(e[loc[3]:], " \t\n")
		if promqlKeywords[name] || strings.HasPrefix(rest, "(") {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestObservabilityPromqlMetricNames checks the name extraction the other
// tests rely on.
func TestObservabilityPromqlMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (job, instance) (increase(segment_write_key_rejected[10m])) > 0`:                                  {"segment_write_key_rejected"},
		`max by (instance) (predict_linear(buffer_disk_backlog_bytes[1h], 6 * 3600) - buffer_disk_max_bytes)`:     {"buffer_disk_backlog_bytes", "buffer_disk_max_bytes"},
		`sum(x{status=~"4..|5xx"}) or (y unless y offset 15m) / 1e3`:                                              {"x", "y"},
		`histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{instance=~"$instance"}[$__rate_interval])))`: {"a_seconds_bucket"},
		`label_values(input_received, instance)`:                                                                  {"input_received"},
	} {
		if got := promqlMetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", expr, got, want)
		}
	}
}

// docMetricPrefixes are the prefixes of this project's own metrics: a
// backticked name with one in README.md or docs/*.md is a metric, except
// the metadata keys below.
var docMetricPrefixes = []string{"segment_", "buffer_disk_", "braze_currents_", "braze_storage_", "currents_events_"}

// notMetrics are backticked names with those prefixes that the docs use for
// something else.
var notMetrics = map[string]string{
	"buffer_disk_damaged_seq": "metadata of a damaged record's message",
	"braze_currents_version":  "metadata: the Braze-Currents-Version header",
	"segment_event":           "metadata of the processor's messages",
}

var (
	docMetricName = regexp.MustCompile("`([a-z_][a-z0-9_]*)(?:\\{[^}`]*\\})?`")
	docPromql     = regexp.MustCompile("(?s)```promql\n(.*?)```")
)

// documentedMetricNames returns, per file, the metric names README.md and
// docs/*.md give: every backticked name in the first column of a table
// whose header starts with "metric" ("`x_written` / `_acked`" expanded),
// every backticked name with one of this project's prefixes elsewhere, and
// the names read by the PromQL blocks.
func documentedMetricNames(t *testing.T, root string) map[string][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"))
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		add := func(n string) {
			if !strings.Contains(n, "*") {
				out[rel] = append(out[rel], n)
			}
		}
		inMetricTable := false
		for _, line := range strings.Split(string(b), "\n") {
			cells := strings.Split(line, "|")
			switch {
			case !strings.HasPrefix(line, "|"):
				inMetricTable = false
			case len(cells) > 2 && strings.TrimSpace(cells[1]) == "metric":
				inMetricTable = true
				continue
			}
			var base string
			for _, m := range docMetricName.FindAllStringSubmatchIndex(line, -1) {
				name := line[m[2]:m[3]]
				inFirstCell := inMetricTable && len(cells) > 2 && m[0] < len(cells[0])+1+len(cells[1])
				switch {
				case strings.HasPrefix(name, "_") && inFirstCell && strings.Contains(base, "_"):
					name = base[:strings.LastIndex(base, "_")] + name
				case strings.HasPrefix(name, "_"):
					continue
				default:
					base = name
				}
				if _, skip := notMetrics[name]; skip {
					continue
				}
				ours := false
				for _, p := range docMetricPrefixes {
					ours = ours || strings.HasPrefix(name, p)
				}
				if inFirstCell || ours {
					add(name)
				}
			}
		}
		for _, m := range docPromql.FindAllStringSubmatch(string(b), -1) {
			for _, line := range strings.Split(m[1], "\n") {
				line, _, _ = strings.Cut(line, " #")
				for _, n := range promqlMetricNames(line) {
					add(n)
				}
			}
		}
	}
	return out
}

// exportedNames reads the metric names of a /metrics page.
func exportedNames(page string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(page, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			out[line[:i]] = true
		}
	}
	return out
}

// prometheusSynthetic are series Prometheus itself writes for every target,
// which no exporter serves.
var prometheusSynthetic = map[string]bool{"up": true, "scrape_duration_seconds": true}

// exported reports whether name is on the scraped pages: itself, or the base
// name of a histogram or summary (as the docs name timers).
func exported(names map[string]bool, name string) bool {
	if names[name] || prometheusSynthetic[name] {
		return true
	}
	return names[name+"_sum"] && names[name+"_count"]
}

// scrapeRunningPipelines scrapes the production pipeline (braze_currents,
// disk buffer, segment, prometheus) after one Braze request and one dead
// letter, and the storage pipeline while it delivers, and returns every
// name the two export.
//
// Some series exist only after an event: the latency histograms
// (braze_currents_request_latency_seconds, segment_request_latency_seconds)
// after the first request, and the dead-letter output's output_sent
// {label="dead_letter"} after its first message (Benthos builds a resource
// output's metrics when it is first used). The request and the invalid
// event below make them appear; alerts.yaml handles the late dead-letter
// series.
func scrapeRunningPipelines(t *testing.T) map[string]bool {
	t.Helper()
	root := repoRoot(t)
	names := map[string]bool{}

	rc := startReceiver(t)
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.jsonl")
	p := startBrazePipeline(t, root, filepath.Join(root, "deploy", "pipeline.yaml"), exampleEnv(rc, dead,
		"BRAZE_CURRENTS_TOKEN=observability-token-41f2", "BRAZE_LISTEN_ADDRESS=127.0.0.1:0", "HTTP_ADDRESS=127.0.0.1:0",
		"BUFFER_PATH="+filepath.Join(dir, "buffer")))
	url := "http://" + p.input + "/currents"
	postLikeBraze(t, url, "observability-token-41f2", sampleBatches(t, root)[0])
	// An event whose time is not a number: mapped to the dead letter.
	postLikeBraze(t, url, "observability-token-41f2", []byte(`{"events":[{"id":"obs-1","event_type":"users.messages.email.Open","time":"later","user":{"external_user_id":"u1","user_id":"b1"}}]}`))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		page := scrapeMetrics(t, p.api)
		n := exportedNames(page)
		if v, _ := metricValue(page, "segment_messages_accepted"); v > 0 && n["output_sent"] && strings.Contains(page, `label="dead_letter"`) {
			for k := range n {
				names[k] = true
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery and dead letter after 30s:\n%s", tail(p.logs.String(), 3000))
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	<-p.done

	// The storage pipeline ends by itself once every object is delivered:
	// the receiver answers 503 so that delivery is retried and the process
	// stays up to be scraped.
	slow, err := segmenttest.Start("127.0.0.1:0", segmenttest.Config{WriteKeys: []string{exampleWriteKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.SetFault(segmenttest.Fault{Status: 503})
	sdir := t.TempDir()
	cmd, logs := startBinary(t, sdir, exampleEnv(slow, filepath.Join(sdir, "dead.jsonl"),
		"CURRENTS_STORAGE_URL=file://"+filepath.Join(root, "testdata", "sample", "storage"),
		"CURRENTS_CHECKPOINT="+filepath.Join(sdir, "checkpoint.db"), "HTTP_ADDRESS=127.0.0.1:0"),
		"run", filepath.Join(root, "config-examples", "storage-to-segment.yaml"))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the storage pipeline exported no braze_storage_objects_listed in 30s:\n%s", tail(logs.String(), 3000))
		}
		addrs := listeningAddrs(t, cmd.Process.Pid)
		if len(addrs) != 1 {
			continue
		}
		page := scrapeMetrics(t, addrs[0])
		if v, _ := metricValue(page, "braze_storage_objects_listed"); v > 0 {
			for k := range exportedNames(page) {
				names[k] = true
			}
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	return names
}

// TestObservabilityNamesExported checks every metric name that alerts.yaml,
// the dashboard, and README.md's and docs/*.md's tables, prose and PromQL
// use against a scrape of running pipelines, and that the docs point to
// alerts.yaml for the alerts it defines.
func TestObservabilityNamesExported(t *testing.T) {
	skipIfShort(t)
	root := repoRoot(t)
	names := scrapeRunningPipelines(t)
	t.Logf("%d metric names exported", len(names))

	check := func(where string, used []string) {
		for _, n := range used {
			if !exported(names, n) {
				t.Errorf("%s uses %s, which /metrics does not export", where, n)
			}
		}
	}
	rules := alertRules(t, root)
	for alert, expr := range rules {
		used := promqlMetricNames(expr)
		if len(used) == 0 {
			t.Errorf("alert %s reads no metric: %s", alert, expr)
		}
		check("alerts.yaml "+alert, used)
	}
	for _, expr := range dashboardExprs(t, root) {
		check("dashboard.json "+strings.Join(strings.Fields(expr), " "), promqlMetricNames(expr))
	}
	for file, used := range documentedMetricNames(t, root) {
		t.Logf("%s names %d metrics", file, len(used))
		check(file, used)
	}

	// docs/operations.md describes every alert of alerts.yaml, by name,
	// and names the file.
	ops, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ops), "deploy/prometheus/alerts.yaml") {
		t.Error("docs/operations.md does not point to deploy/prometheus/alerts.yaml")
	}
	for alert := range rules {
		if !strings.Contains(string(ops), "`"+alert+"`") {
			t.Errorf("docs/operations.md does not describe the alert `%s`", alert)
		}
	}
}
