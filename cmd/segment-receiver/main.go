// Command segment-receiver runs the local Segment-compatible Tracking API
// receiver on its own, for the demo and for trying a pipeline by hand:
//
//	segment-receiver -address 127.0.0.1:8085 -write-key demo -print
//
// Point the segment output's endpoint at http://127.0.0.1:8085 and look at
// GET /received (or the -print lines) to see what arrived.
//
// It can also misbehave the way Segment does, to watch a pipeline ride it
// out (every flag applies to the API paths, /v1/batch and /v1/track):
//
//	-fail-status 503 -fail-for 30s    an outage: 503 for the first 30 seconds
//	-fail-status 429 -retry-after 5   rate limiting with Retry-After: 5, until stopped
//	-fail-status 500 -fail-count 3    the first 3 requests fail, then all is well
//	-delay 200ms                      every answer held back 200ms
//	-drop-connection -fail-count 1    the first request's connection is closed unanswered
//	-reject-keys-for 2m               401 to every key for 2 minutes (a revoked key)
//
// -fail-status, -retry-after, -delay and -drop-connection make up one fault;
// it applies to every request, or only for the -fail-for window after start,
// or to the first -fail-count requests. -reject-keys-for comes first: during
// its window every request gets 401, and no -fail-count request is used up.
//
// No output shows a write key: the request log and -print name a key by a
// short SHA-256 fingerprint (key=sha256:1a2b3c4d), -print and GET /received
// remove every form of the keys seen (plain, base64 of the Basic-auth
// credentials, URL-encoded) from the messages they show.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
)

// writeKeys collects -write-key, given several times or as a comma list.
type writeKeys []string

// String shows how many keys there are, never the keys: flag prints a
// flag's default with it in -help.
func (k *writeKeys) String() string {
	if k == nil || len(*k) == 0 {
		return ""
	}
	return fmt.Sprintf("%d keys", len(*k))
}

func (k *writeKeys) Set(v string) error {
	for _, key := range strings.Split(v, ",") {
		if key = strings.TrimSpace(key); key != "" {
			*k = append(*k, key)
		}
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "segment-receiver:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	address        string
	keys           writeKeys
	quiet          bool
	print          bool
	countOnly      bool
	fault          segmenttest.Fault
	failFor        time.Duration
	failCount      int
	rejectKeysFor  time.Duration
	explicitFaults bool // any of the fault flags was given
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("segment-receiver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: segment-receiver [flags]

Runs a Segment-compatible Tracking API receiver (POST /v1/batch, /v1/track;
GET /received, /healthz) for trying a pipeline without sending anything to
Segment, and injects Segment's failures on request. No output shows a write
key: keys are named by a SHA-256 fingerprint.

  segment-receiver -write-key demo -print
  segment-receiver -fail-status 503 -fail-for 30s     an outage for 30 seconds
  segment-receiver -fail-status 429 -retry-after 5    rate limited until stopped
  segment-receiver -fail-status 500 -fail-count 3     the first 3 requests fail
  segment-receiver -delay 200ms                       every answer 200ms late
  segment-receiver -drop-connection -fail-count 1     the first request unanswered
  segment-receiver -reject-keys-for 2m                401 for 2 minutes

-fail-status, -retry-after, -delay and -drop-connection make up one fault,
applied to every API request, or only during -fail-for, or to the first
-fail-count requests; during -reject-keys-for every request gets 401 first.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.address, "address", "127.0.0.1:8085", "address to listen on (keep it on loopback)")
	fs.Var(&o.keys, "write-key", "accepted write key; repeat or separate with commas (none: accept any non-empty key)")
	fs.BoolVar(&o.quiet, "quiet", false, "do not log a line per request")
	fs.BoolVar(&o.print, "print", false, "print each accepted message to stdout as a JSON line (write keys removed)")
	fs.BoolVar(&o.countOnly, "count-only", false, "keep only counts, not messages (for long benchmark runs)")
	fs.IntVar(&o.fault.Status, "fail-status", 0, "answer this HTTP status (e.g. 503, 429, 500) instead of accepting, to every request or as -fail-for / -fail-count limit it")
	fs.IntVar(&o.fault.RetryAfter, "retry-after", 0, "with -fail-status: send Retry-After with this many seconds")
	fs.DurationVar(&o.fault.Delay, "delay", 0, "hold every faulted answer back this long (alone: slow every request down, then answer normally)")
	fs.BoolVar(&o.fault.DropConnection, "drop-connection", false, "close the connection without an answer instead (after -delay)")
	fs.DurationVar(&o.failFor, "fail-for", 0, "apply the fault only during this long after start (e.g. 30s), then accept again")
	fs.IntVar(&o.failCount, "fail-count", 0, "apply the fault only to the first N API requests, then accept again")
	fs.DurationVar(&o.rejectKeysFor, "reject-keys-for", 0, "answer 401 (write key rejected) to every API request during this long after start (e.g. 2m)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only; see -help)", fs.Args())
	}
	f := o.fault
	hasFault := f.Status != 0 || f.Delay > 0 || f.DropConnection
	switch {
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return nil, fmt.Errorf("-fail-status %d is not an HTTP status", f.Status)
	case f.Status != 0 && f.DropConnection:
		return nil, errors.New("-fail-status and -drop-connection exclude each other: a dropped connection has no status")
	case f.RetryAfter < 0 || f.Delay < 0 || o.failFor < 0 || o.failCount < 0 || o.rejectKeysFor < 0:
		return nil, errors.New("durations and counts cannot be negative")
	case f.RetryAfter > 0 && f.Status == 0:
		return nil, errors.New("-retry-after needs -fail-status")
	case o.failFor > 0 && o.failCount > 0:
		return nil, errors.New("-fail-for and -fail-count exclude each other: choose a window or a number of requests")
	case (o.failFor > 0 || o.failCount > 0) && !hasFault:
		return nil, errors.New("-fail-for and -fail-count limit a fault: add -fail-status, -drop-connection or -delay")
	}
	o.explicitFaults = hasFault || o.rejectKeysFor > 0
	return o, nil
}

