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
		m := listenLine.FindStringSubmatch(logs.String())
		if m == nil {
			continue
		}
		polls++
		resp, err := http.Get(readyURL(t, m[1]))
		if err != nil {
			continue
		}
		resp.Body.Close()
		answered++
		if resp.StatusCode == http.StatusOK {
			_ = second.Process.Kill()
			t.Fatalf("the second process answered /ready 200 on a buffer it cannot open:\n%s", tail(logs.String(), 3000))
		}
	}
}
