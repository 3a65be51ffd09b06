// Command segment-receiver runs the local Segment-compatible Tracking API
// receiver on its own, for the demo and for trying a pipeline by hand:
//
//	segment-receiver -address 127.0.0.1:8085 -write-key demo -print
//
// Point the segment output's endpoint at http://127.0.0.1:8085 and look at
// GET /received (or the -print lines) to see what arrived.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
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

func (k *writeKeys) String() string { return strings.Join(*k, ",") }

func (k *writeKeys) Set(v string) error {
	for _, key := range strings.Split(v, ",") {
		if key = strings.TrimSpace(key); key != "" {
			*k = append(*k, key)
		}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "segment-receiver:", err)
		os.Exit(1)
	}
}

func run() error {
	var keys writeKeys
	address := flag.String("address", "127.0.0.1:8085", "address to listen on (keep it on loopback)")
	flag.Var(&keys, "write-key", "accepted write key; repeat or separate with commas (none: accept any non-empty key)")
	quiet := flag.Bool("quiet", false, "do not log a line per request")
	printMessages := flag.Bool("print", false, "print each accepted message to stdout as a JSON line")
	countOnly := flag.Bool("count-only", false, "keep only counts, not messages (for long benchmark runs)")
	flag.Parse()

	logger := log.New(os.Stderr, "segment-receiver: ", log.LstdFlags)
	cfg := segmenttest.Config{WriteKeys: keys, CountOnly: *countOnly}
	if !*quiet {
		cfg.OnRequest = func(r segmenttest.Request) { logger.Println(describe(r)) }
	}
	if *printMessages {
		var mu sync.Mutex
		enc := json.NewEncoder(os.Stdout)
		cfg.OnMessage = func(m segmenttest.Message) {
			mu.Lock()
			defer mu.Unlock()
			if err := enc.Encode(m); err != nil {
				logger.Printf("printing message %s: %v", m.ID, err)
			}
		}
	}

	rc, err := segmenttest.Start(*address, cfg)
	if err != nil {
		return err
	}
	accepted := "any non-empty write key"
	if len(keys) > 0 {
		accepted = fmt.Sprintf("%d write key(s)", len(keys))
	}
	logger.Printf("listening on %s (POST /v1/batch, /v1/track; GET /received, /healthz), accepting %s", rc.URL(), accepted)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	logger.Printf("stopping: %d messages accepted, %d duplicates", rc.Count(), rc.Duplicates())
	return rc.Close()
}

// describe renders one request as a log line. The write key is shortened so
// that a real key pointed at the receiver by mistake does not end up in logs.
func describe(r segmenttest.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %d key=%s", r.Method, r.Path, r.Status, maskKey(r.WriteKey))
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

func maskKey(k string) string {
	switch {
	case k == "":
		return "-"
	case len(k) <= 4:
		return "****"
	default:
		return k[:4] + "****"
	}
}
