package main

import "time"

// result is one run of one pipeline at one size, as measured from outside
// the child process, and the figures the report derives from it.
type result struct {
	pipeline  string
	n         int
	wall      time.Duration
	user, sys time.Duration
	maxRSSKiB int64
	// anonKiB is the peak of resident anonymous memory, sampled.
	anonKiB  int64
	received int
	// note is appended to the run's progress line: how it was measured
	// (profiled, least CPU of several runs, what the receiver counted).
	note string
}

func (r result) eventsPerSec() float64  { return float64(r.n) / r.wall.Seconds() }
func (r result) cpu() time.Duration     { return r.user + r.sys }
func (r result) cpuPerMillion() float64 { return r.cpu().Seconds() * 1e6 / float64(r.n) }
func (r result) rssMiB() float64        { return float64(r.maxRSSKiB) / 1024 }
func (r result) anonMiB() float64       { return float64(r.anonKiB) / 1024 }
