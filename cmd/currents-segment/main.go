// Command currents-segment is a Benthos binary with every core io and pure
// component plus the currents-segment plugins: run it like any Benthos binary
// (`currents-segment -c pipeline.yaml`, `lint`, `test`, `echo`, `list`), or
// try it with `currents-segment demo` and read a component's fields with
// `currents-segment docs segment`.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
	ucli "github.com/urfave/cli/v2"

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

// serviceLabel is the default of logger.static_fields: every log line says
// which program wrote it. Benthos's default is "@service: benthos", the spec
// default of internal/log/docs.go:20 in v4.60.0 that log.FromParsed reads
// (log.NewConfig's "redpanda-benthos", internal/log/config.go:50, applies
// only to configs read without the spec). A config that sets
// logger.static_fields replaces the whole map, as it replaces Benthos's.
const serviceLabel = "currents-segment"

// appHelpTemplate replaces the root help's NAME and DESCRIPTION. Benthos
// v4.60.0 hard-codes them in cli.App (internal/cli/app.go:159-167: "A stream
// processor for mundane tasks" and "create kafka//file") and no CLIOpt sets
// them; the app sets no CustomAppHelpTemplate, so urfave/cli renders it with
// its package-level AppHelpTemplate, which is ours to set. The rest (commands,
// global options) keeps urfave/cli's layout, filled from the app.
const appHelpTemplate = `NAME:
   {{.Name}} - moves Braze Currents events into Segment

USAGE:
   {{.HelpName}} [global options] command [command options] [arguments...]{{if .Version}}{{if not .HideVersion}}

VERSION:
   {{.Version}}{{end}}{{end}}

DESCRIPTION:
   currents-segment is a Benthos stream processor with plugins for Braze
   Currents: the braze_currents input (Braze's HTTP connector), the
   braze_storage input (storage exports), the currents_to_segment processor
   (one Segment track call per event), the segment output (the Tracking API,
   delivered before Braze is acknowledged) and the disk buffer. Run a
   pipeline config like any Benthos config; "docs <component>" prints a
   component's fields.

     {{.HelpName}} demo
     {{.HelpName}} run config-examples/braze-http-to-segment.yaml
     {{.HelpName}} create braze_currents/currents_to_segment/segment > ./config.yaml
     {{.HelpName}} list inputs
     {{.HelpName}} docs segment
{{if .VisibleCommands}}
COMMANDS:{{template "visibleCommandCategoryTemplate" .}}{{end}}{{if .VisibleFlagCategories}}

GLOBAL OPTIONS:{{template "visibleFlagCategoryTemplate" .}}{{else if .VisibleFlags}}

GLOBAL OPTIONS:{{template "visibleFlagTemplate" .}}{{end}}
`

// mainSchema is Benthos's full config schema with our log label as the
// default of logger.static_fields: lint, echo, create and run all read it.
func mainSchema(version, date string) func() *service.ConfigSchema {
	return func() *service.ConfigSchema {
		s := service.GlobalEnvironment().FullConfigSchema(version, date)
		s.SetFieldDefault(map[string]any{"@service": serviceLabel}, "logger", "static_fields")
		return s
	}
}

func main() {
	setGCPercent()
	var logger *service.Logger
	version, date := versionInfo()
	ucli.AppHelpTemplate = appHelpTemplate
	code, err := service.RunCLIToCode(context.Background(),
		service.CLIOptSetBinaryName("currents-segment"),
		service.CLIOptSetProductName("currents-segment"),
		service.CLIOptSetVersion(version, date),
		service.CLIOptSetDocumentationURL("https://github.com/currents-segment/currents-segment"),
		service.CLIOptSetMainSchemaFrom(mainSchema(version, date)),
		service.CLIOptAddCommand(demoCommand()),
		service.CLIOptAddCommand(docsCommand()),
		service.CLIOptAddCommand(backlogCommand()),
		service.CLIOptAddCommand(probeCommand()),
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
