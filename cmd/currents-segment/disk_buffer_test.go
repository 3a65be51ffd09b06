package main

import (
	"bytes"
	"context"
	binenc "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
)

// These tests run the real binary with the disk buffer between the
// braze_currents input and the segment output, against the local Segment
// receiver.

type pipeline struct {
	config string
}

func newPipeline(t *testing.T, rc *segmenttest.Receiver, bufferDir, bufferExtra, inputExtra string) pipeline {
	t.Helper()
	p := pipeline{config: filepath.Join(t.TempDir(), "pipeline.yaml")}
	conf := fmt.Sprintf(`
http:
  address: 127.0.0.1:0
input:
  braze_currents:
    address: 127.0.0.1:0
    path: /currents
    allow_unauthenticated: true
%s
buffer:
  disk:
    path: %s
%s
pipeline:
  processors:
    - currents_to_segment: {}
output:
  segment:
    endpoint: %s
    write_key: test-key
    backoff: { initial_interval: 50ms, max_interval: 200ms }
metrics:
  prometheus: {}
logger:
  level: INFO
shutdown_timeout: 3s
`, inputExtra, bufferDir, bufferExtra, rc.URL())
	if err := os.WriteFile(p.config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type proc struct {
	cmd        *exec.Cmd
	out        *lockedBuffer
	input, api string // host:port the braze_currents input and Benthos's HTTP server bound
}

// start runs the binary and waits until the input answers /ready. Each
// process binds ports of its own: the addresses are on the proc.
func (p pipeline) start(t *testing.T) *proc {
	t.Helper()
	pr := &proc{cmd: exec.Command(binary, "-c", p.config), out: &lockedBuffer{}}
	pr.cmd.Stdout, pr.cmd.Stderr = pr.out, pr.out
	if err := pr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pr.cmd.Process.Kill(); _, _ = pr.cmd.Process.Wait() })
	pr.input, pr.api = childAddrs(t, pr.cmd.Process.Pid, 2, pr.out.String)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + pr.input + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return pr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline did not get ready:\n%s", pr.out)
		}
	}
}

func event(id string) string {
	return `{"event_type":"users.messages.email.Send","id":"` + id + `","time":1764334800,` +
		`"user":{"user_id":"u-` + id + `","external_user_id":"x-` + id + `"},"properties":{"email_address":"a@example.com","send_id":"s1"}}`
}

