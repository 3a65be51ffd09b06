package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
)

const brazeBinToken = "bin-braze-token-7f3a"

// brazeBinary is the binary running braze_currents → currents_to_segment →
// segment, ready to take Braze's batches.
type brazeBinary struct{ *brazePipeline }

func (b *brazeBinary) output() string { return b.logs.String() }

// url is where the input takes Braze's batches: the address it bound, the
// default path.
func (b *brazeBinary) url() string { return "http://" + b.input + "/" }

func (b *brazeBinary) kill() {
	_ = b.cmd.Process.Kill()
	<-b.done
}

func startBrazeBinary(t *testing.T, segmentURL string) *brazeBinary {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "braze.yaml")
	yaml := `
http:
  enabled: false
input:
  braze_currents:
    address: 127.0.0.1:0
    bearer_token: ${BRAZE_CURRENTS_TOKEN}
    ack_timeout: 1m
    write_timeout: 2m
pipeline:
  processors:
    - currents_to_segment: {}
output:
  segment:
    write_key: bin-key
    endpoint: ` + segmentURL + `
    timeout: 1m
    batching: { count: 100, period: 10ms }
logger:
  level: INFO
`
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	// http.enabled is false: the input is the process's only listener.
	return &brazeBinary{startBrazePipelineListening(t, dir, conf, []string{"BRAZE_CURRENTS_TOKEN=" + brazeBinToken}, 1)}
}

type brazeBinAnswer struct {
	status int
	err    error
}

func brazeBinPost(url string, body []byte) brazeBinAnswer {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+brazeBinToken)
	req.Header.Set("Braze-Currents-Version", "1")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return brazeBinAnswer{err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return brazeBinAnswer{status: resp.StatusCode}
}

// TestBinaryBrazeInputKilledMidRequestNeverAnswers2xx starts the binary with
// a Segment endpoint that holds every request, sends Braze's batch, and
// SIGKILLs the process while the events are on their way: the client must
// not have got a 2xx. Braze then retries against a restarted process and the
// events are delivered, once each.
func TestBinaryBrazeInputKilledMidRequestNeverAnswers2xx(t *testing.T) {
	rc := segmenttest.New(segmenttest.Config{WriteKeys: []string{"bin-key"}})
	arrived := make(chan struct{}, 100)
	seg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		rc.ServeHTTP(w, r)
	}))
	defer func() {
		seg.CloseClientConnections()
		seg.Close()
	}()
	rc.SetFault(segmenttest.Fault{Delay: time.Minute}) // Segment hangs

	var events []string
	for i := range 5 {
		events = append(events, fmt.Sprintf(`{"event_type":"users.messages.email.Open","id":"kill-%d","time":1764334800,`+
			`"user":{"user_id":"u-%d","external_user_id":"ext-%d"},"properties":{"campaign_id":"c","dispatch_id":"d","email_address":"a@example.com"}}`, i, i, i))
	}
	body := []byte(`{"events":[` + strings.Join(events, ",") + `]}`)

	bin := startBrazeBinary(t, seg.URL)
	answer := make(chan brazeBinAnswer, 1)
	go func() { answer <- brazeBinPost(bin.url(), body) }()
	select {
	case <-arrived: // the events are in the segment output's request
	case a := <-answer:
		t.Fatalf("answered before delivery: %+v\n%s", a, bin.output())
	case <-time.After(20 * time.Second):
		t.Fatalf("the events never reached the Segment endpoint:\n%s", bin.output())
	}
	bin.kill() // SIGKILL
	var a brazeBinAnswer
	select {
	case a = <-answer:
	case <-time.After(20 * time.Second):
		t.Fatal("the client is still waiting after the process died")
	}
	if a.err == nil && a.status/100 == 2 {
		t.Fatalf("the client got %d for events that were never delivered", a.status)
	}
	if rc.Count() != 0 {
		t.Fatalf("Segment accepted %d events", rc.Count())
	}
	if strings.Contains(bin.output(), brazeBinToken) {
		t.Fatal("the token is in the logs")
	}

	// Braze retries the batch against a restarted process, at the address
	// the new process bound: what a load balancer in front would do.
	rc.ClearFault()
	bin = startBrazeBinary(t, seg.URL)
	if a := brazeBinPost(bin.url(), body); a.err != nil || a.status != http.StatusOK {
		t.Fatalf("retry: %+v\n%s", a, bin.output())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := rc.WaitForCount(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rc.MessageIDs(), ","); got != "kill-0,kill-1,kill-2,kill-3,kill-4" {
		t.Fatalf("Segment has %s", got)
	}
}
