// Command currents-segment is a Benthos binary with every core io and pure
// component plus the currents-segment plugins: run it like any Benthos binary
// (`currents-segment -c pipeline.yaml`, `lint`, `test`, `echo`, `list`).
package main

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/currents-segment/currents-segment/plugin"
)

// Version and DateBuilt are set at build time with
// -ldflags "-X main.Version=v1.2.3 -X main.DateBuilt=2026-11-28T00:00:00Z".
var (
	Version   = "v0.1.0-dev"
	DateBuilt = "unknown"
)

func main() {
	service.RunCLI(context.Background(),
		service.CLIOptSetBinaryName("currents-segment"),
		service.CLIOptSetProductName("currents-segment"),
		service.CLIOptSetVersion(Version, DateBuilt),
		service.CLIOptSetDocumentationURL("https://github.com/currents-segment/currents-segment"),
		service.CLIOptAddCommand(demoCommand()),
	)
}
