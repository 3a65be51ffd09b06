// Command currents-segment is a Benthos binary with every core io and pure
// component plus the currents-segment plugins: run it like any Benthos binary
// (`currents-segment -c pipeline.yaml`, `lint`, `test`, `echo`, `list`).
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/currents-segment/currents-segment/plugin"
	_ "github.com/currents-segment/currents-segment/plugin/prometheus"
)

// exitNotDelivered is the exit code of a run that ended with calls that no
// segment output delivered or dead-lettered.
const exitNotDelivered = 3

// exitInputFailed is the exit code of a run whose input could not do what it
// was configured to: a storage backfill that matched nothing, or one stopped
// before its end.
const exitInputFailed = 2

func main() {
	var logger *service.Logger
	version, date := versionInfo()
	code, err := service.RunCLIToCode(context.Background(),
		service.CLIOptSetBinaryName("currents-segment"),
		service.CLIOptSetProductName("currents-segment"),
		service.CLIOptSetVersion(version, date),
		service.CLIOptSetDocumentationURL("https://github.com/currents-segment/currents-segment"),
		service.CLIOptAddCommand(demoCommand()),
		service.CLIOptAddCommand(backlogCommand()),
		service.CLIOptOnLoggerInit(func(l *service.Logger) { logger = l }),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
	}
	os.Exit(finish(code, logger))
}

// finish reports how the run's events ended and returns the exit code:
// exitNotDelivered when a pipeline stopped with calls its segment outputs
// neither delivered nor dead-lettered. Benthos itself exits 0 then: a file
// input's nacked events are never read again.
func finish(code int, logger *service.Logger) int {
	if logger == nil {
		// Not a Benthos run (demo, lint, test, …): nothing to report here.
		return code
	}
	sum, ok := plugin.ProcessSummary()
	if !ok {
		return code
	}
	if sum.Complete() {
		logf(logger, false, "Run summary: %s", sum)
		return code
	}
	if len(sum.Failures) > 0 && sum.NotDelivered == 0 {
		logf(logger, true, "Run summary: %s. The run did not do what it was configured to: %s", sum, strings.Join(sum.Failures, "; "))
		if code == 0 {
			code = exitInputFailed
		}
		return code
	}
	logf(logger, true, "Run summary: %s. %d calls were not delivered: shutdown interrupted them (or backoff.max_elapsed_time ran out) and they went back to the input. The disk buffer keeps them and Braze resends its requests; a file or stdin input does not: run it again (Segment deduplicates what was already delivered, on messageId)", sum, sum.NotDelivered)
	if len(sum.Failures) > 0 {
		logf(logger, true, "The run also did not do what it was configured to: %s", strings.Join(sum.Failures, "; "))
	}
	if code == 0 {
		code = exitNotDelivered
	}
	return code
}

func logf(logger *service.Logger, isErr bool, format string, args ...any) {
	switch {
	case isErr:
		logger.Errorf(format, args...)
	default:
		logger.Infof(format, args...)
	}
}
