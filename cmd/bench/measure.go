package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// harness is one invocation: its flags, the binaries built for it and the
// work directory that holds every run's files.
type harness struct {
	opts    options
	dir     string
	bin     string // ./cmd/currents-segment
	recvBin string // ./cmd/segment-receiver
}

// measure runs p on fx -repeat times and keeps the run with the least CPU:
// other load on a shared machine only ever adds CPU time, so the least is
// the steadiest estimate.
func (h *harness) measure(p pipeline, fx fixture) (result, error) {
	var r result
	for i := 0; i < h.opts.repeat; i++ {
		ri, err := h.measureOnce(p, fx)
		if err != nil {
			return result{}, fmt.Errorf("%s, %d events: %w", p.name, fx.n, err)
		}
		if i == 0 || ri.cpu() < r.cpu() {
			r = ri
		}
	}
	if h.opts.repeat > 1 {
		r.note += fmt.Sprintf(", least CPU of %d runs", h.opts.repeat)
	}
	return r, nil
}

// measureOnce runs p on fx once, as `currents-segment run config.yaml` in a
// directory of its own (config, logs, disk buffer): the receiver first if p
// is e2e, a CPU profile alongside with -profile, and for an e2e run the
// receiver's count checked against the events the processor maps.
func (h *harness) measureOnce(p pipeline, fx fixture) (result, error) {
	runDir := filepath.Join(h.dir, fmt.Sprintf("%s-%d", p.name, fx.n))
	if err := os.RemoveAll(runDir); err != nil {
		return result{}, err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return result{}, err
	}
	spec := runSpec{events: fx.path, dir: runDir, threads: h.opts.threads, diskSync: h.opts.diskSync, profile: h.opts.profileDir != ""}
	expected := fx.expected
	var extraEnv []string
	if p.storage {
		spec.export, expected = fx.storage.dir, fx.storage.expected
		if p.s3 {
			s3, err := startS3(fx.storage.dir)
			if err != nil {
				return result{}, err
			}
			defer s3.stop()
			spec.storageURL = s3.bucketURL()
			extraEnv = storageS3Env()
		}
	}
	var recv *receiverProc
	if p.e2e {
		var err error
		if recv, err = startReceiver(h.recvBin, runDir); err != nil {
			return result{}, err
		}
		defer recv.stop()
		spec.endpoint = recv.url
	}
	conf := filepath.Join(runDir, "config.yaml")
	if err := os.WriteFile(conf, []byte(p.config(spec)), 0o644); err != nil {
		return result{}, err
	}
	logf, err := os.Create(filepath.Join(runDir, "benthos.log"))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	cmd := exec.Command(h.bin, "run", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), extraEnv...)
	apiAddr := ""
	if spec.profile {
		if apiAddr, err = freeAddress(); err != nil {
			return result{}, err
		}
		cmd.Env = append(cmd.Env, "BENCH_HTTP_ADDRESS="+apiAddr)
	}
	c, err := startChild(cmd)
	if err != nil {
		return result{}, err
	}
	profDone := make(chan error, 1)
	if apiAddr != "" {
		go func() {
			profDone <- takeProfile(apiAddr, h.opts.profileSecs, filepath.Join(h.opts.profileDir, fmt.Sprintf("%s-%d.pprof", p.name, fx.n)))
		}()
	}
	u, err := c.wait()
	if err != nil {
		return result{}, fmt.Errorf("%s run %s: %w (log: %s)", h.bin, conf, err, tail(logf.Name()))
	}
	r := result{
		pipeline:  p.name,
		n:         fx.n,
		wall:      u.wall,
		user:      u.user,
		sys:       u.sys,
		maxRSSKiB: u.maxRSSKiB,
		anonKiB:   u.anonKiB,
	}
	if apiAddr != "" {
		if perr := <-profDone; perr != nil {
			r.note += ", no profile: " + perr.Error()
		} else {
			r.note += ", profiled"
		}
	}
	if recv != nil {
		count, dups, err := recv.count()
		if err != nil {
			return r, err
		}
		r.received = count
		if count != expected {
			return r, fmt.Errorf("the receiver counted %d events (%d duplicates), expected %d (log: %s)", count, dups, expected, tail(logf.Name()))
		}
		r.note += fmt.Sprintf(", receiver counted all %d", count)
	}
	return r, nil
}
