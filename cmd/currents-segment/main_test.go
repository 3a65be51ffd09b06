package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// These tests drive the real binary, built once, as a user would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "currents-segment-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "currents-segment")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-ldflags", "-X main.Version=v9.9.9-test", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building the binary: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestBinaryVersion(t *testing.T) {
	r := run(t, ".", nil, "--version")
	if r.code != 0 || !strings.Contains(r.stdout, "v9.9.9-test") {
		t.Fatalf("--version: %+v", r)
	}
}

func TestBinaryListsOurComponentsAndCore(t *testing.T) {
	r := run(t, ".", nil, "list")
	for _, want := range []string{"currents_to_segment", "segment", "file", "http_server", "mapping", "switch", "stdout"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list lacks %s", want)
		}
	}
}

func TestBinaryCreateAndEcho(t *testing.T) {
	r := run(t, ".", nil, "create", "stdin/currents_to_segment/stdout")
	if r.code != 0 || !strings.Contains(r.stdout, "currents_to_segment:") || !strings.Contains(r.stdout, "anonymous_users: skip") {
		t.Fatalf("create: %+v", r)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if lint := run(t, ".", nil, "lint", path); lint.code != 0 {
		t.Fatalf("created config does not lint: %+v", lint)
	}
	if echo := run(t, ".", nil, "echo", path); echo.code != 0 || !strings.Contains(echo.stdout, "currents_to_segment") {
		t.Fatalf("echo: %+v", echo)
	}
}

func TestConfigExamplesLint(t *testing.T) {
	root := repoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "config-examples", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no config examples")
	}
	var configs []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_benthos_test.yaml") {
			configs = append(configs, f)
		}
	}
	r := run(t, root, []string{"SEGMENT_WRITE_KEY=lint-key", "BRAZE_CURRENTS_TOKEN=lint-token", "CURRENTS_STORAGE_URL=s3://lint-bucket?region=us-east-1"}, append([]string{"lint"}, configs...)...)
	if r.code != 0 {
		t.Fatalf("lint: %s%s", r.stdout, r.stderr)
	}
}

func TestConfigExamplesUnitTests(t *testing.T) {
	root := repoRoot(t)
	r := run(t, root, []string{"SEGMENT_WRITE_KEY=test-key", "BRAZE_CURRENTS_TOKEN=test-token", "CURRENTS_STORAGE_URL=s3://test-bucket?region=us-east-1"}, "test", "./config-examples/...")
	if r.code != 0 || strings.Contains(r.stdout, "FAIL") {
		t.Fatalf("config unit tests: %s%s", r.stdout, r.stderr)
	}
}

// TestConfigExamplesCheckWithoutSecrets: linting (without the environment
// check) and the config unit tests need no real key: the empty-key check
// belongs to the output's start, not to lint.
func TestConfigExamplesCheckWithoutSecrets(t *testing.T) {
	root := repoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "config-examples", "*.yaml"))
	args := []string{"lint", "--skip-env-var-check"}
	for _, f := range files {
		if !strings.HasSuffix(f, "_benthos_test.yaml") {
			args = append(args, f)
		}
	}
	for _, a := range [][]string{args, {"test", "./config-examples/..."}} {
		cmd := exec.Command(binary, a...)
		cmd.Dir = root
		cmd.Env = withoutSecrets()
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "FAIL") {
			t.Fatalf("%v without secrets: %v\n%s", a[0], err, out)
		}
	}
	// Starting with the key unset is refused, saying what to set.
	cmd := exec.Command(binary, "run", "config-examples/quickstart.yaml")
	cmd.Dir = root
	cmd.Env = withoutSecrets()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "SEGMENT_WRITE_KEY") {
		t.Fatalf("run without a key: %v\n%s", err, out)
	}
}

// TestBinaryLintRules lints configs that break our components' lint rules
// through the binary: in a binary, Benthos's pure bundle initialises after
// our plugin package, so a rule using one of its Bloblang methods parses in
// the plugin's tests and fails here.
func TestBinaryLintRules(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	conf := `
input:
  braze_currents:
    path: /ready
    allow_unauthenticated: true
    write_timeout: 10s
pipeline:
  processors:
    - currents_to_segment:
        events: [ users.messages.email.Sent ]
output:
  segment:
    write_key: k
    region: eu
    endpoint: http://127.0.0.1:1
`
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, nil, "lint", path)
	out := r.stdout + r.stderr
	for _, want := range []string{
		"path /ready is the input's readiness endpoint",
		"write_timeout (10s) must exceed queue_timeout (5s) + ack_timeout (30s)",
		`events: unknown event type "users.messages.email.Sent": did you mean "users.messages.email.Send"?`,
		"endpoint overrides region",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "failed to parse") || r.code == 0 {
		t.Fatalf("exit %d:\n%s", r.code, out)
	}
}
