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
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/samples"
	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
)

// README.md, "Several instances behind a load balancer", says the binary
// scales out behind any HTTP load balancer that health-checks GET /ready:
// this test runs that deployment with a real HAProxy in front of three
// instances of deploy/pipeline.yaml, kills one with SIGKILL in the middle of
// Braze's traffic and restarts it, and checks that nothing answered 2xx is
// lost.

const (
	scaleOutToken    = "scaleout-braze-token-5e1a"
	scaleOutRequests = 300 // Braze requests ...
	scaleOutPerReq   = 100 // ... of this many events: a run of several seconds
	scaleOutSenders  = 8   // Braze posts concurrently
	scaleOutHeader   = "X-Currents-Instance"
)

// scaleOutInstance is one of the instances behind the balancer. Its address
// and buffer outlive its processes: a restarted instance must come back on
// the port HAProxy knows, with the backlog the killed one left.
type scaleOutInstance struct {
	name   string // the server's name in haproxy.cfg
	addr   string // 127.0.0.1:<port> of its braze_currents input
	buffer string // BUFFER_PATH
	dead   string // DEAD_LETTER_PATH
	env    []string
	run    *scaleOutRun // the current process
}

// scaleOutRun is one process of an instance.
type scaleOutRun struct {
	cmd     *exec.Cmd
	logs    *lockedBuffer
	exited  chan struct{} // closed once Wait returned
	err     error         // Wait's, once exited is closed
	started time.Time
}

// start runs the instance's process and waits until it listens on its
// address and answers /ready 200. It returns false when the port is taken by
// another process and giveUpIfTaken is set (the caller picks another one);
// without it, it keeps waiting: Benthos retries the input's Connect, so a
// restarted instance binds its port as soon as whatever took it lets go.
func (in *scaleOutInstance) start(t *testing.T, conf string, giveUpIfTaken bool) bool {
	t.Helper()
	r := &scaleOutRun{logs: &lockedBuffer{}, exited: make(chan struct{}), started: time.Now()}
	r.cmd = exec.Command(binary, "run", conf)
	r.cmd.Env = append(os.Environ(), in.env...)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() { _ = r.cmd.Process.Kill(); <-r.exited })
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-r.exited:
			t.Fatalf("%s exited before answering /ready (%v):\n%s", in.name, r.err, tail(r.logs.String(), 3000))
		default:
		}
		if giveUpIfTaken && strings.Contains(r.logs.String(), "address already in use") {
			_ = r.cmd.Process.Kill()
			<-r.exited
			return false
		}
		// The port must be this process's: another test's process may
		// have been given it by the kernel after we closed our probe.
		addrs := listeningAddrs(t, r.cmd.Process.Pid)
		if len(addrs) != 2 || !slices.Contains(addrs, in.addr) {
			continue
		}
		resp, err := client.Get("http://" + in.addr + "/ready")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			continue
		}
		in.run = r
		return true
	}
	t.Fatalf("%s did not answer /ready 200 on %s within 90s:\n%s", in.name, in.addr, tail(r.logs.String(), 3000))
	return false
}

// freeLoopbackAddr returns 127.0.0.1:<port> for a port that was free a
// moment ago. HAProxy needs its backends' addresses before they start, so
// the instances cannot bind :0; a port taken in between is handled by
// retrying the start.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// haproxyConfig is the balancer in front of the instances.
func haproxyConfig(front string, servers []*scaleOutInstance) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    log stderr format raw local0 info
    maxconn 256
    # HAProxy retries a request from a copy of it that must fit in one
    # buffer (16 kB by default): a Braze request of 100 events is a few
    # hundred kB. A request that does not fit is not retried by HAProxy but
    # answered 502/503, and Braze retries it: slower, equally safe.
    tune.bufsize 1048576

defaults
    mode http
    log global
    log-format "request %%b/%%s status=%%ST retries=%%rc time=%%Tt"
    # Take the whole body before choosing a server, so that a retry has it.
    option http-buffer-request
    timeout connect 2s
    timeout client 2m
    timeout http-request 30s
    timeout queue 30s
    timeout check 2s
    # Above the input's ack_timeout (30s): the input answers 503 itself
    # when the pipeline behind it does not store a request in time.
    timeout server 2m
    # A request the killed instance never answered goes to another one.
    # Retrying is safe here even when the dead server had read the body:
    # the disk buffer answers 200 only once the events are stored, so an
    # unanswered request was either not stored (the retry is the only copy)
    # or stored and not acknowledged (the retry makes duplicates, which
    # carry the same messageId, the event id, and Segment drops). A retry
    # can make duplicates, never a loss.
    retry-on conn-failure empty-response response-timeout
    retries 3
    # Every retry to another server: the one that failed is likely dead.
    option redispatch 1

