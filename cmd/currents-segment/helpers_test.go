package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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

// storageEvents reads the bundled storage export with goavro and returns the
// time of every event of an identified user, by id.
func storageEvents(t *testing.T, dir string) (identified map[string]int64, total int) {
	t.Helper()
	identified = map[string]int64{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(path, ".avro") {
			return err
		}
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
			total++
			if ext, ok := rec["external_user_id"].(map[string]any); ok && ext["string"] != "" {
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
	return identified, total
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
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

// sampleIdentified returns the ids of the bundled sample's events of
// identified users: what the quickstart delivers.
func sampleIdentified(t *testing.T, root string) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "testdata", "sample", "currents-http-batches.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var batch struct {
			Events []struct {
				ID   string `json:"id"`
				User struct {
					External string `json:"external_user_id"`
				} `json:"user"`
			} `json:"events"`
		}
		if err := json.Unmarshal(sc.Bytes(), &batch); err != nil {
			t.Fatal(err)
		}
		for _, e := range batch.Events {
			if e.User.External != "" {
				want[e.ID] = true
			}
		}
	}
	return want
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
	got := map[string]bool{}
	for _, m := range rc.Messages() {
		got[m.ID] = true
	}
	missing := 0
	for id := range want {
		if !got[id] {
			missing++
		}
	}
	if missing > 0 || len(got) != len(want) || rc.Duplicates() != 0 {
		t.Fatalf("delivered %d of %d (%d missing, %d duplicates)", len(got), len(want), missing, rc.Duplicates())
	}
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

var listenLine = regexp.MustCompile(`Receiving Braze Currents batches on (http://[^ ]+) \(`)

// brazePipeline is a binary running a braze_currents pipeline.
type brazePipeline struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	url  string
	done chan error
}

func startBrazePipeline(t *testing.T, dir, config string, env []string) *brazePipeline {
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
	for deadline := time.Now().Add(20 * time.Second); p.url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := listenLine.FindStringSubmatch(p.logs.String()); m != nil {
			p.url = m[1]
		}
	}
	if p.url == "" {
		t.Fatalf("the input never logged its address:\n%s", p.logs.String())
	}
	// The input answers 503 until every component is up; Braze retries.
	waitReady(t, readyURL(t, p.url), p.logs.String)
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

// readyURL is the readiness endpoint beside an input's URL.
func readyURL(t *testing.T, input string) string {
	t.Helper()
	u, err := url.Parse(input)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/ready"
	return u.String()
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
