package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbe checks probe against a server that answers 200, one that answers
// 503 (the input while starting or draining), a refused connection and a
// server too slow for the timeout.
func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			w.WriteHeader(http.StatusOK)
		case "/draining":
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer srv.Close()
	refused := closedAddr(t)

	ctx := context.Background()
	if err := probe(ctx, srv.URL+"/ready", time.Second); err != nil {
		t.Errorf("200: %v", err)
	}
	for _, c := range []struct{ url, want string }{
		{srv.URL + "/draining", "503"},
		{"http://" + refused + "/ready", "refused"},
		{srv.URL + "/slow", "deadline exceeded"},
	} {
		err := probe(ctx, c.url, 200*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.url) {
			t.Errorf("%s: got %v, want an error naming the URL and %q", c.url, err, c.want)
		}
	}
}

// TestProbeCommand runs `currents-segment probe` as the image's HEALTHCHECK
// does: exit 0 on 200, exit 1 with the reason on stderr otherwise.
func TestProbeCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if r := run(t, ".", nil, "probe", srv.URL+"/ready"); r.code != 0 {
		t.Errorf("probe of a 200: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", srv.URL + "/other"}, "503"},
		{[]string{"probe", "--timeout", "500ms", "http://" + closedAddr(t) + "/ready"}, "refused"},
		{[]string{"probe"}, "one URL"},
	} {
		r := run(t, ".", nil, c.args...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// closedAddr returns a loopback address nothing listens on: a port the
// kernel handed out and that was closed again.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
