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
	ctx, cancel := context.WithCancel(context.Background())
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

// Every answer of the protocol, one request at a time against a ready
// handler: the status, the reason in the JSON body, the headers Braze acts
// on, and that what was refused never reached the consumer.
func TestHandlerAnswers(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	ok := envelope("ok-1", "ok-2")
	gz := gzipped(ok)
	big := bytes.Repeat([]byte("x"), 5000)
	bomb := gzipped(append(append([]byte(`{"events":[],"pad":"`), bytes.Repeat([]byte("a"), 100000)...), `"}`...))
	var twoMembers []byte
	twoMembers = append(twoMembers, gzipped(ok[:10])...)
	twoMembers = append(twoMembers, gzipped(ok[10:])...)
	badCRC := append([]byte(nil), gz...)
	badCRC[len(badCRC)-8] ^= 0xff
	gzHeader := map[string]string{"Content-Encoding": "gzip"}

	for _, tc := range []struct {
		name       string
		req        request
		status     int
		reason     string            // in the JSON "error"
		header     map[string]string // expected answer headers
		reachesOut bool              // the consumer takes it
	}{
		{name: "plain ok", req: request{body: ok}, status: 200, reachesOut: true},
		{name: "gzip ok", req: request{body: gz, header: gzHeader}, status: 200, reachesOut: true},
		{name: "x-gzip ok", req: request{body: gz, header: map[string]string{"Content-Encoding": "x-gzip"}}, status: 200, reachesOut: true},
		{name: "gzip chunked ok", req: request{body: gz, header: gzHeader, chunked: true}, status: 200, reachesOut: true},
		{name: "concatenated gzip members", req: request{body: twoMembers, header: gzHeader}, status: 200, reachesOut: true},
		{name: "empty envelope", req: request{body: []byte(`{"events":[]}`)}, status: 200},
		{name: "truncated gzip", req: request{body: gz[:len(gz)-6], header: gzHeader}, status: 400, reason: "the gzip stream is cut short"},
		{name: "gzip cut in the middle", req: request{body: gz[:len(gz)/2], header: gzHeader}, status: 400, reason: "cut short"},
		{name: "trailing garbage after gzip", req: request{body: append(append([]byte(nil), gz...), "garbage after the stream"...), header: gzHeader}, status: 400, reason: "unexpected data after the end of the gzip stream"},
		{name: "a few bytes after gzip", req: request{body: append(append([]byte(nil), gz...), "xy"...), header: gzHeader}, status: 400, reason: "unexpected data after the end of the gzip stream"},
		{name: "empty gzip body", req: request{header: gzHeader}, status: 400, reason: "not valid gzip although Content-Encoding says so: the body is empty"},
		{name: "empty gzip body chunked", req: request{header: gzHeader, chunked: true}, status: 400, reason: "the body is empty"},
		{name: "not gzip at all", req: request{body: ok, header: gzHeader}, status: 400, reason: "does not start with a gzip header"},
		{name: "shorter than a gzip header", req: request{body: []byte("gzip?"), header: gzHeader}, status: 400, reason: "the body (5 bytes) is too short for a gzip header"},
		{name: "gzip checksum", req: request{body: badCRC, header: gzHeader}, status: 400, reason: "checksum"},
		{name: "413 as sent", req: request{body: big}, status: 413, reason: "exceeds 4096 bytes (it is 5000 bytes as sent)"},
		{name: "413 as sent, chunked", req: request{body: big, chunked: true}, status: 413, reason: "exceeds 4096 bytes"},
		{name: "413 after decoding", req: request{body: bomb, header: gzHeader}, status: 413, reason: "once gzip-decoded"},
		{name: "413 too many events", req: request{body: envelope("e1", "e2", "e3", "e4")}, status: 413, reason: "holds 4 events, more than max_events_per_request (3)"},
		{name: "400 not an envelope", req: request{body: []byte(`[1,2]`)}, status: 400, reason: "not a Braze Currents envelope: the body is JSON but not an object"},
		{name: "400 not JSON", req: request{body: []byte(`events=1`)}, status: 400, reason: "not a Braze Currents envelope"},
		{name: "401 no token", req: request{token: "-", body: ok}, status: 401, reason: "missing or invalid bearer token", header: map[string]string{"WWW-Authenticate": `Bearer realm="braze-currents"`}},
		{name: "401 wrong token", req: request{token: "wrong", body: ok}, status: 401, reason: "missing or invalid bearer token"},
		{name: "415", req: request{body: ok, header: map[string]string{"Content-Encoding": "br"}}, status: 415, reason: `Content-Encoding "br" is not supported`},
		{name: "405", req: request{method: http.MethodGet}, status: 405, reason: "method GET not allowed", header: map[string]string{"Allow": "POST"}},
		{name: "404", req: request{path: "/other", body: ok}, status: 404, reason: "accepted on /currents"},
		{name: "503 nack", req: request{body: envelope("nack-1")}, status: 503, reason: "downstream refused nack-1", header: map[string]string{"Retry-After": "2"}, reachesOut: true},
		{name: "503 after ack timeout", req: request{body: envelope("hold-ack")}, status: 503, reason: "not delivered within 300ms", header: map[string]string{"Retry-After": "2"}, reachesOut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.req.token {
			case "":
				tc.req.token = testToken
			case "-":
				tc.req.token = ""
			}
			a := do(t, f.srv, tc.req)
			if a.status != tc.status {
				t.Fatalf("answer %s, want %d", a, tc.status)
			}
			if msg, _ := a.body["error"].(string); !strings.Contains(msg, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", msg, tc.reason)
			}
			for k, v := range tc.header {
				if got := a.header.Get(k); got != v {
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
			if a.status != 404 && (a.header.Get(HeaderRequestID) == "" || a.body["request_id"] != nil && a.body["request_id"] != a.header.Get(HeaderRequestID)) {
				t.Errorf("request id: header %q, body %v", a.header.Get(HeaderRequestID), a.body["request_id"])
			}
			if a.status == 400 && strings.Contains(tc.reason, "envelope") && a.body["expected"] != ExpectedEnvelope {
				t.Errorf("a 400 for a non-envelope says what was expected: %v", a.body["expected"])
			}
			select {
			case d := <-f.c.taken:
				if !tc.reachesOut {
					t.Errorf("the consumer took %s", d.Body)
				}
			case <-time.After(50 * time.Millisecond):
				if tc.reachesOut {
					t.Error("the consumer took nothing")
				}
			}
			if a.status == 400 || a.status == 413 || a.status == 415 || a.status == 405 {
				id := a.header.Get(HeaderRequestID)
				if len(f.log.find("Refused request "+id, fmt.Sprint(a.status))) != 1 {
					t.Errorf("the refusal of %s is not logged with its id and reason:\n%s", id, f.log.String())
				}
			}
		})
	}
	// Refusals are logged at WARN once per interval, the rest at DEBUG.
	if n := len(f.log.find("WARN Refused request")); n != 1 {
		t.Errorf("%d refusals at WARN, want 1 (rate-limited):\n%s", n, f.log.String())
	}
}

// The Authorization header is checked before a byte of the body is read:
// a body that never ends still gets its 401.
func TestHandler401BeforeTheBodyIsRead(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`{"events":[`)) }()
	a := do(t, f.srv, request{token: "wrong", bodyReader: pr})
	if a.status != 401 {
		t.Fatalf("answer %s", a)
	}
}

