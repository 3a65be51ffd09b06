package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// The binary collects garbage at gcPercent unless GOGC says otherwise, as
// the production pipeline's own Go metrics report it.
func TestGCPercent(t *testing.T) {
	skipIfShort(t)
	root := repoRoot(t)
	conf := filepath.Join(t.TempDir(), "production.yaml")
	if err := os.WriteFile(conf, []byte(docsConfig(t, filepath.Join(root, "docs", "operations.md"), "<!-- config-test: outage -->")), 0o644); err != nil {
		t.Fatal(err)
	}
	gogc := regexp.MustCompile(`(?m)^go_gc_gogc_percent (\S+)$`)
	for _, c := range []struct{ env, want string }{{"", "200"}, {"150", "150"}, {"100", "100"}} {
		t.Run("GOGC="+c.env, func(t *testing.T) {
			t.Setenv("GOGC", c.env)
			if c.env == "" {
				os.Unsetenv("GOGC") // unset, not empty; t.Setenv restores it
			}
			rc := startReceiver(t)
			dir := t.TempDir()
			p := startBrazePipeline(t, root, conf, exampleEnv(rc, filepath.Join(dir, "dead.jsonl"),
				"BRAZE_CURRENTS_TOKEN=gc-token-41d2", "BRAZE_LISTEN_ADDRESS=127.0.0.1:0", "HTTP_ADDRESS=127.0.0.1:0",
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
			m := gogc.FindSubmatch(page)
			if m == nil {
				t.Fatal("the scrape has no go_gc_gogc_percent")
			}
			if string(m[1]) != c.want {
				t.Fatalf("go_gc_gogc_percent %s, want %s", m[1], c.want)
			}
			// docs/operations.md points at it to check GOMEMLIMIT.
			if !regexp.MustCompile(`(?m)^go_gc_gomemlimit_bytes \S+$`).Match(page) {
				t.Fatal("the scrape has no go_gc_gomemlimit_bytes")
			}
		})
	}
}
