package main

import (
	"runtime/debug"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	checkout := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "55b3109ec0051b2c3d4e5f60718293a4b5c6d7e8"},
		{Key: "vcs.time", Value: "2026-12-02T07:40:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	installed := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}
	for _, c := range []struct {
		name, stamped, stampedDate string
		bi                         *debug.BuildInfo
		version, date              string
	}{
		{"release build", "v1.2.3", "2026-11-28T00:00:00Z", checkout, "v1.2.3 (commit 55b3109ec005, modified)", "2026-11-28T00:00:00Z"},
		{"go build in a checkout", "", "", checkout, "dev (commit 55b3109ec005, modified)", "2026-12-02T07:40:00Z"},
		{"go install @version", "", "", installed, "v1.4.0", "unknown"},
		{"go 1.24 build in a checkout", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202073931-55b3109ec005+dirty"}, Settings: checkout.Settings},
			"v0.0.0-20261202073931-55b3109ec005+dirty", "2026-12-02T07:40:00Z"},
		{"no build information", "", "", nil, "dev", "unknown"},
	} {
		if v, d := describeBuild(c.stamped, c.stampedDate, c.bi); v != c.version || d != c.date {
			t.Errorf("%s: %q %q, want %q %q", c.name, v, d, c.version, c.date)
		}
	}
}