// run is the command: it parses args, serves until ctx is done, and writes
// the -print lines to stdout and its log to stderr. onListen, when set, gets
// the receiver's URL once it listens (for tests).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, onListen func(url string)) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "segment-receiver: ", log.LstdFlags)
	red := newKeyRedactor(o.keys)
	cfg := segmenttest.Config{WriteKeys: o.keys, CountOnly: o.countOnly}
	if !o.quiet {
		cfg.OnRequest = func(r segmenttest.Request) {
			red.see(r.WriteKey)
			logger.Println(red.redact(describe(r)))
		}
	}
	if o.print {
		var mu sync.Mutex
		cfg.OnMessage = func(m segmenttest.Message) {
			line, err := red.message(m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				logger.Printf("printing message %s: %v", red.redact(m.ID), err)
				return
			}
			_, _ = fmt.Fprintln(stdout, line)
		}
	}

	rc := segmenttest.New(cfg)
	ln, err := net.Listen("tcp", o.address)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: withRedactedReport(rc, red), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()

	accepted := "any non-empty write key"
	if len(o.keys) > 0 {
		accepted = fmt.Sprintf("%d write key(s)", len(o.keys))
	}
	logger.Printf("listening on %s (POST /v1/batch, /v1/track; GET /received, /healthz), accepting %s", url, accepted)
	stopFaults := injectFaults(rc, o, logger)
	defer stopFaults()
	if onListen != nil {
		onListen(url)
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	logger.Printf("stopping: %d messages accepted, %d duplicates", rc.Count(), rc.Duplicates())
	// Close, not Shutdown: a request held by -delay ends at once.
	if err := srv.Close(); err != nil {
		return err
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// injectFaults sets up the faults o asks for and logs them; the returned
// function stops the timers it started.
func injectFaults(rc *segmenttest.Receiver, o *options, logger *log.Logger) (stop func()) {
	var timers []*time.Timer
	if o.rejectKeysFor > 0 {
		rc.RejectKeysFor(o.rejectKeysFor)
		logger.Printf("fault: 401 to every API request for %s", o.rejectKeysFor)
	}
	f := o.fault
	if f.Status != 0 || f.Delay > 0 || f.DropConnection {
		what := describeFault(f)
		switch {
		case o.failCount > 0:
			faults := make([]segmenttest.Fault, o.failCount)
			for i := range faults {
				faults[i] = f
			}
			rc.QueueFaults(faults...)
			logger.Printf("fault: %s for the first %d API requests", what, o.failCount)
		case o.failFor > 0:
			rc.SetFault(f)
			timers = append(timers, time.AfterFunc(o.failFor, func() {
				rc.ClearFault()
				logger.Printf("fault: %s ended after %s", what, o.failFor)
			}))
			logger.Printf("fault: %s for %s", what, o.failFor)
		default:
			rc.SetFault(f)
			logger.Printf("fault: %s for every API request", what)
		}
	}
	return func() {
		for _, t := range timers {
			t.Stop()
		}
	}
}

func describeFault(f segmenttest.Fault) string {
	var parts []string
	if f.Delay > 0 {
		parts = append(parts, "delay "+f.Delay.String())
	}
	switch {
	case f.DropConnection:
		parts = append(parts, "drop the connection")
	case f.Status != 0:
		s := fmt.Sprintf("answer %d", f.Status)
		if f.RetryAfter > 0 {
			s += fmt.Sprintf(" with Retry-After: %d", f.RetryAfter)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", then ")
}

// describe renders one request as a log line. The write key appears only
// as its fingerprint.
func describe(r segmenttest.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %d key=%s", r.Method, r.Path, r.Status, fingerprint(r.WriteKey))
	if r.Messages > 0 {
		fmt.Fprintf(&b, " messages=%d accepted=%d duplicates=%d", r.Messages, r.Accepted, r.Duplicates)
	}
	if r.Faulted {
		b.WriteString(" fault=injected")
	}
	if r.Error != "" {
		fmt.Fprintf(&b, " error=%q", r.Error)
	}
	fmt.Fprintf(&b, " in %s", r.Duration.Round(time.Microsecond))
	return b.String()
}

// withRedactedReport serves GET /received itself, with the write keys
// removed from the messages, and everything else with rc.
func withRedactedReport(rc *segmenttest.Receiver, red *keyRedactor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/received" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			rc.ServeHTTP(w, r)
			return
		}
		msgs := rc.Messages()
		out := make([]json.RawMessage, 0, len(msgs))
		for _, m := range msgs {
			line, err := red.message(m)
			if err != nil {
				http.Error(w, "rendering a message", http.StatusInternalServerError)
				return
			}
			out = append(out, json.RawMessage(line))
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		// The messages are shown as -print shows them, "<write key>" included.
		enc.SetEscapeHTML(false)
		_ = enc.Encode(struct {
			Count      int               `json:"count"`
			Duplicates int               `json:"duplicates"`
			Messages   []json.RawMessage `json:"messages"`
		}{rc.Count(), rc.Duplicates(), out})
	})
}
