package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// takeProfile saves a CPU profile of secs seconds from the Benthos HTTP API
// at addr (http.debug_endpoints: true) into path, once the API answers, then
// a heap profile taken at its end (what is live while the run is in full
// flow) beside it, with "-heap" before the extension. The run must last
// longer than the profile, or the profile is lost.
func takeProfile(addr string, secs int, path string) error {
	// Wait for the HTTP server to come up.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/ping")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("the run ended before the profile (%w); use a larger size or -profile-seconds", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return err
	}
	heap, err := http.Get("http://" + addr + "/debug/pprof/heap")
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer heap.Body.Close()
	if body, err = io.ReadAll(heap.Body); err != nil || heap.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s %v", heap.Status, err)
	}
	return os.WriteFile(strings.TrimSuffix(path, filepath.Ext(path))+"-heap"+filepath.Ext(path), body, 0o644)
}