// Invalid chunked transfer encoding is the sender's mistake: 400, never
// 503 (which Braze would resend for 24 hours). net/http's client cannot
// send it, so the request is written over TCP.
func TestHandlerInvalidChunkedEncoding(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	head := "POST /currents HTTP/1.1\r\nHost: braze\r\nAuthorization: Bearer " + testToken + "\r\n" +
		"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
	for name, body := range map[string]string{
		"chunk length not hex":                 "zz\r\n{\"events\":[]}\r\n0\r\n\r\n",
		"bare LF":                              "d\n{\"events\":[]}\n0\n\n",
		"chunk longer than sent, then garbage": "3\r\n{\"events\":[]}\r\n0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			a := rawPost(t, f.srv, head, body)
			if a.status != 400 || !strings.Contains(a.body["error"].(string), "invalid chunked transfer encoding") {
				t.Fatalf("answer %s", a)
			}
		})
	}
	// The same framing, well formed, is accepted.
	a := rawPost(t, f.srv, head, "d\r\n{\"events\":[]}\r\n0\r\n\r\n")
	if a.status != 200 {
		t.Fatalf("valid chunked: %s", a)
	}
	// A body cut off by the connection is the network's failure, not the
	// sender's: no answer can be read, and nothing is counted as 400.
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(conn, "POST /currents HTTP/1.1\r\nHost: braze\r\nAuthorization: Bearer "+testToken+"\r\nContent-Length: 100\r\n\r\n{\"events\":[")
	_ = conn.(*net.TCPConn).CloseWrite()
	_, _ = io.ReadAll(conn)
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.obs.mu.Lock()
		n503, n400 := f.obs.statuses["503"], f.obs.statuses["400"]
		f.obs.mu.Unlock()
		if n503 == 1 {
			if n400 != 3 { // the three invalid ones above
				t.Fatalf("400s: %d", n400)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a body cut off by the connection: statuses %v", f.obs.statuses)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Readiness: 503 until the consumer acknowledged a probe (a nacked probe is
// retried, an unresolved one followed by another), 503 again while draining
// and after Close. Requests before that get 503, never reach the consumer.
func TestHandlerReadiness(t *testing.T) {
	conf := smallLimits
	conf.AckTimeout = 200 * time.Millisecond
	f := newFixture(t, conf, false)
	f.h.ProbeConsumer()
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready before anything read: %d", s)
	}
	if a := do(t, f.srv, request{token: testToken, body: envelope("early")}); a.status != 503 || a.header.Get("Retry-After") == "" ||
		!strings.Contains(a.body["error"].(string), "readiness probe") {
		t.Fatalf("a request before ready: %s", a)
	}

	ctx := context.Background()
	first, err := f.h.Next(ctx)
	if err != nil || !first.Probe || string(first.Body) != ProbeBody || first.Events != 0 {
		t.Fatalf("first delivery: %+v, %v", first, err)
	}
	first.Resolve(errors.New("buffer not open"))
	second, err := f.h.Next(ctx) // after a backoff
	if err != nil || !second.Probe || second.RequestID == first.RequestID {
		t.Fatalf("after a nack: %+v, %v", second, err)
	}
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready after a nack: %d", s)
	}
	// Not resolved within AckTimeout: another probe comes.
	third, err := f.h.Next(ctx)
	if err != nil || !third.Probe {
		t.Fatalf("after no ack: %+v, %v", third, err)
	}
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready with no ack: %d", s)
	}
	// The late acknowledgement of an earlier probe counts.
	second.Resolve(nil)
	waitReady(t, f.srv, 200)
	if len(f.log.find("WARN The pipeline refused the readiness probe", "buffer not open")) != 1 ||
		len(f.log.find("INFO The pipeline acknowledged the readiness probe")) != 1 {
		t.Fatalf("the probe's story is not logged:\n%s", f.log.String())
	}
	third.Resolve(nil)

	startConsumer(t, f.h)
	if a := do(t, f.srv, request{token: testToken, body: envelope("now")}); a.status != 200 {
		t.Fatalf("a request once ready: %s", a)
	}
	f.h.Drain()
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready while draining: %d", s)
	}
	if a := do(t, f.srv, request{token: testToken, body: envelope("late")}); a.status != 503 {
		t.Fatalf("a request while draining: %s", a)
	}
	f.h.Close()
	if s := readyStatus(t, f.srv); s != 503 {
		t.Fatalf("/ready after Close: %d", s)
	}
}

