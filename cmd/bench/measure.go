package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// harness is one invocation: its flags, the binaries built for it and the
// work directory that holds every run's files.
type harness struct {
	opts    options
	dir     string
	bin     string // ./cmd/currents-segment
	recvBin string // ./cmd/segment-receiver
}

// measure runs every pipeline of ps on fx -repeat times, in rounds, and
// keeps for each the run with the least CPU (see inRounds).
func (h *harness) measure(ps []pipeline, fx fixture) ([]result, error) {
	return inRounds(ps, h.opts.repeat, func(p pipeline) (result, error) {
		r, err := h.measureOnce(p, fx)
		if err != nil {
			return result{}, fmt.Errorf("%s, %d events: %w", p.name, fx.n, err)
		}
		return r, nil
	})
}

// inRounds runs each pipeline of ps once a round, repeat rounds, and keeps
// for each the run with the least CPU: other load on a shared machine only
// ever adds CPU time, so the least is the steadiest estimate. Rounds, not
// one pipeline's runs after the other's, so that a machine that turns
// slower or faster meanwhile weighs on every pipeline alike and the ratios
// between them hold.
func inRounds(ps []pipeline, repeat int, once func(pipeline) (result, error)) ([]result, error) {
	best := make([]result, len(ps))
	for round := 0; round < repeat; round++ {
		for i, p := range ps {
			r, err := once(p)
			if err != nil {
				return nil, err
			}
			if round == 0 || r.cpu() < best[i].cpu() {
				best[i] = r
			}
		}
	}
	if repeat > 1 {
		for i := range best {
			best[i].note += fmt.Sprintf(", least CPU of %d runs in rounds", repeat)
		}
	}
	return best, nil
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
	if p.stock {
		extraEnv = append(extraEnv, stockEnv()...)
	}
	if p.storage {
		spec.export, expected = fx.storage.dir, fx.storage.expected
		if p.s3 {
			s3, err := startS3(fx.storage.dir)
			if err != nil {
				return result{}, err
			}
			defer s3.stop()
			spec.storageURL = s3.bucketURL()
			extraEnv = append(extraEnv, storageS3Env()...)
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
	inputAddr := ""
	if p.http {
		if inputAddr, err = freeAddress(); err != nil {
			return result{}, err
		}
		cmd.Env = append(cmd.Env, "BENCH_INPUT_ADDRESS="+inputAddr)
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
	var load loadResult
	if p.http {
		if load, err = h.load(c, p, inputAddr, fx.path, recv, expected); err != nil {
			_ = c.cmd.Process.Kill()
			_, _ = c.wait()
			return result{}, fmt.Errorf("%w (log: %s)", err, tail(logf.Name()))
		}
	}
	u, err := c.wait()
	if err != nil {
		return result{}, fmt.Errorf("%s run %s: %w (log: %s)", h.bin, conf, err, tail(logf.Name()))
	}
	if p.http {
		// events/s over the load, not over the process's life: an HTTP
		// input runs until it is stopped.
		u.wall = load.elapsed
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
	if p.http {
		r.note += fmt.Sprintf(", %d requests, %d answered 429/503 and sent again", load.requests, load.retried)
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
		r.note += fmt.Sprintf(", receiver counted all %d using %.2f CPU s", count, recv.cpu().Seconds())
	}
	return r, nil
}

// load drives an HTTP pipeline: waits until its input takes requests, sends
// the fixture's events as Braze does, waits for the receiver to count them
// all (an e2e pipeline with a disk buffer answers once they are stored), then
// stops the process with SIGTERM, as an orchestrator would.
func (h *harness) load(c *child, p pipeline, addr, events string, recv *receiverProc, expected int) (loadResult, error) {
	if err := waitHTTPReady(addr, p.readyPath, nil); err != nil {
		return loadResult{}, err
	}
	lr, err := driveHTTP("http://"+addr+"/currents", events)
	if err != nil {
		return lr, err
	}
	if recv != nil {
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			count, _, err := recv.count()
			if err != nil {
				return lr, err
			}
			if count >= expected {
				break
			}
			if time.Now().After(deadline) {
				return lr, fmt.Errorf("the receiver counted %d of %d events 5 minutes after the load", count, expected)
			}
		}
		// The disk buffer answers Braze once stored: the load is over when
		// the receiver has everything.
		lr.elapsed = time.Since(lr.start)
	}
	return lr, c.cmd.Process.Signal(syscall.SIGTERM)
}

// stockEnv is the environment that makes the currents-segment binary run a
// stock pipeline as a stock Benthos build would: with Go's default
// collector, where the binary sets GOGC=200 for its own pipelines
// (cmd/currents-segment/gc.go). A GOGC in the harness's environment is
// every pipeline's, stock or not, for comparisons at one setting.
func stockEnv() []string {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	return []string{"GOGC=100"}
}