// post sends one Currents envelope of n events, ids prefix-0..n-1, and
// returns the HTTP status (0 on a transport error) and the Retry-After.
func post(client *http.Client, addr, prefix string, n int) (int, string) {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = event(fmt.Sprintf("%s-%d", prefix, i))
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/currents", strings.NewReader(`{"events":[`+strings.Join(evs, ",")+`]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Braze-Currents-Version", "1")
	resp, err := client.Do(req)
	if err != nil {
		return 0, ""
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func scrapeMetrics(t *testing.T, api string) string {
	t.Helper()
	resp, err := http.Get("http://" + api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metricValue sums the samples of a metric on a scraped page.
func metricValue(page, name string) (float64, bool) {
	var sum float64
	found := false
	for _, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
			found = true
		}
	}
	return sum, found
}

// TestDiskBufferSurvivesSIGKILL: Braze keeps posting while Segment rejects the
// write key; the process is killed with SIGKILL mid-stream, restarted,
// stopped with SIGTERM as for an upgrade (backlog still full) and started
// again; Segment recovers; every event whose request was answered 2xx
// arrives, once. /metrics is scraped on the way.
func TestDiskBufferSurvivesSIGKILL(t *testing.T) {
	skipIfShort(t)
	rc, err := segmenttest.Start("", segmenttest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rc.RejectKeysFor(time.Hour) // 401 until ClearFaults
	dir := t.TempDir()
	p := newPipeline(t, rc, dir, "", "")
	first := p.start(t)

	const perRequest = 20
	var mu sync.Mutex
	var accepted []string // request prefixes answered 2xx
	statuses := map[int]int{}
	stop := make(chan struct{})
	var senders sync.WaitGroup
	for w := 0; w < 4; w++ {
		senders.Add(1)
		go func() {
			defer senders.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				prefix := fmt.Sprintf("w%d-r%d", w, i)
				status, _ := post(client, first.input, prefix, perRequest)
				mu.Lock()
				statuses[status]++
				if status/100 == 2 {
					accepted = append(accepted, prefix)
				}
				mu.Unlock()
				if status == 0 {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	acceptedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(accepted) }
	for deadline := time.Now().Add(20 * time.Second); acceptedCount() < 40; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests accepted while Segment was rejecting; statuses %v\n%s", acceptedCount(), statuses, first.out)
		}
	}

	// While Segment rejects the key the backlog grows; /metrics shows it
	// with Benthos's and the other components' metrics.
	var page string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		page = scrapeMetrics(t, first.api)
		if v, _ := metricValue(page, "buffer_disk_backlog_messages"); v > 0 {
			if v, _ := metricValue(page, "segment_write_key_rejected"); v > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no backlog or no rejected key in /metrics:\n%s", page)
		}
	}
	for _, name := range []string{"buffer_disk_backlog_bytes", "buffer_disk_oldest_message_age_seconds", "buffer_disk_messages_written",
		"buffer_disk_messages_nacked", "buffer_disk_full", "buffer_disk_max_bytes", "currents_events_mapped", "segment_requests_sent", "segment_requests_failed", "input_received",
		"braze_currents_requests", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := metricValue(page, name); !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if !strings.Contains(page, "# TYPE buffer_disk_oldest_message_age_seconds gauge") || !strings.Contains(page, "_seconds_bucket{") {
		t.Error("/metrics lacks the gauge type or timer histograms")
	}

	// SIGKILL while requests keep coming.
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = first.cmd.Process.Wait()
	close(stop)
	senders.Wait()
	mu.Lock()
	want := append([]string(nil), accepted...)
	t.Logf("killed after %d requests of %d events were answered 2xx; answers %v", len(want), perRequest, statuses)
	mu.Unlock()
	if rc.Count() != 0 {
		t.Fatalf("the receiver accepted %d messages while rejecting the key", rc.Count())
	}

	// An upgrade while Segment still rejects the key: SIGTERM with a full
	// backlog, then start again on the same path.
	upgraded := p.start(t)
	time.Sleep(300 * time.Millisecond)
	began := time.Now()
	if err := upgraded.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = upgraded.cmd.Wait()
	t.Logf("SIGTERM with a backlog: exited after %v (%v)", time.Since(began).Round(time.Millisecond), err)
	if rc.Count() != 0 {
		t.Fatalf("the receiver accepted %d messages while rejecting the key", rc.Count())
	}

	second := p.start(t)
	time.Sleep(300 * time.Millisecond) // still rejected for a while after the restart
	rc.ClearFaults()
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	if err := rc.WaitForCount(ctx, len(want)*perRequest); err != nil {
		t.Fatalf("%v\n%s", err, second.out)
	}
	// Let any duplicate show up before counting them.
	time.Sleep(500 * time.Millisecond)
	got := map[string]bool{}
	for _, id := range rc.MessageIDs() {
		got[id] = true
	}
	missing := 0
	for _, prefix := range want {
		for i := 0; i < perRequest; i++ {
			if id := fmt.Sprintf("%s-%d", prefix, i); !got[id] {
				if missing++; missing < 5 {
					t.Errorf("event %s was answered 2xx but never reached Segment", id)
				}
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d events lost", missing)
	}
	// Nothing was accepted by Segment before the kill, so nothing the buffer
	// had acknowledged could be delivered again.
	if d := rc.Duplicates(); d != 0 {
		t.Errorf("%d duplicate messageIds", d)
	}
	t.Logf("%d events delivered once each (%d distinct received, including requests cut off by the kill)", len(want)*perRequest, rc.Count())

	// The restarted process bound a port of its own: scrape it there, as a
	// load balancer or a Prometheus service discovery in front would.
	waitForMetric(t, second.api, "buffer_disk_backlog_messages", 0)
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, second.out)
	}
}

func waitForMetric(t *testing.T, api, name string, want float64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if v, ok := metricValue(scrapeMetrics(t, api), name); ok && v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %v", name, want)
		}
	}
}

