package componentname

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"

	// Benthos core, and nothing of ours: what is registered is core's.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// redpandaConnect lists the names of Redpanda Connect's components that our
// kinds could take, as its documentation lists them. Connect is not open
// source, so it cannot be imported to check: keep this list with its
// releases. Its prometheus exporter is why ours is a package of its own
// (plugin/prometheus), which a Connect build leaves out.
var redpandaConnect = map[Kind][]string{
	Metrics: {"aws_cloudwatch", "influxdb", "json_api", "logger", "none", "prometheus", "statsd"},
	Buffer:  {"memory", "none", "sqlite", "system_window"},
}

// leftOutOfConnect are ours that a Connect build must leave out.
var leftOutOfConnect = map[string]bool{PrometheusMetrics: true}

func TestNoComponentNameTaken(t *testing.T) {
	env := service.GlobalEnvironment()
	core := map[Kind]map[string]bool{Input: {}, Processor: {}, Output: {}, Buffer: {}, Metrics: {}, BloblangMethod: {}}
	env.WalkInputs(func(name string, _ *service.ConfigView) { core[Input][name] = true })
	env.WalkProcessors(func(name string, _ *service.ConfigView) { core[Processor][name] = true })
	env.WalkOutputs(func(name string, _ *service.ConfigView) { core[Output][name] = true })
	env.WalkBuffers(func(name string, _ *service.ConfigView) { core[Buffer][name] = true })
	env.WalkMetrics(func(name string, _ *service.ConfigView) { core[Metrics][name] = true })
	bloblang.GlobalEnvironment().WalkMethods(func(name string, _ *bloblang.MethodView) { core[BloblangMethod][name] = true })
	if len(core[Output]) < 10 || len(core[BloblangMethod]) < 50 {
		t.Fatalf("core is not registered: %d outputs, %d methods", len(core[Output]), len(core[BloblangMethod]))
	}
	for _, c := range All {
		if core[c.Kind][c.Name] {
			t.Errorf("the %s name %q is Benthos core's: ours would replace it, or it ours", c.Kind, c.Name)
		}
		for _, n := range redpandaConnect[c.Kind] {
			if n == c.Name && !leftOutOfConnect[c.Name] {
				t.Errorf("the %s name %q is Redpanda Connect's", c.Kind, c.Name)
			}
		}
	}
}
