package main

import (
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target when GOGC is not set: a
// collection starts once the heap has grown by twice what was live after
// the last one, where Go's default is once.
//
// Why: collection was a quarter of the HTTP path's CPU (marking, plus
// malloc's share of it), and the live heap of a pipeline is small (25 MiB
// behind braze_currents, 45 MiB with the disk buffer, in cmd/bench), so the
// extra headroom is tens of MiB for about a tenth less CPU per event
// (docs/performance.md, "Garbage collection"). Where memory is the tighter
// limit, GOGC=100 restores Go's default, and GOMEMLIMIT bounds the heap
// whatever the target (the deployment files set it below the container's
// limit). Only this binary does this: the plugin package leaves a process's
// collector as its own build sets it.
const gcPercent = 200

// setGCPercent applies gcPercent unless the environment sets GOGC.
func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
