package brazehttp

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "brz-handler-T0KEN-never-logged"

// Shared helpers of the package's tests: a recording Logger and Observer, a
// consumer playing the pipeline, request builders, and a handler on an
// httptest server (newFixture).

// testLog records every line with its level.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) add(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, args...))
}

func (l *testLog) Debugf(format string, args ...any) { l.add("DEBUG", format, args...) }
func (l *testLog) Infof(format string, args ...any)  { l.add("INFO", format, args...) }
func (l *testLog) Warnf(format string, args ...any)  { l.add("WARN", format, args...) }

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// find returns the lines containing every one of subs.
func (l *testLog) find(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// testObserver records what the handler reports.
type testObserver struct {
	mu               sync.Mutex
	statuses         map[string]int
	received         int
	requests, events int
}

func (o *testObserver) Answered(status string, _ time.Duration) {
	o.mu.Lock()
	o.statuses[status]++
	o.mu.Unlock()
}

func (o *testObserver) Received(n int) {
	o.mu.Lock()
	o.received += n
	o.mu.Unlock()
}

func (o *testObserver) InFlight(requests, events int) {
	o.mu.Lock()
	o.requests, o.events = requests, events
	o.mu.Unlock()
}

// count returns how many requests were answered with status.
func (o *testObserver) count(status string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.statuses[status]
}

func (o *testObserver) held() (int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests, o.events
}

// consumer plays the pipeline: it resolves each delivery by the first
// event's id: "nack-..." with an error, "hold-..." not until release (or
// the test's end), anything else (and probes) at once without error.
type consumer struct {
	h       *Handler
	mu      sync.Mutex
	held    map[string]*Delivery
	taken   chan *Delivery
	cancel  context.CancelFunc
	stopped chan struct{}
}

func startConsumer(t *testing.T, h *Handler) *consumer {
	ctx, cancel := context.WithCancel(t.Context())
	c := &consumer{h: h, held: map[string]*Delivery{}, taken: make(chan *Delivery, 100), cancel: cancel, stopped: make(chan struct{})}
	go func() {
		defer close(c.stopped)
		for {
			d, err := h.Next(ctx)
			if err != nil {
				return
			}
			if d.Probe {
				d.Resolve(nil)
				continue
			}
			c.taken <- d
			switch id := firstID(d.Body); {
			case strings.HasPrefix(id, "nack-"):
				d.Resolve(errors.New("downstream refused " + id))
			case strings.HasPrefix(id, "hold-"):
				c.mu.Lock()
				c.held[id] = d
				c.mu.Unlock()
			default:
				d.Resolve(nil)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-c.stopped
		c.mu.Lock()
		for _, d := range c.held {
			d.Resolve(nil)
		}
		c.mu.Unlock()
	})
	return c
}

// release resolves the held delivery whose first event is id.
func (c *consumer) release(t *testing.T, id string, err error) {
	t.Helper()
	c.mu.Lock()
	d := c.held[id]
	delete(c.held, id)
	c.mu.Unlock()
	if d == nil {
		t.Fatalf("%s is not held", id)
	}
	d.Resolve(err)
}

func firstID(body []byte) string {
	var env struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Events) == 0 {
		return ""
	}
	return env.Events[0].ID
}

func envelope(ids ...string) []byte {
	var evs []string
	for _, id := range ids {
		evs = append(evs, fmt.Sprintf(`{"event_type":"users.messages.email.Send","id":%q,"time":1764334800,"user":{"user_id":"u-%s"}}`, id, id))
	}
	return []byte(`{"events":[` + strings.Join(evs, ",") + `]}`)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, strings.TrimSpace(a.raw)) }

func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	return a
}

type request struct {
	method, path string
	token        string            // "" sends no Authorization
	header       map[string]string // more headers
	body         []byte
	chunked      bool      // no Content-Length
	bodyReader   io.Reader // instead of body
}

func do(t *testing.T, srv *httptest.Server, r request) answer {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/currents"
	}
	var body io.Reader = bytes.NewReader(r.body)
	switch {
	case r.bodyReader != nil:
		body = r.bodyReader
	case r.chunked:
		body = io.MultiReader(bytes.NewReader(r.body)) // hides the length
	}
	req, err := http.NewRequest(r.method, srv.URL+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, resp)
}

// rawPost sends a request as raw bytes over TCP, for what net/http's client
// refuses to send (broken chunked encoding), and reads the answer.
func rawPost(t *testing.T, srv *httptest.Server, head, body string) answer {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, head+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, resp)
}

type fixture struct {
	h    *Handler
	srv  *httptest.Server
	c    *consumer
	log  *testLog
	obs  *testObserver
	conf Config
}

// newFixture starts a handler on an httptest server with small limits,
// and a consumer. ready: wait for the readiness probe to go through.
func newFixture(t *testing.T, conf Config, ready bool) *fixture {
	t.Helper()
	f := &fixture{log: &testLog{}, obs: &testObserver{statuses: map[string]int{}}}
	if conf.Token == "" && !conf.AllowUnauthenticated {
		conf.Token = testToken
	}
	if conf.Path == "" {
		conf.Path = "/currents"
	}
	conf.Logger, conf.Observer = f.log, f.obs
	h, err := New(conf)
	if err != nil {
		t.Fatal(err)
	}
	f.h, f.conf = h, conf
	f.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		f.srv.Close()
		if strings.Contains(f.log.String(), testToken) {
			t.Errorf("the token is in the log:\n%s", f.log.String())
		}
	})
	if ready {
		f.c = startConsumer(t, h)
		h.ProbeConsumer()
		waitReady(t, f.srv, http.StatusOK)
	}
	return f
}

func waitReady(t *testing.T, srv *httptest.Server, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := srv.Client().Get(srv.URL + ReadyPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready is %d, want %d", resp.StatusCode, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readyStatus(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + ReadyPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var smallLimits = Config{
	MaxBodyBytes:        4096,
	MaxInFlight:         2,
	MaxInFlightEvents:   5,
	MaxEventsPerRequest: 3,
	QueueTimeout:        300 * time.Millisecond,
	AckTimeout:          300 * time.Millisecond,
	RetryAfter:          1500 * time.Millisecond,
}
