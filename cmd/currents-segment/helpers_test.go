package main

import (
	"bufio"
	"bytes"
	"context"
	binenc "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/currents-segment/currents-segment/internal/contract"
	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
	"github.com/currents-segment/currents-segment/internal/spec"
)

// Helpers shared by the binary's tests: running it, the local Segment
// receiver, a Segment outage, the Braze pipelines, what the runs report.

// skipIfShort skips a test that takes more than a few seconds under
// -short, the quick loop: go test -short ./... .
func skipIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("takes more than a few seconds: run without -short")
	}
}

// repoRoot is where config-examples/ and testdata/ live.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// withoutSecrets is the process environment less every variable that could
// hold a write key or a token: what a reviewer's machine or CI has.
func withoutSecrets() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SEGMENT_WRITE_KEY") && !strings.HasPrefix(kv, "BRAZE_CURRENTS_TOKEN") {
			env = append(env, kv)
		}
	}
	return env
}

func startReceiver(t *testing.T, keys ...string) *segmenttest.Receiver {
	t.Helper()
	if len(keys) == 0 {
		keys = []string{exampleWriteKey}
	}
	rc, err := segmenttest.Start("127.0.0.1:0", segmenttest.Config{WriteKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

func exampleEnv(rc *segmenttest.Receiver, deadLetter string, extra ...string) []string {
	return append([]string{
		"SEGMENT_ENDPOINT=" + rc.URL(),
		"SEGMENT_WRITE_KEY=" + exampleWriteKey,
		"DEAD_LETTER_PATH=" + deadLetter,
	}, extra...)
}

type deadLetter struct {
	Stage  string          `json:"stage"`
	Reason string          `json:"reason"`
	Event  json.RawMessage `json:"event"`
	Call   json.RawMessage `json:"call"`
}

func readDeadLetters(t *testing.T, path string) []deadLetter {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []deadLetter
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var d deadLetter
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("dead letter line is not JSON: %s", line)
		}
		out = append(out, d)
	}
	return out
}

// storageEvents reads a storage export with goavro and returns the time of
// every event the processor's defaults send (an identified user, a type in
// the default selection), by id, and the types the export holds.
func storageEvents(t *testing.T, dir string) (identified map[string]int64, types map[string]bool) {
	t.Helper()
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	identified, types = map[string]int64{}, map[string]bool{}
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(path, ".avro") {
			return err
		}
		// Braze's layout names the type in the path: .../event_type=<type>/date=.../x.avro
		typ := filepath.Base(filepath.Dir(filepath.Dir(path)))
		typ, ok := strings.CutPrefix(typ, "event_type=")
		if !ok {
			return fmt.Errorf("%s: not in Braze's storage layout", path)
		}
		types[typ] = true
		selected := contract.InDefault(typ, events[typ])
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r, err := goavro.NewOCFReader(bufio.NewReader(f))
		if err != nil {
			return err
		}
		for r.Scan() {
			d, err := r.Read()
			if err != nil {
				return err
			}
			rec := d.(map[string]any)
			if ext, ok := rec["external_user_id"].(map[string]any); ok && ext["string"] != "" && selected {
				var ts int64
				switch v := rec["time"].(type) {
				case int32:
					ts = int64(v)
				case int64:
					ts = v
				}
				identified[rec["id"].(string)] = ts
			}
		}
		return r.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return identified, types
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sampleIdentified returns the ids of the bundled sample's events that the
// quickstart delivers: of identified users, of a type in the default
// selection (Braze's connector's).
func sampleIdentified(t *testing.T, root string) map[string]bool {
	t.Helper()
	identified, _ := sampleEvents(t, root)
	return identified
}

// sampleEvents reads the bundled sample: the ids of its events the
// processor's defaults send (identified users, types in the default
// selection, as the contract says), and the event types it holds.
func sampleEvents(t *testing.T, root string) (identified, types map[string]bool) {
	t.Helper()
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "testdata", "sample", "currents-http-batches.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	identified, types = map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var batch struct {
			Events []struct {
				ID        string `json:"id"`
				EventType string `json:"event_type"`
				User      struct {
					External string `json:"external_user_id"`
				} `json:"user"`
			} `json:"events"`
		}
		if err := json.Unmarshal(sc.Bytes(), &batch); err != nil {
			t.Fatal(err)
		}
		for _, e := range batch.Events {
			types[e.EventType] = true
			if e.User.External != "" && contract.InDefault(e.EventType, events[e.EventType]) {
				identified[e.ID] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return identified, types
}

// outage makes rc refuse every request with 503 until it has answered
// three so, then reject the write key (401) until it has answered two so,
// then recover: a Segment outage followed by a key rotation, as the pipeline
// sees them. The channel closes once rc is healthy again.
func outage(t *testing.T, rc *segmenttest.Receiver) (done <-chan struct{}) {
	t.Helper()
	answered := func(status int) int {
		n := 0
		for _, r := range rc.Requests() {
			if r.Status == status {
				n++
			}
		}
		return n
	}
	waitFor := func(status, n int) {
		for deadline := time.Now().Add(time.Minute); answered(status) < n && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	rc.SetFault(segmenttest.Fault{Status: 503, Body: `{"error":"down"}`})
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		waitFor(503, 3)
		rc.RejectKeysUntil(time.Now().Add(time.Hour))
		rc.ClearFault()
		waitFor(401, 2)
		rc.RejectKeysUntil(time.Now())
	}()
	return ch
}

// checkOutageRequests checks that the receiver really answered 503 and 401
// during the run: otherwise the test tested nothing.
func checkOutageRequests(t *testing.T, rc *segmenttest.Receiver) {
	t.Helper()
	seen := map[int]int{}
	for _, r := range rc.Requests() {
		seen[r.Status]++
	}
	if seen[503] == 0 || seen[401] == 0 {
		t.Fatalf("the receiver answered %v: the outage did not happen", seen)
	}
}

// checkDelivered checks that rc holds exactly want, once each.
func checkDelivered(t *testing.T, rc *segmenttest.Receiver, want map[string]bool) {
	t.Helper()
	got, missing := deliveredIDs(rc, want)
	if missing > 0 || len(got) != len(want) || rc.Duplicates() != 0 {
		t.Fatalf("delivered %d of %d (%d missing, %d duplicates)", len(got), len(want), missing, rc.Duplicates())
	}
}

// deliveredIDs returns the ids rc accepted and how many of want are not
// among them.
func deliveredIDs(rc *segmenttest.Receiver, want map[string]bool) (got map[string]bool, missing int) {
	got = map[string]bool{}
	for _, m := range rc.Messages() {
		got[m.ID] = true
	}
	for id := range want {
		if !got[id] {
			missing++
		}
	}
	return got, missing
}

// startBinary starts the binary with args in dir, its output in the returned
// buffer; it is killed at the end of the test if still running.
func startBinary(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd, out
}

// exitCode is the exit code in err from Wait or Run (0 for nil).
func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

var runSummaryLine = regexp.MustCompile(`Run summary: (\d+) events read: (\d+) mapped, (\d+) skipped.*?; (\d+) calls delivered, (\d+) dead-lettered, (\d+) not delivered`)

// summary reads the counts of the binary's run summary from its logs.
func summary(t *testing.T, logs string) (read, mapped, skipped, delivered, deadLettered, notDelivered int) {
	t.Helper()
	m := runSummaryLine.FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no run summary in the logs:\n%s", tail(logs, 3000))
	}
	n := make([]int, 6)
	for i := range n {
		fmt.Sscan(m[i+1], &n[i])
	}
	return n[0], n[1], n[2], n[3], n[4], n[5]
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// docsConfig extracts the YAML block that follows marker in a markdown file.
func docsConfig(t *testing.T, path, marker string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), marker)
	if !ok {
		t.Fatalf("%s has no %q block", path, marker)
	}
	_, after, ok = strings.Cut(after, "```yaml\n")
	block, _, closed := strings.Cut(after, "\n```")
	if !ok || !closed {
		t.Fatalf("%s: no YAML block after %q", path, marker)
	}
	return block + "\n"
}

// brazePipeline is a binary running a braze_currents pipeline.
type brazePipeline struct {
	cmd   *exec.Cmd
	logs  *lockedBuffer
	input string // host:port the braze_currents input bound
	api   string // host:port Benthos's HTTP server bound; "" when disabled
	done  chan error
}

// startBrazePipeline runs config, with Benthos's HTTP server enabled, and
// waits until its input answers /ready 200.
func startBrazePipeline(t *testing.T, dir, config string, env []string) *brazePipeline {
	t.Helper()
	return startBrazePipelineListening(t, dir, config, env, 2)
}

// startBrazePipelineListening is startBrazePipeline for a config whose
// process listens on listeners TCP sockets: 2 (the input and Benthos's HTTP
// server) or 1 (the input, with http.enabled false).
func startBrazePipelineListening(t *testing.T, dir, config string, env []string, listeners int) *brazePipeline {
	t.Helper()
	p := &brazePipeline{logs: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, "run", config)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
	})
	p.input, p.api = childAddrs(t, p.cmd.Process.Pid, listeners, p.logs.String)
	// The input answers 503 until every component is up; Braze retries.
	waitReady(t, "http://"+p.input+"/ready", p.logs.String)
	return p
}

