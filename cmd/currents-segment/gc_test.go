package main

import (
	"os"
	"regexp"
	"testing"
)

// The binary collects garbage at gcPercent unless GOGC says otherwise, as
// the production pipeline's own Go metrics report it.
func TestGCPercent(t *testing.T) {
	skipIfShort(t)
	root := repoRoot(t)
	gogc := regexp.MustCompile(`(?m)^go_gc_gogc_percent (\S+)$`)
	for _, c := range []struct{ env, want string }{{"", "200"}, {"150", "150"}, {"100", "100"}} {
		t.Run("GOGC="+c.env, func(t *testing.T) {
			t.Setenv("GOGC", c.env)
			if c.env == "" {
				os.Unsetenv("GOGC") // unset, not empty; t.Setenv restores it
			}
			page := scrapeProductionPipeline(t, root)
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
