package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// writeKey is the write key every e2e config sends and the receiver accepts.
const writeKey = "bench"

// receiverProc is cmd/segment-receiver -count-only, started for one e2e run
// as a process of its own, so what it costs never mixes with the harness's
// own figures (the harness's peak RSS decides how a child's is read: see
// peakRSS).
type receiverProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

// startReceiver starts the receiver with its log in runDir and returns once
// it answers /healthz.
func startReceiver(bin, runDir string) (*receiverProc, error) {
	addr, err := freeAddress()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(runDir, "receiver.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-address", addr, "-write-key", writeKey, "-count-only", "-quiet")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	rp := &receiverProc{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(rp.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(rp.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return rp, nil
			}
		}
		select {
		case <-rp.done:
			return nil, fmt.Errorf("segment-receiver exited: %s", tail(logf.Name()))
		default:
		}
		if time.Now().After(deadline) {
			rp.stop()
			return nil, fmt.Errorf("segment-receiver did not come up on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count is how many distinct calls the receiver accepted, and how many it
// saw again (same messageId).
func (rp *receiverProc) count() (count, dups int, err error) {
	resp, err := http.Get(rp.url + "/received")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var rep struct {
		Count      int `json:"count"`
		Duplicates int `json:"duplicates"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return 0, 0, err
	}
	return rep.Count, rep.Duplicates, nil
}

// stop ends the receiver: SIGTERM, then SIGKILL after 5 s.
func (rp *receiverProc) stop() {
	_ = rp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-rp.done:
	case <-time.After(5 * time.Second):
		_ = rp.cmd.Process.Kill()
		<-rp.done
	}
}

// cpu is the CPU time the receiver has used so far, from /proc/<pid>/stat
// (utime + stime, in clock ticks of 1/100 s): the stand-in shares the
// machine with the pipeline, so what it costs bounds what an e2e run can
// reach. 0 where /proc is not there.
func (rp *receiverProc) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", rp.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
