// Command bench measures currents-segment's pipelines side by side, through
// the real binary, against what a Benthos user without this project would
// run: the same mapping hand-written in Bloblang (connector.blobl) and
// posted with http_client. See cmd/bench/README.md.
//
//	go run ./cmd/bench                 # 100k and 1M events, every pipeline
//	go run ./cmd/bench -quick          # 20k events, a smoke run
//	go run ./cmd/bench -sizes 100000 -profile /tmp/prof
package main

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/samples"
)

//go:embed connector.blobl
var connectorBlobl string

const writeKey = "bench"

type options struct {
	sizes       []int
	threads     int
	seed        int64
	diskSync    string
	profileDir  string
	profileSecs int
	only        map[string]bool
	keep        bool
	diag        bool
	repeat      int
	checkN      int
	workDir     string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	sizes := flag.String("sizes", "100000,1000000", "comma-separated event counts; each pipeline runs once per size")
	quick := flag.Bool("quick", false, "smoke run: 20000 events only (overrides -sizes)")
	flag.IntVar(&o.threads, "threads", 2, "pipeline threads")
	flag.Int64Var(&o.seed, "seed", 42, "sample generator seed")
	flag.StringVar(&o.diskSync, "disk-sync", "none", "sync mode of the disk buffer in the e2e-disk pipeline: none or always (always fsyncs every input message: ~2,000 events/s from the file input)")
	flag.StringVar(&o.profileDir, "profile", "", "if set, take a CPU profile of every run through Benthos's /debug/pprof/profile into this directory")
	flag.IntVar(&o.profileSecs, "profile-seconds", 5, "length of each CPU profile")
	only := flag.String("only", "", "comma-separated pipelines to run (default all): "+strings.Join(pipelineNames(), ","))
	flag.IntVar(&o.repeat, "repeat", 1, "run every pipeline this many times and keep the run with the least CPU (a shared, noisy machine only ever adds CPU time)")
	flag.BoolVar(&o.diag, "diagnostic", false, "also run passthrough (file -> drop, no processor: what Benthos costs before any pipeline stage) and mapping-identity (mapping: root = this)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, logs, events)")
	flag.IntVar(&o.checkN, "check", 20000, "events checked for identical calls from the processor and connector.blobl")
	writeBlobl := flag.Bool("write-blobl", false, "regenerate cmd/bench/connector.blobl from currents.DefaultCatalog() and exit")
	flag.Parse()

	if *writeBlobl {
		return os.WriteFile(filepath.Join("cmd", "bench", "connector.blobl"), []byte(generateBlobl(currents.DefaultCatalog())), 0o644)
	}
	if generateBlobl(currents.DefaultCatalog()) != connectorBlobl {
		return errors.New("cmd/bench/connector.blobl is stale: run go run ./cmd/bench -write-blobl")
	}
	if o.repeat < 1 {
		return errors.New("-repeat must be at least 1")
	}
	if *quick {
		*sizes = "20000"
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes: %q is not a positive count", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if *only != "" {
		o.only = map[string]bool{}
		for _, p := range strings.Split(*only, ",") {
			o.only[strings.TrimSpace(p)] = true
		}
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository root: go run ./cmd/bench")
	}

	dir, err := os.MkdirTemp("", "currents-bench-")
	if err != nil {
		return err
	}
	o.workDir = dir
	if !o.keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Println("work directory:", dir)
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}

	fmt.Printf("machine: %d CPUs (GOMAXPROCS of children unset), %s %s/%s\n", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Println("building ./cmd/currents-segment and ./cmd/segment-receiver ...")
	bin := filepath.Join(dir, "currents-segment")
	recvBin := filepath.Join(dir, "segment-receiver")
	for target, out := range map[string]string{"./cmd/currents-segment": bin, "./cmd/segment-receiver": recvBin} {
		cmd := exec.Command("go", "build", "-o", out, target)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", target, err)
		}
	}

	var results []result
	for si, n := range o.sizes {
		events := filepath.Join(dir, fmt.Sprintf("events-%d.jsonl", n))
		expected, lines, err := generate(events, n, o.seed, o.checkN)
		if err != nil {
			return err
		}
		if si == 0 {
			checked, err := checkEquivalent(connectorBlobl, lines)
			if err != nil {
				return fmt.Errorf("connector.blobl is not equivalent to currents_to_segment: %w", err)
			}
			fmt.Printf("checked: connector.blobl and currents_to_segment make identical calls for %d events\n", checked)
		}
		fmt.Printf("\n== %d events (%s, %d mapped by the processor)\n", n, humanBytes(fileSize(events)), expected)
		for _, p := range pipelines {
			if o.only != nil && !o.only[p.name] || o.only == nil && p.diag && !o.diag {
				continue
			}
			var r result
			for i := 0; i < o.repeat; i++ {
				ri, err := runPipeline(&o, bin, recvBin, p, events, n, expected)
				if err != nil {
					return fmt.Errorf("%s, %d events: %w", p.name, n, err)
				}
				if i == 0 || ri.cpu() < r.cpu() {
					r = ri
				}
			}
			if o.repeat > 1 {
				r.note += fmt.Sprintf(", least CPU of %d runs", o.repeat)
			}
			fmt.Printf("  %-22s %9.0f events/s  %7.2f CPU s/1M  %7.1f MiB peak RSS  (%.2f s wall%s)\n",
				p.name, r.eventsPerSec(), r.cpuPerMillion(), r.rssMiB(), r.wall.Seconds(), r.note)
			results = append(results, r)
		}
	}
	report(os.Stdout, results, o.sizes)
	return nil
}

