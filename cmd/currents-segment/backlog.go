package main

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/urfave/cli/v2"

	"github.com/currents-segment/currents-segment/internal/backlog"
)

// backlogCommand holds the tools for the disk buffer's backlog file, so that
// recovering one needs only the binary already deployed, not a Go toolchain
// and a checkout.
func backlogCommand() *cli.Command {
	return &cli.Command{
		Name:  "backlog",
		Usage: "Tools for the disk buffer's backlog file (backlog.db)",
		Subcommands: []*cli.Command{{
			Name:      "salvage",
			Usage:     "Copy the readable events of a damaged backlog file into a buffer directory",
			UsageText: "currents-segment backlog salvage -from <damaged backlog.db> -to <buffer directory>",
			Description: `Copies every event still readable in a damaged (or merely old) backlog file
into the backlog of a buffer directory, created if missing, in their original
order with their metadata and write times. The damaged file is only read.

Stop currents-segment first: the target directory's file is locked while it
runs. For example, after moving a damaged file aside:

  currents-segment backlog salvage \
    -from /var/lib/currents-segment/buffer/backlog.db.damaged \
    -to /var/lib/currents-segment/buffer

When the file's tree cannot be walked its pages are scanned one by one, which
can also find events delivered before the damage; Segment deduplicates those
on messageId. See docs/operations.md, "Damaged buffer file".`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "from", Required: true, Usage: "the damaged backlog file (backlog.db moved aside)"},
				&cli.StringFlag{Name: "to", Required: true, Usage: "the buffer directory to copy the events into (the disk buffer's path)"},
				&cli.Int64Flag{Name: "max_bytes", Value: 1 << 40, Usage: "refuse to grow the target backlog past this many bytes"},
			},
			Action: runBacklogSalvage,
		}},
	}
}

func runBacklogSalvage(c *cli.Context) error {
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
	defer stop()
	from := c.String("from")
	rep, target, err := backlog.SalvageInto(ctx, from, c.String("to"), backlog.Options{MaxBytes: c.Int64("max_bytes")})
	if err == nil || rep.Copied > 0 {
		fmt.Fprintln(c.App.Writer, rep.Summary(from, target))
	}
	if err != nil {
		return fmt.Errorf("backlog salvage: %w", err)
	}
	return nil
}
