package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// documentedMetrics reads the counters and gauges of docs/operations.md's
// metrics table: every backticked name in a row of kind counter(s) or gauge,
// with the "`x_written` / `_acked`" shorthand expanded.
func documentedMetrics(t *testing.T, root string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "| metric | kind | what it counts |")
	if !ok {
		t.Fatal("docs/operations.md has no metrics table")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	name := regexp.MustCompile("`([a-z_]+)(?:\\{[^}]*\\})?`")
	var out []string
	for _, row := range strings.Split(table, "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 4 {
			continue
		}
		kind := strings.TrimSpace(cells[2])
		if kind != "gauge" && kind != "counter" && kind != "counters" {
			continue
		}
		var base string
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			n := m[1]
			if strings.HasPrefix(n, "_") && base != "" {
				n = base[:strings.LastIndex(base, "_")] + n
			} else {
				base = n
			}
			out = append(out, n)
		}
	}
	if len(out) < 15 {
		t.Fatalf("only %d metrics found in the table: %v", len(out), out)
	}
	return out
}

// TestDocumentedMetricsExistFromStart scrapes the production pipeline of
// docs/operations.md before any event arrived: every counter and gauge the
// docs name must be there already (counters at 0, but for the readiness
// probe the buffer took), so that an alert on increase() fires on the first
// event.
func TestDocumentedMetricsExistFromStart(t *testing.T) {
	root := repoRoot(t)
	page := scrapeProductionPipeline(t, root)
	names := documentedMetrics(t, root)
	t.Logf("%d documented counters and gauges", len(names))
	for _, name := range names {
		series := regexp.MustCompile(`(?m)^` + name + `(\{[^}]*\})? `)
		if !series.Match(page) {
			t.Errorf("%s is documented but absent from a scrape before any event", name)
		}
	}
}

// scrapeProductionPipeline starts the production pipeline of
// docs/operations.md, before any event, and returns one scrape of its
// /metrics once it is ready; the binary is stopped before returning.
func scrapeProductionPipeline(t *testing.T, root string) []byte {
	t.Helper()
	rc := startReceiver(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "production.yaml")
	if err := os.WriteFile(conf, []byte(docsConfig(t, filepath.Join(root, "docs", "operations.md"), "<!-- config-test: outage -->")), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startBrazePipeline(t, root, conf, exampleEnv(rc, filepath.Join(dir, "dead.jsonl"),
		"BRAZE_CURRENTS_TOKEN=metrics-token-7c1d", "BRAZE_LISTEN_ADDRESS=127.0.0.1:0", "HTTP_ADDRESS=127.0.0.1:0",
		"BUFFER_PATH="+filepath.Join(dir, "buffer")))
	resp, err := http.Get("http://" + p.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("the binary did not stop")
	}
	return page
}