// generate writes n events of every type in the HTTP event shape, counts
// how many the processor maps (all of them with anonymous_users: send), and
// returns the first checkN lines for the equivalence check.
func generate(path string, n int, seed int64, checkN int) (expected int, firstLines [][]byte, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := samples.New(seed).WriteJSONLines(w, n, samples.ShapeHTTPEvent); err != nil {
		f.Close()
		return 0, nil, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, nil, err
	}
	if err := f.Close(); err != nil {
		return 0, nil, err
	}
	m, err := currents.NewMapper(currents.DefaultCatalog(), currents.Options{AnonymousUsers: currents.AnonymousSend})
	if err != nil {
		return 0, nil, err
	}
	rf, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer rf.Close()
	sc := bufio.NewScanner(rf)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		for _, r := range m.Map(line, nil) {
			if r.Outcome == currents.Mapped {
				expected++
			}
		}
		if len(firstLines) < checkN {
			firstLines = append(firstLines, append([]byte(nil), line...))
		}
	}
	return expected, firstLines, sc.Err()
}

// pipeline is one configuration measured.
type pipeline struct {
	name string
	// e2e pipelines post to a receiver started for the run, whose count
	// must equal the events mapped.
	e2e bool
	// diag pipelines only explain the others: they run with -diagnostic
	// or when named in -only.
	diag   bool
	config func(o *options, events, endpoint, runDir string) string
}

var pipelines = []pipeline{
	// noop is the baseline, `file` → `noop` → `drop`: the core noop
	// processor, so it pays the pipeline stage every processor pays.
	{name: "noop", config: func(o *options, events, _, _ string) string {
		return configHead(o, events) + "  processors:\n    - noop: {}\noutput:\n  drop: {}\n"
	}},
	// passthrough has no processor at all (the input feeds the output): what
	// Benthos itself costs per message, before any pipeline stage.
	{name: "passthrough", diag: true, config: func(o *options, events, _, _ string) string {
		return configHead(o, events) + "  processors: []\noutput:\n  drop: {}\n"
	}},
	{name: "mapping-identity", diag: true, config: func(o *options, events, _, _ string) string {
		return configHead(o, events) + "  processors:\n    - mapping: root = this\noutput:\n  drop: {}\n"
	}},
	{name: "processor", config: func(o *options, events, _, _ string) string {
		return configHead(o, events) + "  processors:\n    - currents_to_segment:\n        anonymous_users: send\noutput:\n  drop: {}\n"
	}},
	{name: "bloblang", config: func(o *options, events, _, _ string) string {
		return configHead(o, events) + "  processors:\n    - mapping: |\n" + indent(connectorBlobl, "        ") + "output:\n  drop: {}\n"
	}},
	{name: "e2e-processor", e2e: true, config: func(o *options, events, endpoint, _ string) string {
		return configHead(o, events) + "  processors:\n    - currents_to_segment:\n        anonymous_users: send\n" + segmentOutput(endpoint)
	}},
	{name: "e2e-processor-disk", e2e: true, config: func(o *options, events, endpoint, runDir string) string {
		return configHead(o, events) + "  processors:\n    - currents_to_segment:\n        anonymous_users: send\n" + segmentOutput(endpoint) +
			fmt.Sprintf("buffer:\n  disk:\n    path: %q\n    max_bytes: 8GiB\n    sync: %s\n", filepath.Join(runDir, "buffer"), o.diskSync)
	}},
	{name: "e2e-bloblang-http", e2e: true, config: func(o *options, events, endpoint, _ string) string {
		return configHead(o, events) + "  processors:\n    - mapping: |\n" + indent(connectorBlobl, "        ") + fmt.Sprintf(`output:
  http_client:
    url: %s/v1/batch
    verb: POST
    headers:
      Content-Type: application/json
    basic_auth:
      enabled: true
      username: %s
      password: ""
    max_in_flight: 8
    batching:
      count: 250
      period: 1s
      processors:
        - archive:
            format: json_array
        - mapping: 'root = {"batch": this}'
`, endpoint, writeKey)
	}},
}