// postLikeBraze posts body until it is answered 200, retrying 429 and 503 as
// Braze does (sooner), and returns how many attempts it took.
func postLikeBraze(t *testing.T, url, token string, body []byte) int {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Minute}
	for attempt := 1; attempt <= 200; attempt++ {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Braze-Currents-Version", "1")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("posting: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return attempt
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			time.Sleep(200 * time.Millisecond)
		default:
			t.Fatalf("answered %d", resp.StatusCode)
		}
	}
	t.Fatal("never answered 200")
	return 0
}

// sampleBatches returns the bundled sample's Braze request bodies.
func sampleBatches(t *testing.T, root string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "testdata", "sample", "currents-http-batches.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// waitReady waits until the input's readiness endpoint answers 200: it
// answers 503 until the pipeline behind it has taken its first message.
func waitReady(t *testing.T, url string, logs func() string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s never answered 200:\n%s", url, logs())
}

// childAddrs waits until the child pid listens on want TCP sockets (see
// listeningAddrs) and tells them apart by asking them: Benthos's HTTP server
// answers GET /ping with 200 "pong", the braze_currents input answers
// GET /ready with 200 or 503 (and /ping with 404). want is 2, or 1 when the
// config disables Benthos's HTTP server, and api is then "". The configs
// bind 127.0.0.1:0: the child picks its ports, no other process can take
// them first.
func childAddrs(t *testing.T, pid, want int, out func() string) (input, api string) {
	t.Helper()
	role := map[string]string{} // address → "input" or "api", once it answered
	var addrs []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		addrs = listeningAddrs(t, pid)
		if len(addrs) > want {
			t.Fatalf("the child listens on %v, want %d sockets:\n%s", addrs, want, tail(out(), 3000))
		}
		if len(addrs) < want {
			if childExited(pid) {
				t.Fatalf("the child exited before listening on %d sockets (%v):\n%s", want, addrs, tail(out(), 3000))
			}
			continue
		}
		input, api = "", ""
		for _, addr := range addrs {
			if role[addr] == "" {
				role[addr], _ = listenerRole(addr)
			}
			switch role[addr] {
			case "input":
				input = addr
			case "api":
				api = addr
			}
		}
		if input != "" && (want == 1 || api != "") {
			return input, api
		}
	}
	t.Fatalf("after 20s the child listens on %v, told apart as %v; want %d: the braze_currents input (GET /ready) and, with 2, Benthos's HTTP server (GET /ping):\n%s",
		addrs, role, want, tail(out(), 3000))
	return "", ""
}