frontend braze
    bind %s
    default_backend currents

backend currents
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    # Which instance acknowledged a request: the test needs it to follow
    # the killed instance's backlog.
    http-response set-header %s %%s
`, front, scaleOutHeader)
	for _, s := range servers {
		fmt.Fprintf(&b, "    server %s %s check inter 200ms fall 2 rise 2\n", s.name, s.addr)
	}
	return b.String()
}

// startHAProxy runs HAProxy with the config of haproxyConfig on a free
// port, retried on another port if it was taken, and waits until it
// answers GET /ready 200 through an instance. It returns the frontend's
// address and HAProxy's log.
func startHAProxy(t *testing.T, haproxy string, servers []*scaleOutInstance) (front string, logs *lockedBuffer) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	client := &http.Client{Timeout: 2 * time.Second}
tries:
	for try := 0; try < 5; try++ {
		front = freeLoopbackAddr(t)
		if err := os.WriteFile(cfg, []byte(haproxyConfig(front, servers)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(haproxy, "-c", "-f", cfg).CombinedOutput(); err != nil {
			t.Fatalf("haproxy -c: %v\n%s", err, out)
		}
		logs = &lockedBuffer{}
		cmd := exec.Command(haproxy, "-f", cfg, "-db")
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			select {
			case <-exited:
				if strings.Contains(logs.String(), "cannot bind") {
					continue tries // the port was taken: another one
				}
				t.Fatalf("haproxy exited:\n%s", logs)
			default:
			}
			if resp, err := client.Get("http://" + front + "/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return front, logs
				}
			}
		}
		t.Fatalf("haproxy on %s never answered /ready 200:\n%s", front, logs)
	}
	t.Fatal("haproxy found no free port in 5 tries")
	return "", nil
}

// waitForLog waits until logs holds want at least n times.
func waitForLog(t *testing.T, logs *lockedBuffer, want string, n int, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); strings.Count(logs.String(), want) < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q (%d times) in the log within %v:\n%s", want, n, within, tail(logs.String(), 3000))
		}
	}
}

// scaleOutBatches returns Braze request bodies of generated events, of
// every type, and for each the ids of the events the production pipeline
// sends to Segment (mapped by currents_to_segment's defaults; the others,
// anonymous users and types outside the default selection, are skipped).
func scaleOutBatches(t *testing.T) (bodies [][]byte, events []int, mapped [][]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := samples.New(1515).WriteHTTPBatches(&buf, scaleOutRequests*scaleOutPerReq, scaleOutPerReq); err != nil {
		t.Fatal(err)
	}
	mapper, err := currents.NewMapper(currents.DefaultCatalog(), currents.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		body := append([]byte(nil), sc.Bytes()...)
		var ids []string
		results := mapper.Map(body, nil)
		for _, r := range results {
			if r.Outcome == currents.Mapped {
				ids = append(ids, r.EventID)
			}
		}
		bodies, events, mapped = append(bodies, body), append(events, len(results)), append(mapped, ids)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return bodies, events, mapped
}

// brazeTraffic is what the senders saw, shared between them and the test.
type brazeTraffic struct {
	mu        sync.Mutex
	acked     int               // requests answered 2xx
	eventsIn  int               // events in them
	ackedIDs  map[string]bool   // ids of their events that go to Segment
	ackedBy   map[string][]int  // instance → the requests it answered 2xx
	ackedAt   []time.Time       // by request, when answered 2xx
	retried   int               // requests that needed more than one attempt
	failures  map[string]int    // non-2xx answers and connection errors, by kind
	permanent map[int]string    // requests refused for good: a test failure
	servedBy  map[string]string // event id → the instance that acked it
}

func (b *brazeTraffic) ackedCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.acked
}

// send posts body until it is answered 2xx, as Braze does: 429, 5xx and
// connection errors are retried after a pause (Braze retries with backoff,
// here sooner); an answer that is neither is a failure of the test.
func (b *brazeTraffic) send(ctx context.Context, client *http.Client, url string, i int, body []byte, events int, ids []string) {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Authorization", "Bearer "+scaleOutToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Braze-Currents-Version", "1")
		kind := ""
		resp, err := client.Do(req)
		if err != nil {
			kind = "connection error"
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			kind = strconv.Itoa(resp.StatusCode)
		}
		b.mu.Lock()
		switch {
		case err == nil && resp.StatusCode/100 == 2:
			b.acked++
			b.eventsIn += events
			inst := resp.Header.Get(scaleOutHeader)
			b.ackedBy[inst] = append(b.ackedBy[inst], i)
			b.ackedAt[i] = time.Now()
			for _, id := range ids {
				b.ackedIDs[id] = true
				b.servedBy[id] = inst
			}
			if attempt > 1 {
				b.retried++
			}
			b.mu.Unlock()
			return
		case err != nil || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			b.failures[kind]++
			b.mu.Unlock()
		default:
			b.permanent[i] = kind
			b.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(min(attempt, 5)) * 100 * time.Millisecond):
		}
	}
}

var diskBufferWaiting = regexp.MustCompile(`Disk buffer \S+ checked in \S+: (\d+) messages`)

// TestScaleOutBehindHAProxy: Braze posts 300 requests of 100 events, 8 at a
// time, to HAProxy in front of three instances of deploy/pipeline.yaml, each
// with its own disk buffer. A third of the way in, with Segment slowed down
// so that the instance holds acknowledged events it has not delivered, one
// instance is killed with SIGKILL; HAProxy's health check takes it out, the
// requests it never answered are retried elsewhere (by HAProxy or by
// Braze), and a couple of seconds later it is restarted on the same port
// and buffer. Every event of every request answered 2xx reaches Segment;
// the killed instance's backlog is delivered by its restart; duplicates are
// counted (Segment drops them on messageId) and nothing is dead-lettered.
func TestScaleOutBehindHAProxy(t *testing.T) {
	skipIfShort(t)
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		const install = "apt-get install -y --no-install-recommends haproxy"
		if os.Getenv("CURRENTS_SEGMENT_CI") == "1" {
			t.Fatalf("haproxy not found, and CURRENTS_SEGMENT_CI=1 makes that a failure: .ci/run installs it (%s)", install)
		}
		t.Skipf("haproxy not found: %s", install)
	}
	began := time.Now()
	root := repoRoot(t)
	conf := filepath.Join(root, "deploy", "pipeline.yaml")
	bodies, events, mapped := scaleOutBatches(t)
	largest := 0
	for _, b := range bodies {
		largest = max(largest, len(b))
	}

	// The receiver keeps every message (the check needs them) but only a
	// few requests: their bodies would take gigabytes. Its Messages are the
	// first copies only, so the last time each id came in an accepted
	// request, duplicates included, is kept apart: the restarted instance
	// resends its backlog whether or not the killed one had got it through
	// before dying (between Segment's 200 and the buffer's delete).
	var lastSeenMu sync.Mutex
	lastSeen := map[string]time.Time{}
	onRequest := func(req segmenttest.Request) {
		if req.Status != http.StatusOK {
			return
		}
		var body struct {
			Batch []struct {
				MessageID string `json:"messageId"`
			} `json:"batch"`
		}
		if json.Unmarshal(req.Body, &body) != nil {
			return
		}
		lastSeenMu.Lock()
		defer lastSeenMu.Unlock()
		for _, m := range body.Batch {
			if req.Received.After(lastSeen[m.MessageID]) {
				lastSeen[m.MessageID] = req.Received
			}
		}
	}
	rc, err := segmenttest.Start("127.0.0.1:0", segmenttest.Config{WriteKeys: []string{exampleWriteKey}, MaxRecordedRequests: 100, OnRequest: onRequest})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })

	instances := make([]*scaleOutInstance, 3)
	for i := range instances {
		dir := t.TempDir()
		in := &scaleOutInstance{name: fmt.Sprintf("i%d", i), buffer: filepath.Join(dir, "buffer"), dead: filepath.Join(dir, "dead.jsonl")}
		for try := 0; ; try++ {
			if try == 5 {
				t.Fatalf("%s found no free port in 5 tries", in.name)
			}
			in.addr = freeLoopbackAddr(t)
			in.env = exampleEnv(rc, in.dead, "BRAZE_CURRENTS_TOKEN="+scaleOutToken, "BRAZE_LISTEN_ADDRESS="+in.addr,
				"HTTP_ADDRESS=127.0.0.1:0", "BUFFER_PATH="+in.buffer)
			if in.start(t, conf, true) {
				break
			}
		}
		instances[i] = in
	}
	front, hlogs := startHAProxy(t, haproxy, instances)
	url := "http://" + front + "/currents"

	traffic := &brazeTraffic{ackedIDs: map[string]bool{}, ackedBy: map[string][]int{}, ackedAt: make([]time.Time, len(bodies)),
		failures: map[string]int{}, permanent: map[int]string{}, servedBy: map[string]string{}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	// Two thirds of the requests are queued at once: the kill comes when a
	// third are answered, with requests in flight and more to come. The
	// last third waits for the restarted instance to be back in the
	// balancer, so that it takes Braze's requests again (on a fast machine
	// the first two thirds may be done before that: a lull in Braze's
	// traffic).
	work := make(chan int, len(bodies))
	for i := range 2 * len(bodies) / 3 {
		work <- i
	}
	var senders sync.WaitGroup
	postingFrom := time.Now()
	for range scaleOutSenders {
		senders.Add(1)
		go func() {
			defer senders.Done()
			client := &http.Client{Timeout: 2 * time.Minute}
			for i := range work {
				traffic.send(ctx, client, url, i, bodies[i], events[i], mapped[i])
			}
		}()
	}
	sendersDone := make(chan struct{})
	go func() { senders.Wait(); close(sendersDone) }()

	// A third of the way in, Segment slows down (each call held 5s) and
	// the victim is killed as soon as it has answered 2xx to a request
	// after that: the events of that request are stored and acknowledged,
	// and any Segment call carrying them started after the slowdown, so is
	// still held when the kill comes. The restart must deliver them.
	for deadline := time.Now().Add(3 * time.Minute); traffic.ackedCount() < len(bodies)/3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests acknowledged in 3 minutes", traffic.ackedCount())
		}
	}
	victim := instances[1]
	rc.SetFault(segmenttest.Fault{Delay: 5 * time.Second})
	slowFrom := time.Now()
	ackedSinceSlow := func() bool {
		traffic.mu.Lock()
		defer traffic.mu.Unlock()
		for _, i := range traffic.ackedBy[victim.name] {
			if traffic.ackedAt[i].After(slowFrom) {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(time.Minute); !ackedSinceSlow(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s answered no request 2xx within a minute of Segment slowing down:\n%s", victim.name, tail(victim.run.logs.String(), 3000))
		}
	}
	// Counted before the kill: an instance may flap under load (a health
	// check answered late), and only the transitions after the kill count.
	down, up := "Server currents/"+victim.name+" is DOWN", "Server currents/"+victim.name+" is UP"
	downBefore, upBefore := strings.Count(hlogs.String(), down), strings.Count(hlogs.String(), up)
	killed := victim.run
	if err := killed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-killed.exited
	killedAt := time.Now()
	killAfter := traffic.ackedCount()
	rc.ClearFault()

	// HAProxy's health check takes the victim out (fall 2, inter 200ms);
	// it stays down a couple of seconds, the outage of a real crash and
	// restart, while Braze keeps posting to the two others.
	waitForLog(t, hlogs, down, downBefore+1, 30*time.Second)
	time.Sleep(time.Until(killedAt.Add(2 * time.Second)))
	victim.start(t, conf, false)
	restarted := victim.run
	waitForLog(t, hlogs, up, upBefore+1, 30*time.Second)
	restartedUpAt := time.Now()
	for i := 2 * len(bodies) / 3; i < len(bodies); i++ {
		work <- i
	}
	close(work)

	select {
	case <-sendersDone:
	case <-ctx.Done():
		t.Fatalf("Braze's requests not all acknowledged within 5 minutes: %d of %d", traffic.ackedCount(), len(bodies))
	}
	postedIn := time.Since(postingFrom)

	traffic.mu.Lock()
	defer traffic.mu.Unlock()
	for i, kind := range traffic.permanent {
		t.Errorf("request %d answered %s: Braze would not retry it", i, kind)
	}
	want := traffic.ackedIDs
	got, missing := deliveredIDs(rc, want)
	for deadline := time.Now().Add(2 * time.Minute); missing > 0; got, missing = deliveredIDs(rc, want) {
		if time.Now().After(deadline) {
			n := 0
			for id := range want {
				if !got[id] {
					if n++; n <= 5 {
						t.Errorf("event %s, acknowledged by %s, never reached Segment", id, traffic.servedBy[id])
					}
				}
			}
			t.Fatalf("%d of %d acknowledged events not delivered within 2 minutes", missing, len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	deliveredIn := time.Since(postingFrom)

	// The restart found the victim's backlog and delivered it: events the
	// victim acknowledged before the kill that Segment received (for the
	// first time or again) after the restart began.
	m := diskBufferWaiting.FindStringSubmatch(restarted.logs.String())
	if m == nil {
		t.Fatalf("the restarted %s did not log its backlog:\n%s", victim.name, tail(restarted.logs.String(), 3000))
	}
	waiting, _ := strconv.Atoi(m[1])
	ackedByVictim := map[string]bool{}
	for _, i := range traffic.ackedBy[victim.name] {
		if traffic.ackedAt[i].Before(killedAt) {
			for _, id := range mapped[i] {
				ackedByVictim[id] = true
			}
		}
	}
	fromBacklog := 0
	lastSeenMu.Lock()
	for id := range ackedByVictim {
		if !lastSeen[id].Before(restarted.started) {
			fromBacklog++
		}
	}
	lastSeenMu.Unlock()
	if waiting == 0 || fromBacklog == 0 {
		t.Errorf("the restarted %s found %d messages waiting and delivered %d events the killed one had acknowledged: want both above 0",
			victim.name, waiting, fromBacklog)
	}
	afterRestart := 0
	for _, i := range traffic.ackedBy[victim.name] {
		if traffic.ackedAt[i].After(restartedUpAt) {
			afterRestart++
		}
	}
	if afterRestart == 0 {
		t.Errorf("the restarted %s acknowledged no request: HAProxy did not take it back", victim.name)
	}
	for _, in := range instances {
		if len(traffic.ackedBy[in.name]) == 0 {
			t.Errorf("%s acknowledged no request: the balancer did not spread the load", in.name)
		}
	}

	// Stop every instance as for a rolling restart, and wait for them.
	for _, in := range instances {
		if err := in.run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range instances {
		select {
		case <-in.run.exited:
			if in.run.err != nil {
				t.Errorf("%s exited after SIGTERM: %v\n%s", in.name, in.run.err, tail(in.run.logs.String(), 3000))
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s did not stop within a minute of SIGTERM:\n%s", in.name, tail(in.run.logs.String(), 3000))
		}
		if dead := readDeadLetters(t, in.dead); len(dead) != 0 {
			t.Errorf("%s dead-lettered %d events, the first: %+v", in.name, len(dead), dead[0])
		}
	}

	haproxyRetried := 0
	for _, r := range regexp.MustCompile(`retries=\+?(\d+)`).FindAllStringSubmatch(hlogs.String(), -1) {
		if r[1] != "0" {
			haproxyRetried++
		}
	}
	perInstance := []string{}
	for _, in := range instances {
		perInstance = append(perInstance, fmt.Sprintf("%s %d", in.name, len(traffic.ackedBy[in.name])))
	}
	t.Logf("%d requests (largest %d kB) acked, %d events in them, %d to Segment; delivered %d, %d duplicates; "+
		"%s killed after %d requests / %.1fs, restarted with %d messages waiting, %d of its events delivered after the restart, %d requests to it after; "+
		"%d requests retried by Braze (answers %v), %d by HAProxy; per instance %s; posted in %.1fs, delivered in %.1fs, test %.1fs",
		traffic.acked, largest/1000, traffic.eventsIn, len(want), rc.Count(), rc.Duplicates(),
		victim.name, killAfter, killedAt.Sub(postingFrom).Seconds(), waiting, fromBacklog, afterRestart,
		traffic.retried, traffic.failures, haproxyRetried, strings.Join(perInstance, ", "),
		postedIn.Seconds(), deliveredIn.Seconds(), time.Since(began).Seconds())
}
