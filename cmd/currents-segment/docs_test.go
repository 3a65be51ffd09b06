package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// benthosSections are the top-level keys of a Benthos config. A YAML block
// of the docs whose keys are all among them is a config a reader may run,
// and must lint; a block with none of them is a fragment (the fields of one
// component, a Prometheus scrape config) and is not a config.
var benthosSections = map[string]bool{
	"http": true, "input": true, "buffer": true, "pipeline": true, "output": true,
	"input_resources": true, "processor_resources": true, "output_resources": true,
	"cache_resources": true, "rate_limit_resources": true,
	"logger": true, "metrics": true, "tracer": true, "shutdown_timeout": true, "shutdown_delay": true, "tests": true,
}

// yamlBlock is one fenced YAML block of a markdown file.
type yamlBlock struct {
	file string
	line int
	text string
}

func markdownYAMLBlocks(t *testing.T, path string) []yamlBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []yamlBlock
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		out = append(out, yamlBlock{file: path, line: start, text: strings.Join(lines[start:i], "\n") + "\n"})
	}
	return out
}

// TestDocsYAMLConfigsLint extracts every YAML block of README.md and
// docs/*.md: each one that is a Benthos config is linted by the binary
// (without checking that its environment variables are set, as on a
// reader's machine), so no pipeline the docs show can drift from the
// components. docs/operations.md's production pipeline is also run, through
// an outage, by TestBrazePipelinesThroughAnOutage.
func TestDocsYAMLConfigsLint(t *testing.T) {
	root := repoRoot(t)
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"))
	dir := t.TempDir()
	var configs []string
	where := map[string]string{}
	fragments := 0
	for _, doc := range docs {
		for _, b := range markdownYAMLBlocks(t, doc) {
			name := fmt.Sprintf("%s:%d", filepath.Base(b.file), b.line)
			var top map[string]any
			if err := yaml.Unmarshal([]byte(b.text), &top); err != nil {
				t.Errorf("%s: not YAML: %v", name, err)
				continue
			}
			var sections, others []string
			for k := range top {
				if benthosSections[k] {
					sections = append(sections, k)
				} else {
					others = append(others, k)
				}
			}
			switch {
			case len(sections) == 0:
				fragments++
				continue
			case len(others) > 0:
				t.Errorf("%s: a config with keys that are not Benthos sections: %v", name, others)
				continue
			}
			path := filepath.Join(dir, fmt.Sprintf("block-%03d.yaml", len(configs)))
			if err := os.WriteFile(path, []byte(b.text), 0o644); err != nil {
				t.Fatal(err)
			}
			configs = append(configs, path)
			where[path] = name
		}
	}
	if len(configs) < 10 {
		t.Fatalf("only %d configs found in the docs", len(configs))
	}
	for _, c := range configs {
		r := run(t, dir, nil, "lint", "--skip-env-var-check", c)
		if r.code != 0 {
			t.Errorf("%s does not lint:\n%s%s", where[c], r.stdout, r.stderr)
		}
	}
	t.Logf("%d configs linted, %d fragments", len(configs), fragments)
}
