package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"

	"github.com/currents-segment/currents-segment/internal/segment/segmenttest"
	"github.com/currents-segment/currents-segment/plugin"
)

// demoWriteKey is the write key the demo's local receiver accepts. It is not a
// real Segment key.
const demoWriteKey = "demo-write-key"

// demoCommand runs a pipeline config (the quickstart by default) against a
// Segment-compatible receiver started in-process on 127.0.0.1, then prints what
// the receiver accepted: the whole path from Currents events to Segment in one
// command, with nothing leaving the machine.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "Run sample Currents events through the pipeline into a local Segment receiver and print what it received",
		Description: `Starts a Segment-compatible receiver on 127.0.0.1, runs the pipeline config
(config-examples/quickstart.yaml by default) with SEGMENT_ENDPOINT and
SEGMENT_WRITE_KEY pointing at it, waits for the input to be exhausted, then
prints what the receiver accepted.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "config-examples/quickstart.yaml", Usage: "the pipeline config to run"},
			&cli.StringFlag{Name: "events", Usage: "a JSON lines file of Currents events to use instead of the bundled sample (sets CURRENTS_SAMPLE)"},
			&cli.BoolFlag{Name: "all", Usage: "print every received call as a JSON line instead of a summary"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "give up after this long"},
		},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	recv, err := segmenttest.Start("127.0.0.1:0", segmenttest.Config{WriteKeys: []string{demoWriteKey}})
	if err != nil {
		return fmt.Errorf("starting the local Segment receiver: %w", err)
	}
	defer recv.Close()

	conf, err := os.ReadFile(c.String("config"))
	if err != nil {
		return fmt.Errorf("reading the pipeline config (run the demo from the repository root, or pass --config): %w", err)
	}
	env := map[string]string{"SEGMENT_ENDPOINT": recv.URL(), "SEGMENT_WRITE_KEY": demoWriteKey}
	if ev := c.String("events"); ev != "" {
		env["CURRENTS_SAMPLE"] = ev
	}
	b := service.NewStreamBuilder()
	b.SetEnvVarLookupFunc(func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	})
	if err := b.SetYAML(string(conf)); err != nil {
		return fmt.Errorf("%s: %w", c.String("config"), err)
	}
	// The demo prints its own report; the pipeline's log only when it matters.
	if err := b.SetLoggerYAML("level: WARN\nstatic_fields: {'@service': " + serviceLabel + "}"); err != nil {
		return err
	}
	stream, err := b.Build()
	if err != nil {
		return fmt.Errorf("%s: %w", c.String("config"), err)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	start := time.Now()
	if err := stream.Run(ctx); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	if err := printReceived(c.App.Writer, c.App.ErrWriter, recv, time.Since(start), c.Bool("all")); err != nil {
		return err
	}
	sum := plugin.StreamSummary(stream.Resources())
	fmt.Fprintf(c.App.ErrWriter, "Run summary: %s\n", sum)
	fmt.Fprintln(c.App.ErrWriter, demoResult(sum))
	if !sum.Complete() {
		return fmt.Errorf("%d calls were not delivered", sum.NotDelivered)
	}
	return nil
}

func printReceived(out, info io.Writer, recv *segmenttest.Receiver, took time.Duration, all bool) error {
	msgs := recv.Messages()
	if all {
		for _, m := range msgs {
			fmt.Fprintln(out, string(m.Raw))
		}
	}
	byEvent := map[string]int{}
	for _, m := range msgs {
		byEvent[m.Event]++
	}
	names := make([]string, 0, len(byEvent))
	for n := range byEvent {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(info, "\nThe local Segment receiver accepted %d track calls (%d duplicates) in %d requests, %v after start.\n",
		len(msgs), recv.Duplicates(), len(recv.Requests()), took.Round(time.Millisecond))
	if all {
		return nil
	}
	fmt.Fprintf(out, "%d track calls received, by event:\n", len(msgs))
	for _, n := range names {
		fmt.Fprintf(out, "  %5d  %s\n", byEvent[n], n)
	}
	for i, m := range msgs {
		if i == 2 {
			break
		}
		var pretty any
		_ = json.Unmarshal(m.Raw, &pretty)
		b, _ := json.MarshalIndent(pretty, "  ", "  ")
		fmt.Fprintf(out, "\nreceived call %d of %d (sentAt %s):\n  %s\n", i+1, len(msgs), m.SentAt, b)
	}
	fmt.Fprintln(out, "\n(--all prints every call as a JSON line)")
	return nil
}

// demoResult is the demo's last line, the run in one glance:
// "200 read, 170 sent, 30 skipped (no_external_user_id 17, not_selected 13)",
// then what was dead-lettered or not delivered, only when there was some.
// "sent" counts the calls the receiver accepted.
func demoResult(sum plugin.RunSummary) string {
	var b strings.Builder
	var skipped int64
	for _, n := range sum.Skipped {
		skipped += n
	}
	fmt.Fprintf(&b, "%d read, %d sent, %d skipped", sum.Read, sum.Delivered, skipped)
	if len(sum.Skipped) > 0 {
		var parts []string
		for _, reason := range slices.Sorted(maps.Keys(sum.Skipped)) {
			parts = append(parts, fmt.Sprintf("%s %d", reason, sum.Skipped[reason]))
		}
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	if n := sum.MappingFailed + sum.DeadLettered; n > 0 {
		fmt.Fprintf(&b, ", %d dead-lettered", n)
	}
	if sum.NotDelivered > 0 {
		fmt.Fprintf(&b, ", %d not delivered", sum.NotDelivered)
	}
	return b.String()
}
