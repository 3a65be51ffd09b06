package main

import (
	"os"
	"regexp"
	"slices"
	"testing"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/currents-segment/currents-segment/plugin"
)

// Every target names pipelines of the table, so none is silently never
// printed, and a target held to a bound has the one figure it is judged on.
func TestPipelinesTable(t *testing.T) {
	names := map[string]bool{}
	for _, p := range pipelines {
		if p.name == "" || names[p.name] {
			t.Errorf("pipeline name %q empty or repeated", p.name)
		}
		names[p.name] = true
		if p.config == nil {
			t.Errorf("%s: no config", p.name)
		}
	}
	for _, p := range pipelines {
		for i, tg := range p.targets {
			if len(tg.figures) == 0 || tg.bound != nil && len(tg.figures) != 1 {
				t.Errorf("%s target %d: %d figures with bound %v", p.name, i, len(tg.figures), tg.bound)
			}
			for _, f := range tg.figures {
				if f.of != "" && !names[f.of] || !names[f.over] {
					t.Errorf("%s target %d names a pipeline not in the table: %+v", p.name, i, f)
				}
			}
		}
	}
}

// Every config is one the binary accepts (the same components, linted as
// Benthos lints them), without building and running it.
func TestPipelineConfigsLint(t *testing.T) {
	t.Setenv("BENCH_HTTP_ADDRESS", "127.0.0.1:0")
	for _, profile := range []bool{false, true} {
		for _, p := range pipelines {
			s := runSpec{events: "/nonexistent/events.jsonl", dir: t.TempDir(), threads: 2, diskSync: "always", profile: profile}
			if p.e2e {
				s.endpoint = "http://127.0.0.1:1"
			}
			if err := service.NewStreamBuilder().SetYAML(p.config(s)); err != nil {
				t.Errorf("%s (profile %v): %v\n%s", p.name, profile, err, p.config(s))
			}
		}
	}
}

// A pipeline is stock, and runs at Go's default collector, exactly when its
// config uses none of the project's components; and only a stock one gets
// GOGC=100, unless the harness's environment sets GOGC for all.
func TestStockPipelines(t *testing.T) {
	// The project's components as config keys (comments name them too).
	ours := regexp.MustCompile(`(?m)^\s*(- )?(currents_to_segment|segment|braze_currents|braze_storage|disk):`)
	for _, p := range pipelines {
		conf := p.config(runSpec{events: "/e.jsonl", dir: "/d", threads: 2, diskSync: "always", endpoint: "http://127.0.0.1:1",
			export: "/x", storageURL: "s3://b"})
		usesOurs := ours.MatchString(conf)
		if p.stock == usesOurs {
			t.Errorf("%s: stock %v, but its config uses the project's components: %v\n%s", p.name, p.stock, usesOurs, conf)
		}
	}
	os.Unsetenv("GOGC")
	if got := stockEnv(); !slices.Equal(got, []string{"GOGC=100"}) {
		t.Errorf("without GOGC: %v", got)
	}
	t.Setenv("GOGC", "150")
	if got := stockEnv(); got != nil {
		t.Errorf("with GOGC=150 in the environment: %v, want it inherited as every pipeline's", got)
	}
}
