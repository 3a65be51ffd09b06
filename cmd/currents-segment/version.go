package main

import (
	"runtime/debug"
	"strings"
)

// Version and DateBuilt are stamped by a release build:
// -ldflags "-X main.Version=v1.2.3 -X main.DateBuilt=2026-11-28T00:00:00Z".
// Unstamped (go build, go install), they come from the build information Go
// records: the module version go install resolved, or a checkout's
// pseudo-version, and the commit and its time.
var (
	Version   = ""
	DateBuilt = ""
)

// versionInfo is what --version prints.
func versionInfo() (version, date string) {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(Version, DateBuilt, bi)
}

// describeBuild picks the version and date: stamped values first, then the
// build information; "dev" and "unknown" when nothing says.
func describeBuild(stamped, stampedDate string, bi *debug.BuildInfo) (version, date string) {
	version, date = stamped, stampedDate
	var rev, revTime string
	modified := false
	if bi != nil {
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version // go install …@v1.2.3
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				revTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if version == "" {
		version = "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	// Go 1.24 and later already write the commit into a checkout's
	// pseudo-version (v0.0.0-20261202073931-55b3109ec005+dirty).
	if rev != "" && !strings.Contains(version, rev) {
		version += " (commit " + rev
		if modified {
			version += ", modified"
		}
		version += ")"
	}
	if date == "" {
		date = revTime
	}
	if date == "" {
		date = "unknown"
	}
	return version, date
}