// TestDiskBufferFullAnswers503: with Segment away and a small max_bytes, the
// buffer fills, writes block, and braze_currents answers 503 with
// Retry-After (it does not take the request within queue_timeout, or the
// request is not stored within ack_timeout), so Braze retries later. Once
// Segment is back the backlog drains and requests are taken again; every
// event answered 2xx arrives.
func TestDiskBufferFullAnswers503(t *testing.T) {
	rc, err := segmenttest.Start("", segmenttest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rc.RejectKeysFor(time.Hour)
	p := newPipeline(t, rc, t.TempDir(), "    max_bytes: 40KB", "    queue_timeout: 300ms\n    ack_timeout: 1s\n    retry_after: 1s")
	pr := p.start(t)
	client := &http.Client{Timeout: 10 * time.Second}
	var accepted []string
	got503 := false
	for i := 0; i < 100 && !got503; i++ {
		prefix := fmt.Sprintf("full-%d", i)
		switch status, retryAfter := post(client, pr.input, prefix, 20); {
		case status/100 == 2:
			accepted = append(accepted, prefix)
		case status == http.StatusServiceUnavailable:
			if retryAfter == "" {
				t.Error("503 without Retry-After")
			}
			got503 = true
		default:
			t.Fatalf("request %d answered %d\n%s", i, status, pr.out)
		}
	}
	if !got503 || len(accepted) == 0 {
		t.Fatalf("no 503 from a full buffer after %d requests accepted", len(accepted))
	}
	if v, _ := metricValue(scrapeMetrics(t, pr.api), "buffer_disk_full"); v != 1 {
		t.Errorf("buffer_disk_full is %v while full", v)
	}
	rc.ClearFaults()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if status, _ := post(client, pr.input, "after", 20); status == 200 {
			accepted = append(accepted, "after")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("requests still refused after Segment recovered")
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := rc.WaitForCount(ctx, len(accepted)*20); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, id := range rc.MessageIDs() {
		got[id] = true
	}
	for _, prefix := range accepted {
		for i := 0; i < 20; i++ {
			if !got[fmt.Sprintf("%s-%d", prefix, i)] {
				t.Fatalf("%s-%d answered 2xx, never delivered", prefix, i)
			}
		}
	}
	t.Logf("%d requests accepted before the buffer was full; 503 after; all delivered once Segment recovered", len(accepted)-1)
}

// backlogThroughTheBinary runs the production pipeline of docs/operations.md
// while Segment rejects the write key, posts requests Braze-style (requests
// of perRequest events, ids dmg-r<i>-<j>) and stops it with SIGTERM: the
// requests stay in the disk buffer at bufferDir. It returns the pipeline
// config's path.
func backlogThroughTheBinary(t *testing.T, rc *segmenttest.Receiver, dir string, requests, perRequest int) string {
	t.Helper()
	root := repoRoot(t)
	conf := filepath.Join(dir, "production.yaml")
	if err := os.WriteFile(conf, []byte(docsConfig(t, filepath.Join(root, "docs", "operations.md"), "<!-- config-test: outage -->")), 0o644); err != nil {
		t.Fatal(err)
	}
	rc.RejectKeysFor(time.Hour)
	p := startBrazePipeline(t, root, conf, damageEnv(rc, dir))
	for i := 0; i < requests; i++ {
		evs := make([]string, perRequest)
		for j := range evs {
			evs[j] = event(fmt.Sprintf("dmg-r%d-%d", i, j))
		}
		postLikeBraze(t, "http://"+p.input+"/currents", "damage-braze-token", []byte(`{"events":[`+strings.Join(evs, ",")+`]}`))
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("the binary did not stop:\n%s", p.logs)
	}
	if rc.Count() != 0 {
		t.Fatalf("Segment accepted %d events while rejecting the key", rc.Count())
	}
	return conf
}

func damageEnv(rc *segmenttest.Receiver, dir string) []string {
	return exampleEnv(rc, filepath.Join(dir, "dead.jsonl"),
		"BRAZE_CURRENTS_TOKEN=damage-braze-token", "BRAZE_LISTEN_ADDRESS=127.0.0.1:0", "HTTP_ADDRESS=127.0.0.1:0",
		"BUFFER_PATH="+filepath.Join(dir, "buffer"))
}

// waitForEvents waits until Segment has every event of the requests but
// those in skip.
func waitForEvents(t *testing.T, rc *segmenttest.Receiver, requests, perRequest int, skip map[int]bool, logs fmt.Stringer) {
	t.Helper()
	want := (requests - len(skip)) * perRequest
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := rc.WaitForCount(ctx, want); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	got := map[string]bool{}
	for _, id := range rc.MessageIDs() {
		got[id] = true
	}
	for i := 0; i < requests; i++ {
		for j := 0; j < perRequest && !skip[i]; j++ {
			if id := fmt.Sprintf("dmg-r%d-%d", i, j); !got[id] {
				t.Fatalf("event %s never reached Segment", id)
			}
		}
	}
}

// filledBacklogThroughTheBinary fills a buffer through the binary (30
// requests of 100 events, the receiver down) and returns the receiver, the
// pipeline's directory and config, the buffer file and its bytes, for a test
// to damage.
func filledBacklogThroughTheBinary(t *testing.T) (rc *segmenttest.Receiver, dir, conf, path string, raw []byte) {
	t.Helper()
	rc = startReceiver(t)
	dir = t.TempDir()
	conf = backlogThroughTheBinary(t, rc, dir, 30, 100)
	path = filepath.Join(dir, "buffer", "backlog.db")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return rc, dir, conf, path, raw
}

// TestDiskBufferDamagedRecordThroughTheBinary: the attack's backlog of 3,000
// events (30 requests) with one record's bytes flipped on disk. The
// restarted binary delivers the 2,900 intact events, takes the damaged
// record to the production pipeline's dead letter (stage mapping, the damage
// as the reason, its sequence number and bytes as the event), logs it at
// ERROR, counts it in buffer_disk_records_damaged, and goes on taking
// requests; the backlog drains to zero.
func TestDiskBufferDamagedRecordThroughTheBinary(t *testing.T) {
	skipIfShort(t)
	rc, dir, conf, path, raw := filledBacklogThroughTheBinary(t)
	at := bytes.Index(raw, []byte(`"id":"dmg-r17-42"`))
	if at < 0 {
		t.Fatal("request 17 not found in the buffer file")
	}
	raw[at+12] ^= 0x01 // one bit of one event id of request 17
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	rc.ClearFaults()
	// The restarted binary binds ports of its own; Braze's next request
	// goes where it listens, as through a load balancer in front.
	p := startBrazePipeline(t, repoRoot(t), conf, damageEnv(rc, dir))
	waitForEvents(t, rc, 30, 100, map[int]bool{17: true}, p.logs)
	// New requests are taken and delivered beside the damaged record.
	postLikeBraze(t, "http://"+p.input+"/currents", "damage-braze-token", []byte(`{"events":[`+event("dmg-after")+`]}`))
	waitForMetric(t, p.api, "buffer_disk_backlog_messages", 0)
	if v, _ := metricValue(scrapeMetrics(t, p.api), "buffer_disk_records_damaged"); v != 1 {
		t.Errorf("buffer_disk_records_damaged is %v", v)
	}
	dead := readDeadLetters(t, filepath.Join(dir, "dead.jsonl"))
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want the damaged record: %+v", len(dead), dead)
	}
	var ev struct {
		DamagedRecord struct {
			Seq    uint64 `json:"seq"`
			Damage string `json:"damage"`
			Bytes  []byte `json:"bytes_base64"`
		} `json:"damaged_record"`
	}
	if err := json.Unmarshal(dead[0].Event, &ev); err != nil {
		t.Fatalf("dead letter event %s: %v", dead[0].Event, err)
	}
	d := ev.DamagedRecord
	if dead[0].Stage != "mapping" || !strings.Contains(dead[0].Reason, fmt.Sprintf("record %d of %s is damaged", d.Seq, path)) ||
		!strings.Contains(d.Damage, "checksum") || !bytes.Contains(d.Bytes, []byte(`dmg-r17-0`)) {
		t.Fatalf("dead letter %+v / %s", dead[0], dead[0].Event)
	}
	if logs := p.logs.String(); !strings.Contains(logs, fmt.Sprintf("record %d is damaged", d.Seq)) || !strings.Contains(logs, "level=error") {
		t.Errorf("no ERROR log naming record %d:\n%s", d.Seq, logs)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	t.Logf("2,900 events delivered, record %d (request 17) in the dead letter", d.Seq)
}

// TestDiskBufferDamagedNewestMetaPageThroughTheBinary: bbolt silently
// reopens a file whose newest meta page is damaged at the commit before (the
// attack delivered 2,900 of 3,000 events, with no warning). The binary logs
// at ERROR that the last commit was lost and restored, and delivers all
// 3,000.
func TestDiskBufferDamagedNewestMetaPageThroughTheBinary(t *testing.T) {
	skipIfShort(t)
	rc, dir, conf, path, raw := filledBacklogThroughTheBinary(t)
	// The meta page with the higher transaction id (bytes 48..56 of the
	// meta, after the 16-byte page header) is the newest.
	txid := func(page int) uint64 { return binenc.LittleEndian.Uint64(raw[page*4096+16+48:]) }
	newest := 0
	if txid(1) > txid(0) {
		newest = 1
	}
	raw[newest*4096+16+40] ^= 0xff
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	rc.ClearFaults()
	p := startBrazePipeline(t, repoRoot(t), conf, damageEnv(rc, dir))
	waitForEvents(t, rc, 30, 100, nil, p.logs)
	logs := p.logs.String()
	if !strings.Contains(logs, fmt.Sprintf("meta page %d failed its check", newest)) || !strings.Contains(logs, "the last commit was lost") {
		t.Errorf("the damaged meta page was not reported:\n%s", logs)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
}
