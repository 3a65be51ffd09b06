package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecondProcessOnALockedBufferNeverAnswersReady starts a pipeline on a
// disk buffer, then a second one on the same buffer path: the second cannot
// open the buffer and exits, and while it lives its input's /ready never
// answers 200, so a load balancer never sends it Braze's requests.
func TestSecondProcessOnALockedBufferNeverAnswersReady(t *testing.T) {
	root := repoRoot(t)
	rc := startReceiver(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "production.yaml")
	if err := os.WriteFile(conf, []byte(docsConfig(t, filepath.Join(root, "docs", "operations.md"), "<!-- config-test: outage -->")), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func() []string {
		return exampleEnv(rc, filepath.Join(dir, "dead.jsonl"),
			"BRAZE_CURRENTS_TOKEN=ready-token-2b8e", "BRAZE_LISTEN_ADDRESS=127.0.0.1:0", "HTTP_ADDRESS=127.0.0.1:0",
			"BUFFER_PATH="+filepath.Join(dir, "buffer"))
	}
	first := startBrazePipeline(t, root, conf, env()) // ready: it holds the buffer

	second := exec.Command(binary, "run", conf)
	second.Dir = root
	second.Env = append(os.Environ(), env()...)
	var logs lockedBuffer
	second.Stdout, second.Stderr = &logs, &logs
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- second.Wait() }()
	polls, answered := 0, 0
	role := map[string]string{} // the second process's listeners, once identified
	for {
		select {
		case err := <-exited:
			out := logs.String()
			if err == nil {
				t.Fatalf("the second process exited 0:\n%s", tail(out, 3000))
			}
			if !strings.Contains(out, "locked by another process") {
				t.Fatalf("the second process did not say the buffer is locked:\n%s", tail(out, 3000))
			}
			t.Logf("%d polls of the second process's /ready, %d answered, none 200", polls, answered)
			_ = first.cmd.Process.Kill()
			return
		case <-time.After(10 * time.Millisecond):
		}
		// Poll its input's /ready once it listens. Benthos's HTTP server has
		// a /ready of its own: tell them apart first, which polls the input.
		for _, addr := range listeningAddrs(t, second.Process.Pid) {
			r, status := role[addr], 0
			switch r {
			case "":
				r, status = listenerRole(addr)
				role[addr] = r
			case "input":
				if resp, err := http.Get("http://" + addr + "/ready"); err == nil {
					resp.Body.Close()
					status = resp.StatusCode
				}
			}
			if r != "input" {
				continue
			}
			polls++
			if status == 0 {
				continue
			}
			answered++
			if status == http.StatusOK {
				_ = second.Process.Kill()
				t.Fatalf("the second process answered /ready 200 on a buffer it cannot open:\n%s", tail(logs.String(), 3000))
			}
		}
	}
}
