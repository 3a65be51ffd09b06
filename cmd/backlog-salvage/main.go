// Command backlog-salvage copies the readable events of a damaged
// currents-segment disk buffer file into a healthy buffer directory.
//
// The same code ships in the binary as `currents-segment backlog salvage`,
// which is what a deployment runs (no Go toolchain needed); this command is
// kept for checkouts and scripts that already call it.
//
// Stop currents-segment first (the target directory's file is locked while it
// runs), then:
//
//	backlog-salvage -from /var/lib/currents-segment/buffer/backlog.db.damaged -to /var/lib/currents-segment/buffer
//
// and start it again: the salvaged events are delivered after those already
// in the target, with their original metadata and write times. The damaged
// file is only read. When its tree cannot be walked, its pages are scanned one
// by one, which can also find events that were delivered before the damage;
// Segment deduplicates those on messageId.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/currents-segment/currents-segment/internal/backlog"
)

func main() {
	from := flag.String("from", "", "the damaged backlog file (backlog.db moved aside)")
	to := flag.String("to", "", "the buffer directory to copy the events into (the disk buffer's path)")
	maxBytes := flag.Int64("max_bytes", 1<<40, "refuse to grow the target backlog past this many bytes")
	flag.Parse()
	if *from == "" || *to == "" {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, target, err := backlog.SalvageInto(ctx, *from, *to, backlog.Options{MaxBytes: *maxBytes})
	if err == nil || rep.Copied > 0 {
		fmt.Println(rep.Summary(*from, target))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "backlog-salvage:", err)
		os.Exit(1)
	}
}
