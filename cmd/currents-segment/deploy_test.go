package main

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/currents-segment/currents-segment/internal/brazehttp"
)

// The deployment files (Dockerfile, deploy/) are checked against what the
// binary and the pipeline they run really do: no container runtime,
// Kubernetes or systemd is needed, so the checks are static, each value
// traced to its source (a constant, a spec default, the pipeline's text).

// stateDir is where every deployment keeps the disk buffer and the dead
// letters: the image's VOLUME, the StatefulSet's volume, systemd's
// StateDirectory.
const stateDir = "/var/lib/currents-segment"

// benthosLivenessPath is Benthos's own liveness endpoint on its HTTP server
// (internal/api of Benthos v4.60.0: 200 "pong"; listenerRole relies on it).
const benthosLivenessPath = "/ping"

// pipelineVar is a ${VAR} or ${VAR:default} of a Benthos config.
var pipelineVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::([^}]*))?\}`)

// productionPipeline is deploy/pipeline.yaml, checked to be the block of
// docs/operations.md the outage tests run: the file every deployment runs.
type productionPipeline struct {
	text     string
	vars     map[string]string // every ${VAR}: its default
	required []string          // the ${VAR}s without a default
	shutdown time.Duration     // shutdown_timeout
}

func readProductionPipeline(t *testing.T, root string) productionPipeline {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := productionPipeline{text: string(b), vars: map[string]string{}}
	if docs := docsConfig(t, filepath.Join(root, "docs", "operations.md"), "<!-- config-test: outage -->"); docs != p.text {
		t.Errorf("deploy/pipeline.yaml is not the production pipeline of docs/operations.md (the outage block) byte for byte: copy the block into it")
	}
	for _, m := range pipelineVar.FindAllStringSubmatch(p.text, -1) {
		if !strings.Contains(m[0], ":") {
			p.required = append(p.required, m[1])
		}
		p.vars[m[1]] = m[2]
	}
	slices.Sort(p.required)
	p.required = slices.Compact(p.required)
	var conf struct {
		Shutdown string `yaml:"shutdown_timeout"`
	}
	if err := yaml.Unmarshal(b, &conf); err != nil {
		t.Fatalf("deploy/pipeline.yaml: %v", err)
	}
	// Benthos's default, when the pipeline does not say.
	p.shutdown = 20 * time.Second
	if conf.Shutdown != "" {
		if p.shutdown, err = time.ParseDuration(conf.Shutdown); err != nil {
			t.Fatalf("deploy/pipeline.yaml shutdown_timeout: %v", err)
		}
	}
	return p
}

// port returns the port of host:port, failing the test otherwise.
func port(t *testing.T, what, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: %q is not host:port: %v", what, addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s: %q: %v", what, addr, err)
	}
	return n
}

// inputDefaultAddress is the braze_currents input's default address, read
// from its registered spec (the plugin's bciDefaultAddress).
func inputDefaultAddress(t *testing.T) string {
	t.Helper()
	view, ok := service.GlobalEnvironment().GetInputConfig("braze_currents")
	if !ok {
		t.Fatal("braze_currents is not registered")
	}
	data, err := view.TemplateData()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range data.Fields {
		if f.FullName == "address" {
			var addr string
			if err := json.Unmarshal([]byte(f.DefaultMarshalled), &addr); err != nil {
				t.Fatalf("braze_currents address default %q: %v", f.DefaultMarshalled, err)
			}
			return addr
		}
	}
	t.Fatal("braze_currents has no address field")
	return ""
}

// stopBudget is the longest a stop (SIGTERM) takes with the binary's
// defaults: a request may wait queue_timeout for the pipeline and
// ack_timeout for delivery, the pipeline drains for its shutdown_timeout,
// and the input writes its last answers for its own shutdown_timeout. A
// Kubernetes grace period or a systemd TimeoutStopSec below it kills the
// process while Braze's requests are still being answered.
func stopBudget(p productionPipeline) time.Duration {
	return brazehttp.DefaultQueueTimeout + brazehttp.DefaultAckTimeout + p.shutdown + brazehttp.DefaultShutdownTimeout
}

// dockerInstruction is one instruction of a Dockerfile, continuation lines
// joined.
type dockerInstruction struct {
	cmd, args string
}

func readDockerfile(t *testing.T, root string) (header string, ins []dockerInstruction) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var cur strings.Builder
	inHeader := true
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			if inHeader {
				header += line + "\n"
			}
			continue
		}
		if line == "" && cur.Len() == 0 {
			continue
		}
		inHeader = false
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		ins = append(ins, dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return header, ins
}

// execForm parses a JSON-array instruction argument (["a","b"]).
func execForm(t *testing.T, what, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("%s is not in exec form (a JSON array): %s", what, s)
	}
	return out
}

// documentedBuild is the build command deploy/README.md and the Dockerfile
// give.
const documentedBuild = "docker build --build-arg VERSION=$(git describe --tags --always) -t currents-segment ."

// dockerImage is what the Dockerfile says about the image it builds.
type dockerImage struct {
	entrypoint, cmd, healthcheck []string
	user                         string
	volume                       string
	expose                       []int
	copies                       map[string]string // runtime destination → source
}

func checkDockerfile(t *testing.T, root string) dockerImage {
	t.Helper()
	header, ins := readDockerfile(t, root)
	if !strings.Contains(header, documentedBuild) {
		t.Errorf("the Dockerfile's header comment lacks the build command %q", documentedBuild)
	}
	img := dockerImage{copies: map[string]string{}}
	var stages []string
	args := map[string]bool{}
	var build string
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			stages = append(stages, in.args)
		case "ARG":
			name, _, _ := strings.Cut(in.args, "=")
			args[name] = true
		case "RUN":
			if strings.Contains(in.args, "go build") {
				build = in.args
			}
		case "COPY":
			if len(stages) < 2 {
				continue
			}
			f := strings.Fields(in.args)
			var srcs []string
			for _, a := range f[:len(f)-1] {
				if !strings.HasPrefix(a, "--") {
					srcs = append(srcs, a)
				}
			}
			if len(srcs) == 1 {
				img.copies[f[len(f)-1]] = srcs[0]
			}
		case "USER":
			img.user = in.args
		case "VOLUME":
			img.volume = in.args
		case "EXPOSE":
			for _, p := range strings.Fields(in.args) {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				if err != nil {
					t.Errorf("EXPOSE %s: %v", p, err)
				}
				img.expose = append(img.expose, n)
			}
		case "HEALTHCHECK":
			_, cmd, ok := strings.Cut(in.args, "CMD ")
			if !ok {
				t.Fatalf("HEALTHCHECK without CMD: %s", in.args)
			}
			img.healthcheck = execForm(t, "HEALTHCHECK CMD", strings.TrimSpace(cmd))
		case "ENTRYPOINT":
			img.entrypoint = execForm(t, "ENTRYPOINT", in.args)
		case "CMD":
			img.cmd = execForm(t, "CMD", in.args)
		}
	}
	// Two stages: the Go toolchain the module asks for, then a runtime with
	// nothing but the static binary.
	if len(stages) != 2 {
		t.Fatalf("the Dockerfile has stages %q, want a builder and a runtime", stages)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(gomod))
	if goVersion == nil || !strings.HasPrefix(stages[0], "golang:"+goVersion[1]+"-bookworm AS ") {
		t.Errorf("builder stage %q: want golang:%s-bookworm AS <name> (go.mod's Go)", stages[0], goVersion)
	}
	if !strings.HasPrefix(stages[1], "gcr.io/distroless/static-debian12:nonroot") && stages[1] != "scratch" {
		t.Errorf("runtime stage %q: want distroless static (nonroot) or scratch", stages[1])
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.Version=${VERSION}", "-X main.DateBuilt=${DATE_BUILT}", "./cmd/currents-segment"} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build of the Dockerfile lacks %q: %s", want, build)
		}
	}
	for _, a := range []string{"VERSION", "DATE_BUILT"} {
		if !args[a] {
			t.Errorf("the Dockerfile declares no ARG %s", a)
		}
	}
	// The -X targets must be string variables of package main, or the
	// linker ignores them silently and the image says "dev".
	vars := packageStringVars(t, "version.go")
	for _, v := range []string{"Version", "DateBuilt"} {
		if !vars[v] {
			t.Errorf("-X main.%s: version.go has no package-level string variable %s", v, v)
		}
	}
	if img.user == "" || img.user == "root" || strings.HasPrefix(img.user, "0:") || img.user == "0" {
		t.Errorf("USER %q: the image must run as a non-root user", img.user)
	}
	if img.volume != stateDir {
		t.Errorf("VOLUME %q, want %s", img.volume, stateDir)
	}
	return img
}

// packageStringVars returns the package-level variables of file declared as
// strings (by type or by a string literal).
func packageStringVars(t *testing.T, file string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				isString := false
				if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
					isString = true
				}
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						isString = true
					}
				}
				out[n.Name] = isString
			}
		}
	}
	return out
}

// TestDeployDockerfile checks the image: its ports are the binary's, its
// health check probes the input's readiness with the probe command, it runs
// the production pipeline, and the build context holds what the build needs.
func TestDeployDockerfile(t *testing.T) {
	root := repoRoot(t)
	p := readProductionPipeline(t, root)
	img := checkDockerfile(t, root)

	inputPort := port(t, "braze_currents default address", inputDefaultAddress(t))
	if got := port(t, "BRAZE_LISTEN_ADDRESS default", p.vars["BRAZE_LISTEN_ADDRESS"]); got != inputPort {
		t.Errorf("the pipeline's BRAZE_LISTEN_ADDRESS default listens on %d, the input's default on %d", got, inputPort)
	}
	apiPort := port(t, "HTTP_ADDRESS default", p.vars["HTTP_ADDRESS"])
	if want := []int{inputPort, apiPort}; !slices.Equal(img.expose, want) {
		t.Errorf("EXPOSE %v, want %v (the braze_currents input, Benthos's HTTP server)", img.expose, want)
	}

	if len(img.entrypoint) != 1 || img.copies[img.entrypoint[0]] != "/out/currents-segment" && !strings.HasSuffix(img.copies[img.entrypoint[0]], "/currents-segment") {
		t.Errorf("ENTRYPOINT %v is not the binary the runtime stage copies (%v)", img.entrypoint, img.copies)
	}
	wantHealth := []string{img.entrypoint[0], "probe", "http://127.0.0.1:" + strconv.Itoa(inputPort) + brazehttp.ReadyPath}
	if !slices.Equal(img.healthcheck, wantHealth) {
		t.Errorf("HEALTHCHECK CMD %q, want %q", img.healthcheck, wantHealth)
	}
	if len(img.cmd) != 2 || img.cmd[0] != "run" {
		t.Fatalf("CMD %q, want [run <config>]", img.cmd)
	}
	if src := img.copies[img.cmd[1]]; src != "deploy/pipeline.yaml" {
		t.Errorf("CMD runs %s, which the image fills from %q, want deploy/pipeline.yaml", img.cmd[1], src)
	}
	if !strings.HasPrefix(p.vars["BUFFER_PATH"], stateDir+"/") || !strings.HasPrefix(p.vars["DEAD_LETTER_PATH"], stateDir+"/") {
		t.Errorf("the pipeline's default BUFFER_PATH %q and DEAD_LETTER_PATH %q must be on the volume %s", p.vars["BUFFER_PATH"], p.vars["DEAD_LETTER_PATH"], stateDir)
	}

	// The build context: what the build copies must not be excluded.
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimPrefix(l, "/"))
		}
	}
	for _, need := range []string{"go.mod", "go.sum", "cmd/currents-segment/main.go", "plugin/doc.go", "internal/spec/events.json", "deploy/pipeline.yaml"} {
		for _, pat := range patterns {
			if dockerIgnored(pat, need) {
				t.Errorf(".dockerignore %q excludes %s, which the build needs", pat, need)
			}
		}
	}
	for _, secret := range []string{".git", ".cache"} {
		if !slices.Contains(patterns, secret) {
			t.Errorf(".dockerignore does not exclude %s", secret)
		}
	}
}

// dockerIgnored reports whether pattern (a .dockerignore line) excludes
// name or a directory above it. "**/" matches any number of directories.
func dockerIgnored(pattern, name string) bool {
	parts := strings.Split(name, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		if ok, _ := path.Match(pattern, prefix); ok {
			return true
		}
		if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
			for j := 0; j < i; j++ {
				if ok, _ := path.Match(rest, strings.Join(parts[j:i], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

// manifest is one Kubernetes object, decoded loosely.
type manifest map[string]any

func (m manifest) get(keys ...string) any {
	var cur any = map[string]any(m)
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func (m manifest) str(keys ...string) string { s, _ := m.get(keys...).(string); return s }

func list(v any) []manifest {
	var out []manifest
	items, _ := v.([]any)
	for _, it := range items {
		if mm, ok := it.(map[string]any); ok {
			out = append(out, manifest(mm))
		}
	}
	return out
}

// readManifests decodes every document of every YAML file of dir.
func readManifests(t *testing.T, dir string) map[string][]manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	out := map[string][]manifest{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(fh)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("%s: %v", f, err)
				}
				break
			}
			if m != nil {
				out[filepath.Base(f)] = append(out[filepath.Base(f)], manifest(m))
			}
		}
		fh.Close()
	}
	return out
}

func byKind(all map[string][]manifest, kind string) []manifest {
	var out []manifest
	for _, ms := range all {
		for _, m := range ms {
			if m.str("kind") == kind {
				out = append(out, m)
			}
		}
	}
	return out
}

// labelsMatch reports whether every label of sel is in labels.
func labelsMatch(sel, labels any) bool {
	s, _ := sel.(map[string]any)
	l, _ := labels.(map[string]any)
	if len(s) == 0 {
		return false
	}
	for k, v := range s {
		if l[k] != v {
			return false
		}
	}
	return true
}

// TestDeployKubernetes checks deploy/kubernetes against the pipeline the
// ConfigMap holds, the binary's defaults and the image.
func TestDeployKubernetes(t *testing.T) {
	root := repoRoot(t)
	p := readProductionPipeline(t, root)
	img := checkDockerfile(t, root)
	all := readManifests(t, filepath.Join(root, "deploy", "kubernetes"))

	// kustomization.yaml applies every manifest but the example Secret.
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	kb, err := os.ReadFile(filepath.Join(root, "deploy", "kubernetes", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(kb, &kust); err != nil {
		t.Fatal(err)
	}
	var want []string
	for f := range all {
		if f != "kustomization.yaml" && f != "secret.example.yaml" {
			want = append(want, f)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(kust.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources %v, want %v", got, want)
	}

	sets := byKind(all, "StatefulSet")
	if len(sets) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(sets))
	}
	sts := sets[0]
	pod := manifest(sts.get("spec", "template", "spec").(map[string]any))
	podLabels := sts.get("spec", "template", "metadata", "labels")
	if !labelsMatch(sts.get("spec", "selector", "matchLabels"), podLabels) {
		t.Error("the StatefulSet's selector does not match its pod labels")
	}
	containers := list(pod.get("containers"))
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := containers[0]

	// The ConfigMap is the production pipeline, mounted where the
	// container's args (the image's CMD) read it.
	cms := byKind(all, "ConfigMap")
	if len(cms) != 1 {
		t.Fatalf("%d ConfigMaps, want 1", len(cms))
	}
	cm := cms[0]
	var configKey string
	for k, v := range cm.get("data").(map[string]any) {
		configKey = k
		if v != p.text {
			t.Errorf("ConfigMap %s data %s is not deploy/pipeline.yaml byte for byte", cm.str("metadata", "name"), k)
		}
	}
	args := []string{}
	for _, a := range c.get("args").([]any) {
		args = append(args, a.(string))
	}
	if !slices.Equal(args, img.cmd) {
		t.Errorf("container args %q, want the image's CMD %q", args, img.cmd)
	}
	mounts := map[string]string{} // volume name → mount path
	for _, m := range list(c.get("volumeMounts")) {
		mounts[m.str("name")] = m.str("mountPath")
	}
	var configVolume string
	for _, v := range list(pod.get("volumes")) {
		if v.str("configMap", "name") == cm.str("metadata", "name") {
			configVolume = v.str("name")
		}
	}
	if configVolume == "" || path.Join(mounts[configVolume], configKey) != img.cmd[1] {
		t.Errorf("the ConfigMap is mounted at %q as %q; the container runs %s", mounts[configVolume], configKey, img.cmd[1])
	}

	// The state volume: a claim template mounted at the image's VOLUME.
	claims := list(sts.get("spec", "volumeClaimTemplates"))
	if len(claims) != 1 || mounts[claims[0].str("metadata", "name")] != stateDir {
		t.Errorf("want one volumeClaimTemplate mounted at %s, got %d claims, mounts %v", stateDir, len(claims), mounts)
	}

	// Env: every variable the pipeline needs and has no default for comes
	// from the Secret; every variable set is one the pipeline reads; paths
	// are on the volume and addresses on the container's ports.
	secrets := byKind(all, "Secret")
	if len(secrets) != 1 {
		t.Fatalf("%d Secrets (the example), want 1", len(secrets))
	}
	secretName := secrets[0].str("metadata", "name")
	secretKeys := secrets[0].get("stringData").(map[string]any)
	env := map[string]string{}
	fromSecret := map[string]bool{}
	for _, e := range list(c.get("env")) {
		name := e.str("name")
		if name == "GOMEMLIMIT" {
			checkMemoryLimit(t, e.str("value"), c.str("resources", "limits", "memory"))
			continue
		}
		if _, ok := p.vars[name]; !ok {
			t.Errorf("env %s is set but the pipeline reads no ${%s}", name, name)
		}
		if ref := e.str("valueFrom", "secretKeyRef", "name"); ref != "" {
			key := e.str("valueFrom", "secretKeyRef", "key")
			if ref != secretName || secretKeys[key] == nil {
				t.Errorf("env %s comes from secret %s key %s, which secret.example.yaml (%s) lacks", name, ref, key, secretName)
			}
			fromSecret[name] = true
			continue
		}
		env[name] = e.str("value")
	}
	for _, name := range p.required {
		if !fromSecret[name] {
			t.Errorf("the pipeline needs ${%s} (no default); the StatefulSet does not take it from the Secret", name)
		}
	}
	for k := range secretKeys {
		if !slices.Contains(p.required, k) {
			t.Errorf("secret.example.yaml has %s, which is not a variable the pipeline needs", k)
		}
	}
	value := func(name string) string {
		if v, ok := env[name]; ok {
			return v
		}
		return p.vars[name]
	}
	for _, name := range []string{"BUFFER_PATH", "DEAD_LETTER_PATH"} {
		if !strings.HasPrefix(value(name), stateDir+"/") {
			t.Errorf("%s=%s is not on the volume %s", name, value(name), stateDir)
		}
	}
	ports := map[string]int{}
	for _, cp := range list(c.get("ports")) {
		ports[cp.str("name")] = cp.get("containerPort").(int)
	}
	inputPort := port(t, "BRAZE_LISTEN_ADDRESS", value("BRAZE_LISTEN_ADDRESS"))
	apiPort := port(t, "HTTP_ADDRESS", value("HTTP_ADDRESS"))
	if want := port(t, "braze_currents default", inputDefaultAddress(t)); inputPort != want {
		t.Errorf("the input listens on %d, its default is %d", inputPort, want)
	}
	portOf := func(v any) int {
		switch v := v.(type) {
		case int:
			return v
		case string:
			return ports[v]
		}
		return 0
	}
	if got := slices.Sorted(func(yield func(int) bool) {
		for _, n := range ports {
			if !yield(n) {
				return
			}
		}
	}); !slices.Equal(got, slices.Sorted(slices.Values(img.expose))) {
		t.Errorf("container ports %v, want the image's EXPOSE %v", ports, img.expose)
	}

	// Readiness on the input's /ready (503 while starting or draining), so
	// Braze's traffic goes elsewhere; liveness on Benthos's /ping.
	ready := manifest(c.get("readinessProbe").(map[string]any))
	if ready.str("httpGet", "path") != brazehttp.ReadyPath || portOf(ready.get("httpGet", "port")) != inputPort {
		t.Errorf("readinessProbe %v, want GET %s on %d", ready, brazehttp.ReadyPath, inputPort)
	}
	for _, probeKey := range []string{"livenessProbe", "startupProbe"} {
		pr, _ := c.get(probeKey).(map[string]any)
		if probeKey == "startupProbe" && pr == nil {
			continue
		}
		m := manifest(pr)
		if m.str("httpGet", "path") != benthosLivenessPath || portOf(m.get("httpGet", "port")) != apiPort {
			t.Errorf("%s %v, want GET %s on %d", probeKey, pr, benthosLivenessPath, apiPort)
		}
	}

	grace := time.Duration(pod.get("terminationGracePeriodSeconds").(int)) * time.Second
	if budget := stopBudget(p); grace < budget {
		t.Errorf("terminationGracePeriodSeconds %s is below queue_timeout + ack_timeout + shutdown_timeout + the input's shutdown_timeout = %s", grace, budget)
	}

	// The pod runs as the image's user, which owns the volume through
	// fsGroup.
	uid, _, _ := strings.Cut(img.user, ":")
	if got := pod.get("securityContext", "runAsUser"); strconv.Itoa(asInt(got)) != uid || pod.get("securityContext", "runAsNonRoot") != true || pod.get("securityContext", "fsGroup") == nil {
		t.Errorf("pod securityContext %v: want runAsNonRoot, runAsUser %s and an fsGroup", pod.get("securityContext"), uid)
	}

	// Services select the pods and target named container ports; the
	// headless one governs the StatefulSet.
	services := byKind(all, "Service")
	var headless bool
	for _, s := range services {
		if !labelsMatch(s.get("spec", "selector"), podLabels) {
			t.Errorf("Service %s does not select the pods", s.str("metadata", "name"))
		}
		for _, sp := range list(s.get("spec", "ports")) {
			if portOf(sp.get("targetPort")) == 0 {
				t.Errorf("Service %s port %v targets no container port", s.str("metadata", "name"), sp)
			}
		}
		if s.str("metadata", "name") == sts.str("spec", "serviceName") && s.str("spec", "clusterIP") == "None" {
			headless = true
		}
	}
	if !headless {
		t.Errorf("no headless Service named %q (the StatefulSet's serviceName)", sts.str("spec", "serviceName"))
	}
	pdbs := byKind(all, "PodDisruptionBudget")
	if len(pdbs) != 1 || !labelsMatch(pdbs[0].get("spec", "selector", "matchLabels"), podLabels) {
		t.Error("want one PodDisruptionBudget selecting the pods")
	}
}

func asInt(v any) int {
	n, _ := v.(int)
	return n
}

// systemdUnit reads a unit file's [section] key=value lines; a key given
// twice keeps every value.
func systemdUnit(t *testing.T, file string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not key=value: %q", file, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// TestDeploySystemd checks deploy/systemd: systemd-analyze verify where it
// exists, then the keys against the pipeline and the binary.
func TestDeploySystemd(t *testing.T) {
	root := repoRoot(t)
	p := readProductionPipeline(t, root)
	file := filepath.Join(root, "deploy", "systemd", "currents-segment.service")
	u := systemdUnit(t, file)
	one := func(key string) string {
		if v := u[key]; len(v) == 1 {
			return v[0]
		}
		t.Errorf("%s: want exactly one %s, got %q", filepath.Base(file), key, u[key])
		return ""
	}

	exec0 := strings.Fields(one("Service.ExecStart"))
	if len(exec0) != 3 || exec0[1] != "run" || exec0[2] != "/etc/currents-segment/pipeline.yaml" {
		t.Errorf("ExecStart %q, want <binary> run /etc/currents-segment/pipeline.yaml", exec0)
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil && len(exec0) == 3 {
		// verify checks that ExecStart's binary exists: point it at the
		// binary under test, in a copy of the unit.
		b, _ := os.ReadFile(file)
		dir := t.TempDir()
		copyFile := filepath.Join(dir, "currents-segment.service")
		if err := os.WriteFile(copyFile, []byte(strings.ReplaceAll(string(b), exec0[0], binary)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sa, "verify", copyFile).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	} else {
		t.Log("no systemd-analyze: checking the unit's keys only")
	}

	if got := "/var/lib/" + one("Service.StateDirectory"); got != stateDir {
		t.Errorf("StateDirectory makes %s, want %s", got, stateDir)
	}
	for _, name := range []string{"BUFFER_PATH", "DEAD_LETTER_PATH"} {
		if !strings.HasPrefix(p.vars[name], stateDir+"/") {
			t.Errorf("the pipeline's default %s %q is not in the StateDirectory", name, p.vars[name])
		}
	}
	stop, err := time.ParseDuration(one("Service.TimeoutStopSec"))
	if err != nil {
		t.Errorf("TimeoutStopSec: %v", err)
	}
	if budget := stopBudget(p); stop < budget {
		t.Errorf("TimeoutStopSec %s is below the stop budget %s", stop, budget)
	}
	for key, want := range map[string]string{
		"Service.Restart":                 "on-failure",
		"Service.EnvironmentFile":         "/etc/currents-segment/env",
		"Service.SuccessExitStatus":       strconv.Itoa(exitNotDelivered),
		"Service.NoNewPrivileges":         "yes",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.PrivateDevices":          "yes",
		"Service.ProtectKernelTunables":   "yes",
		"Service.ProtectKernelModules":    "yes",
		"Service.ProtectKernelLogs":       "yes",
		"Service.ProtectControlGroups":    "yes",
		"Service.RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"Service.CapabilityBoundingSet":   "",
		"Service.LockPersonality":         "yes",
		"Service.MemoryDenyWriteExecute":  "yes",
		"Service.DynamicUser":             "yes",
		"Install.WantedBy":                "multi-user.target",
	} {
		if got := one(key); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	if _, err := time.ParseDuration(one("Service.RestartSec")); err != nil {
		t.Errorf("RestartSec: %v", err)
	}

	// env.example sets exactly the variables the pipeline needs, and only
	// mentions (commented) variables it reads.
	eb, err := os.ReadFile(filepath.Join(root, "deploy", "systemd", "env.example"))
	if err != nil {
		t.Fatal(err)
	}
	var set []string
	for _, line := range strings.Split(string(eb), "\n") {
		name, _, ok := strings.Cut(strings.TrimPrefix(line, "#"), "=")
		if !ok || strings.Contains(name, " ") {
			continue
		}
		if _, reads := p.vars[name]; !reads {
			t.Errorf("env.example names %s, which the pipeline does not read", name)
		}
		if !strings.HasPrefix(line, "#") {
			set = append(set, name)
		}
	}
	slices.Sort(set)
	if !slices.Equal(set, p.required) {
		t.Errorf("env.example sets %v, want the pipeline's variables without a default %v", set, p.required)
	}
}

// TestDeployReadme checks that deploy/README.md names every file of deploy/
// and gives the build command.
func TestDeployReadme(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "deploy", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, want := range []string{documentedBuild, "kubectl apply -k deploy/kubernetes", "systemctl enable --now currents-segment"} {
		if !strings.Contains(readme, want) {
			t.Errorf("deploy/README.md lacks %q", want)
		}
	}
	err = filepath.Walk(filepath.Join(root, "deploy"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(root, "deploy"), p)
		if rel != "README.md" && !strings.Contains(readme, "`"+filepath.ToSlash(rel)+"`") {
			t.Errorf("deploy/README.md does not describe `%s`", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkMemoryLimit holds the StatefulSet's GOMEMLIMIT (Go's form, e.g.
// 460MiB) to 80-95 % of the container's memory limit (Kubernetes' form,
// e.g. 512Mi): below it, so the collector works harder before the kernel
// kills the container, and not so far below that memory goes unused.
func checkMemoryLimit(t *testing.T, gomemlimit, limit string) {
	t.Helper()
	goLimit, ok1 := strings.CutSuffix(gomemlimit, "MiB")
	k8sLimit, ok2 := strings.CutSuffix(limit, "Mi")
	g, err1 := strconv.Atoi(goLimit)
	k, err2 := strconv.Atoi(k8sLimit)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		t.Fatalf("GOMEMLIMIT %q or the memory limit %q is not in MiB / Mi, as this check reads them", gomemlimit, limit)
	}
	if r := float64(g) / float64(k); r < 0.8 || r > 0.95 {
		t.Errorf("GOMEMLIMIT %s is %.0f %% of the memory limit %s; want 80-95 %%", gomemlimit, 100*r, limit)
	}
}