// listenerRole asks the HTTP server on addr what it is: "api" for Benthos's
// (GET /ping answers 200 "pong": internal/api/api.go of Benthos v4.60.0),
// "input" for the braze_currents input (GET /ping answers 404, GET /ready
// 200 or 503, returned as ready), "" when it does not answer so yet.
func listenerRole(addr string) (role string, ready int) {
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, string(b)
	}
	if status, body := get("/ping"); status == http.StatusOK && body == "pong" {
		return "api", 0
	}
	if status, _ := get("/ready"); status == http.StatusOK || status == http.StatusServiceUnavailable {
		return "input", status
	}
	return "", 0
}

// listeningAddrs returns the host:port of every TCP socket the process pid
// listens on, read from /proc: the socket inodes of /proc/<pid>/fd/*
// (links to "socket:[<inode>]") matched against the rows of
// /proc/<pid>/net/tcp and tcp6 in state 0A (LISTEN). It returns nil when the
// process is gone. It skips the test on an OS other than Linux.
func listeningAddrs(t *testing.T, pid int) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("finding the child's listening sockets reads /proc/<pid>/fd and net/tcp: Linux only")
	}
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(proc, "fd"))
	if err != nil {
		return nil // exited, or exiting
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(proc, "fd", fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(filepath.Join(proc, "net", table))
		if err != nil {
			continue // tcp6 is absent without IPv6; both once the process is gone
		}
		lines := strings.Split(string(data), "\n")
		for _, line := range lines[1:] { // the first is the header
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			if addr, ok := procTCPAddr(f[1]); ok {
				addrs = append(addrs, addr)
			}
		}
	}
	sort.Strings(addrs)
	return addrs
}

// procTCPAddr decodes a local_address of /proc/net/tcp(6), e.g.
// 0100007F:1F90 for 127.0.0.1:8080: the address is hex of 32-bit words
// printed in host byte order (little-endian on amd64 and arm64), the port
// big-endian hex.
func procTCPAddr(s string) (string, bool) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok || (len(hexIP) != 8 && len(hexIP) != 32) {
		return "", false
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return "", false
	}
	ip := make(net.IP, len(hexIP)/2)
	for i := 0; i < len(ip); i += 4 {
		word, err := strconv.ParseUint(hexIP[2*i:2*i+8], 16, 32)
		if err != nil {
			return "", false
		}
		binenc.NativeEndian.PutUint32(ip[i:], uint32(word))
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), true
}

// childExited tells whether the process pid is gone or a zombie.
func childExited(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	// pid (comm) state …: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}

// TestListeningAddrs checks listeningAddrs on this process's own listeners,
// IPv4 and (where there is one) IPv6 loopback, and that a closed one is gone.
func TestListeningAddrs(t *testing.T) {
	var want []string
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("no listener on %s: %v", addr, err)
			continue
		}
		defer ln.Close()
		want = append(want, ln.Addr().String())
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	got := map[string]bool{}
	for _, addr := range listeningAddrs(t, os.Getpid()) {
		got[addr] = true
	}
	for _, addr := range want {
		if !got[addr] {
			t.Errorf("listeningAddrs lacks %s: %v", addr, got)
		}
	}
	if got[closed.Addr().String()] {
		t.Errorf("listeningAddrs has the closed %s", closed.Addr())
	}
}