func pipelineNames() []string {
	var out []string
	for _, p := range pipelines {
		out = append(out, p.name)
	}
	return out
}

func configHead(o *options, events string) string {
	httpConf := "http:\n  enabled: false\n"
	if o.profileDir != "" {
		httpConf = "http:\n  address: ${BENCH_HTTP_ADDRESS}\n  debug_endpoints: true\n"
	}
	return httpConf + fmt.Sprintf(`logger:
  level: warn
shutdown_timeout: 60s
input:
  file:
    paths: [ %q ]
    scanner:
      lines: {}
pipeline:
  threads: %d
`, events, o.threads)
}

// segmentOutput is the segment output as a user would configure it: its
// defaults (batches of 250, 8 requests in flight), the receiver as endpoint.
func segmentOutput(endpoint string) string {
	return fmt.Sprintf("output:\n  segment:\n    write_key: %s\n    endpoint: %s\n", writeKey, endpoint)
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l == "" {
			continue
		}
		if strings.TrimSpace(l) != "" {
			b.WriteString(prefix)
		}
		b.WriteString(l)
	}
	return b.String()
}

type result struct {
	pipeline  string
	n         int
	wall      time.Duration
	user, sys time.Duration
	maxRSSKiB int64
	// anonKiB is the peak of resident anonymous memory, sampled.
	anonKiB  int64
	received int
	note     string
}

func (r result) eventsPerSec() float64  { return float64(r.n) / r.wall.Seconds() }
func (r result) cpu() time.Duration     { return r.user + r.sys }
func (r result) cpuPerMillion() float64 { return r.cpu().Seconds() * 1e6 / float64(r.n) }
func (r result) rssMiB() float64        { return float64(r.maxRSSKiB) / 1024 }
func (r result) anonMiB() float64       { return float64(r.anonKiB) / 1024 }

