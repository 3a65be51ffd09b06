package main

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// usage is what a child process cost, measured from outside it: wall clock
// from start to exit, CPU time from its rusage, and its peak memory.
type usage struct {
	wall      time.Duration
	user, sys time.Duration
	maxRSSKiB int64
	anonKiB   int64
}

// child is a started process whose memory is being sampled until it exits.
// Between startChild and wait the caller can drive it (take a profile, feed
// it load).
type child struct {
	cmd   *exec.Cmd
	start time.Time
	stop  chan struct{}
	peaks chan [2]int64
}

// startChild starts cmd and samples its memory every 10 ms.
func startChild(cmd *exec.Cmd) (*child, error) {
	c := &child{cmd: cmd, start: time.Now(), stop: make(chan struct{}), peaks: make(chan [2]int64, 1)}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		peak, anon := pollHWM(cmd.Process.Pid, c.stop)
		c.peaks <- [2]int64{peak, anon}
	}()
	return c, nil
}

// wait waits for the child to exit and returns what it cost; the error is
// the child's exit status.
func (c *child) wait() (usage, error) {
	err := c.cmd.Wait()
	wall := time.Since(c.start)
	close(c.stop)
	polls := <-c.peaks
	if err != nil {
		return usage{}, err
	}
	ru := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return usage{
		wall:      wall,
		user:      time.Duration(ru.Utime.Nano()),
		sys:       time.Duration(ru.Stime.Nano()),
		maxRSSKiB: peakRSS(ru.Maxrss, polls[0]),
		anonKiB:   polls[1],
	}, nil
}

// peakRSS is the child's peak RSS in KiB. On Linux, rusage's ru_maxrss of a
// child started with vfork+exec (as Go's os/exec does) is at least the
// parent's own peak at the time of the fork, so it is the child's only when it
// exceeds the harness's peak; otherwise the child's own VmHWM, sampled every
// 10 ms until it exited, is used.
func peakRSS(rusageKiB, polledKiB int64) int64 {
	if self := vmHWM("self"); rusageKiB > self {
		return rusageKiB
	}
	return max(polledKiB, 0)
}

// pollHWM samples the child's VmHWM (peak RSS) and RssAnon (resident
// anonymous memory: heap and stacks, without file-backed pages such as the
// disk buffer's memory-mapped file) every 10 ms, returning both peaks.
func pollHWM(pid int, stop <-chan struct{}) (peak, anonPeak int64) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	proc := strconv.Itoa(pid)
	for {
		peak = max(peak, procStatusKiB(proc, "VmHWM:"))
		anonPeak = max(anonPeak, procStatusKiB(proc, "RssAnon:"))
		select {
		case <-stop:
			return peak, anonPeak
		case <-t.C:
		}
	}
}

// vmHWM reads a process's peak resident set size in KiB from /proc.
func vmHWM(proc string) int64 { return procStatusKiB(proc, "VmHWM:") }

// procStatusKiB reads one "<field> <n> kB" line of /proc/<proc>/status; 0
// once the process is gone.
func procStatusKiB(proc, field string) int64 {
	b, err := os.ReadFile("/proc/" + proc + "/status")
	if err != nil {
		return 0
	}
	return statusKiB(string(b), field)
}

// statusKiB finds field ("VmHWM:") in the text of a /proc/<pid>/status file
// and returns its value in KiB, 0 if it is absent.
func statusKiB(status, field string) int64 {
	for _, l := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// freeAddress picks a loopback address for a child to listen on. The
// children take their address as a flag or an environment variable, so it is
// chosen before they start; another process could take the port in between,
// which a benchmark on a quiet machine accepts (the run then fails, loudly).
func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail is the end of a child's log, for an error message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}