// A consumer that never takes anything: the probe is never acknowledged,
// and the handler never says ready; Close ends the probing.
func TestHandlerNeverReadyWithoutAConsumer(t *testing.T) {
	conf := smallLimits
	conf.AckTimeout = 50 * time.Millisecond
	f := newFixture(t, conf, false)
	f.h.ProbeConsumer()
	for range 5 {
		if s := readyStatus(t, f.srv); s != 503 {
			t.Fatalf("/ready: %d", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.h.Close()
	if _, err := f.h.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

// Backpressure: past the request limit or the event limit, 429 with
// Retry-After. A request answered 503 at its ack timeout keeps its share
// until the consumer resolves it, since its events are still in the
// pipeline; the share comes back then.
func TestHandlerBackpressure(t *testing.T) {
	f := newFixture(t, smallLimits, true)
	post := func(ids ...string) <-chan answer {
		ch := make(chan answer, 1)
		go func() { ch <- do(t, f.srv, request{token: testToken, body: envelope(ids...)}) }()
		return ch
	}
	waitHeld := func(requests, events int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, e := f.obs.held()
			if r == requests && e == events {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("held %d requests, %d events; want %d, %d", r, e, requests, events)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	// Events: 3 held, 3 more exceed 5.
	a1 := post("hold-a", "a2", "a3")
	waitHeld(1, 3)
	a := do(t, f.srv, request{token: testToken, body: envelope("b1", "b2", "b3")})
	if a.status != 429 || a.header.Get("Retry-After") != "2" || !strings.Contains(a.body["error"].(string), "max_in_flight_events (5)") {
		t.Fatalf("past the event limit: %s", a)
	}
	// Two fit.
	if a := do(t, f.srv, request{token: testToken, body: envelope("c1", "c2")}); a.status != 200 {
		t.Fatalf("within the event limit: %s", a)
	}
	// a1 is answered 503 at its ack timeout, but is still held.
	if a := <-a1; a.status != 503 {
		t.Fatalf("held request: %s", a)
	}
	waitHeld(1, 3)
	if a := do(t, f.srv, request{token: testToken, body: envelope("d1", "d2", "d3")}); a.status != 429 {
		t.Fatalf("while the answered request is still in the pipeline: %s", a)
	}
	f.c.release(t, "hold-a", nil)
	waitHeld(0, 0)
	if a := do(t, f.srv, request{token: testToken, body: envelope("e1", "e2", "e3")}); a.status != 200 {
		t.Fatalf("once it was resolved: %s", a)
	}

	// Requests: two held, the third refused before its body is read.
	h1, h2 := post("hold-1"), post("hold-2")
	waitHeld(2, 2)
	a = do(t, f.srv, request{token: testToken, body: envelope("f1")})
	if a.status != 429 || !strings.Contains(a.body["error"].(string), "max_in_flight_requests 2") {
		t.Fatalf("past the request limit: %s", a)
	}
	f.c.release(t, "hold-1", nil)
	f.c.release(t, "hold-2", errors.New("nacked"))
	for _, ch := range []<-chan answer{h1, h2} {
		<-ch
	}
	waitHeld(0, 0)
	if len(f.log.find("WARN Answered 429")) != 1 {
		t.Fatalf("429s are logged at WARN, rate-limited:\n%s", f.log.String())
	}
}

// A request the consumer does not take within QueueTimeout gets 503 and
// gives its share back at once.
func TestHandlerQueueTimeout(t *testing.T) {
	f := newFixture(t, smallLimits, false)
	f.h.SetReady() // no consumer at all
	a := do(t, f.srv, request{token: testToken, body: envelope("q1")})
	if a.status != 503 || !strings.Contains(a.body["error"].(string), "did not take the request within 300ms") {
		t.Fatalf("answer %s", a)
	}
	if r, e := f.obs.held(); r != 0 || e != 0 {
		t.Fatalf("held %d, %d after the answer", r, e)
	}
}

func TestNewRefusesAPerRequestLimitAboveTheInFlightLimit(t *testing.T) {
	if _, err := New(Config{Token: "t", MaxInFlightEvents: 10, MaxEventsPerRequest: 11}); err == nil {
		t.Fatal("accepted")
	}
	h, err := New(Config{Token: "t", MaxInFlightEvents: 500})
	if err != nil {
		t.Fatal(err)
	}
	if _, events, per := h.Limits(); events != 500 || per != 500 {
		t.Fatalf("limits %d %d: the default per-request limit is capped by the in-flight one", events, per)
	}
}