func runPipeline(o *options, bin, recvBin string, p pipeline, events string, n, expected int) (result, error) {
	runDir := filepath.Join(o.workDir, fmt.Sprintf("%s-%d", p.name, n))
	if err := os.RemoveAll(runDir); err != nil {
		return result{}, err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return result{}, err
	}
	var recv *receiverProc
	endpoint := ""
	if p.e2e {
		var err error
		if recv, err = startReceiver(recvBin, runDir); err != nil {
			return result{}, err
		}
		defer recv.stop()
		endpoint = recv.url
	}
	conf := filepath.Join(runDir, "config.yaml")
	if err := os.WriteFile(conf, []byte(p.config(o, events, endpoint, runDir)), 0o644); err != nil {
		return result{}, err
	}
	logf, err := os.Create(filepath.Join(runDir, "benthos.log"))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	apiAddr := ""
	if o.profileDir != "" {
		if apiAddr, err = freeAddress(); err != nil {
			return result{}, err
		}
		cmd.Env = append(cmd.Env, "BENCH_HTTP_ADDRESS="+apiAddr)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	profDone := make(chan error, 1)
	if apiAddr != "" {
		go func() {
			profDone <- takeProfile(apiAddr, o.profileSecs, filepath.Join(o.profileDir, fmt.Sprintf("%s-%d.pprof", p.name, n)))
		}()
	}
	hwm := make(chan [2]int64, 1)
	stopPoll := make(chan struct{})
	go func() {
		peak, anon := pollHWM(cmd.Process.Pid, stopPoll)
		hwm <- [2]int64{peak, anon}
	}()
	err = cmd.Wait()
	wall := time.Since(start)
	close(stopPoll)
	polls := <-hwm
	polled := polls[0]
	if err != nil {
		return result{}, fmt.Errorf("%s run %s: %w (log: %s)", bin, conf, err, tail(logf.Name()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := result{
		pipeline:  p.name,
		n:         n,
		wall:      wall,
		user:      time.Duration(ru.Utime.Nano()),
		sys:       time.Duration(ru.Stime.Nano()),
		maxRSSKiB: peakRSS(ru.Maxrss, polled),
		anonKiB:   polls[1],
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

// procStatusKiB reads one "<field> <n> kB" line of /proc/<proc>/status.
func procStatusKiB(proc, field string) int64 {
	b, err := os.ReadFile("/proc/" + proc + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func takeProfile(addr string, secs int, path string) error {
	// Wait for the HTTP server to come up.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/ping")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("the run ended before the profile (%w); use a larger size or -profile-seconds", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	return os.WriteFile(path, body, 0o644)
}

type receiverProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

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

func (rp *receiverProc) stop() {
	_ = rp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-rp.done:
	case <-time.After(5 * time.Second):
		_ = rp.cmd.Process.Kill()
		<-rp.done
	}
}

func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func humanBytes(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// report prints the table and the targets, each a ratio within one run.
func report(w io.Writer, results []result, sizes []int) {
	fmt.Fprintln(w, "\n## Results")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pipeline\tevents\tevents/s\tCPU s/1M events\tpeak RSS MiB\tpeak anon MiB\twall s\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.1f\t%.1f\t%.2f\t\n", r.pipeline, r.n, r.eventsPerSec(), r.cpuPerMillion(), r.rssMiB(), r.anonMiB(), r.wall.Seconds())
	}
	tw.Flush()

	get := func(name string, n int) (result, bool) {
		for _, r := range results {
			if r.pipeline == name && r.n == n {
				return r, true
			}
		}
		return result{}, false
	}
	fmt.Fprintln(w, "\n## Targets")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT MET"
	}
	for _, n := range sizes {
		noop, okN := get("noop", n)
		proc, okP := get("processor", n)
		blob, okB := get("bloblang", n)
		e2e, okE := get("e2e-processor", n)
		e2eDisk, okD := get("e2e-processor-disk", n)
		http, okH := get("e2e-bloblang-http", n)
		if okN && okP {
			ratio := proc.cpu().Seconds() / noop.cpu().Seconds()
			fmt.Fprintf(w, "[%d] processor CPU / noop CPU = %.2f (target <= 1.5): %s\n", n, ratio, verdict(ratio <= 1.5))
		}
		if okN && okP {
			fmt.Fprintf(w, "[%d] (info) processor CPU - noop CPU = %.1f s per 1M events\n", n, proc.cpuPerMillion()-noop.cpuPerMillion())
		}
		if pass, ok := get("passthrough", n); ok && okN && okP {
			fmt.Fprintf(w, "[%d] (info) noop CPU / passthrough CPU = %.2f (the pipeline stage); processor CPU / passthrough CPU = %.2f\n",
				n, noop.cpu().Seconds()/pass.cpu().Seconds(), proc.cpu().Seconds()/pass.cpu().Seconds())
		}
		if okP && okB {
			ratio := blob.cpu().Seconds() / proc.cpu().Seconds()
			fmt.Fprintf(w, "[%d] bloblang CPU / processor CPU = %.2f (target >= 5): %s\n", n, ratio, verdict(ratio >= 5))
		}
		for _, e := range []struct {
			r  result
			ok bool
		}{{e2e, okE}, {e2eDisk, okD}} {
			if !e.ok {
				continue
			}
			if okH {
				ratio := e.r.eventsPerSec() / http.eventsPerSec()
				fmt.Fprintf(w, "[%d] %s events/s / e2e-bloblang-http events/s = %.2f (target >= 3): %s\n", n, e.r.pipeline, ratio, verdict(ratio >= 3))
			}
			if okP {
				ratio := e.r.cpu().Seconds() / proc.cpu().Seconds()
				fmt.Fprintf(w, "[%d] %s CPU / processor CPU = %.2f (target <= 2): %s\n", n, e.r.pipeline, ratio, verdict(ratio <= 2))
			}
		}
	}
	if len(sizes) >= 2 {
		lo, hi := sizes[0], sizes[len(sizes)-1]
		for _, p := range pipelines {
			a, okA := get(p.name, lo)
			b, okB := get(p.name, hi)
			if !okA || !okB {
				continue
			}
			ratio := float64(b.maxRSSKiB) / float64(a.maxRSSKiB)
			fmt.Fprintf(w, "peak RSS %s: %d -> %d events = %.1f -> %.1f MiB, x%.2f (target <= 1.2): %s; anonymous (heap, stacks) %.1f -> %.1f MiB, x%.2f\n",
				p.name, lo, hi, a.rssMiB(), b.rssMiB(), ratio, verdict(ratio <= 1.2), a.anonMiB(), b.anonMiB(), float64(b.anonKiB)/float64(max(a.anonKiB, 1)))
		}
	}
}
