package brazehttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/testcert"
)

// listen serves a handler with conf on a free port through Listen, with a
// consumer behind it, and waits until it is ready.
func listen(t *testing.T, conf Config, client *http.Client) (*Server, *testLog, *consumer) {
	t.Helper()
	log := &testLog{}
	conf.Token, conf.Path, conf.Logger = testToken, "/currents", log
	h, err := New(conf)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	// Not t.Context(): it is done by the time cleanups run.
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	c := startConsumer(t, h)
	h.ProbeConsumer()
	origin := strings.TrimSuffix(srv.URL(), "/currents")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, err := client.Get(origin + ReadyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never ready (%v)", origin, err)
		}
	}
	return srv, log, c
}

// post sends body with the token; it may run on any goroutine, so it
// returns its error rather than failing the test.
func post(ctx context.Context, client *http.Client, url string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	return client.Do(req)
}

// With CertFile and KeyFile the server speaks HTTPS only, on the address and
// URL it reports; the http.Server's complaints (a client refusing the
// certificate) reach the Logger at DEBUG.
func TestListenTLS(t *testing.T) {
	certFile, keyFile, roots := testcert.Write(t)
	conf := smallLimits
	conf.CertFile, conf.KeyFile = certFile, keyFile
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	srv, log, c := listen(t, conf, client)
	if want := "https://" + srv.Addr().String() + "/currents"; srv.URL() != want {
		t.Fatalf("URL %s, want %s", srv.URL(), want)
	}
	resp, err := post(t.Context(), client, srv.URL(), envelope("tls-1"))
	if err != nil {
		t.Fatal(err)
	}
	if a := readAnswer(t, resp); a.status != http.StatusOK {
		t.Fatalf("over TLS: %s", a)
	}
	if d := <-c.taken; firstID(d.Body) != "tls-1" {
		t.Fatalf("delivered %s", d.Body)
	}

	// Plain HTTP on the TLS port is not served.
	resp, err = post(t.Context(), http.DefaultClient, "http://"+srv.Addr().String()+"/currents", envelope("plain"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered 200")
		}
	}
	// A client that does not trust the certificate: the handshake fails,
	// and the server says so at DEBUG.
	if _, err := http.Get(strings.TrimSuffix(srv.URL(), "/currents") + ReadyPath); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	for deadline := time.Now().Add(5 * time.Second); len(log.find("DEBUG Braze Currents HTTP server:", "TLS handshake error")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the handshake failure is not logged at DEBUG:\n%s", log.String())
		}
	}
}

// Shutdown answers 503 to a request still waiting for its outcome, waits
// for that answer to be written, and stops listening.
func TestServerShutdown(t *testing.T) {
	conf := smallLimits
	conf.AckTimeout = time.Minute // only the shutdown ends the wait
	srv, _, c := listen(t, conf, http.DefaultClient)
	if want := "http://" + srv.Addr().String() + "/currents"; srv.URL() != want {
		t.Fatalf("URL %s, want %s", srv.URL(), want)
	}
	type result struct {
		resp *http.Response
		err  error
	}
	answered := make(chan result, 1)
	go func() {
		resp, err := post(t.Context(), http.DefaultClient, srv.URL(), envelope("hold-sd"))
		answered <- result{resp, err}
	}()
	<-c.taken
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := <-answered
	if r.err != nil {
		t.Fatal(r.err)
	}
	a := readAnswer(t, r.resp)
	if msg, _ := a.body["error"].(string); a.status != http.StatusServiceUnavailable || !strings.Contains(msg, "shut down before delivery") || a.header.Get("Retry-After") == "" {
		t.Fatalf("a request held at shutdown: %s", a)
	}
	if _, err := http.Get(strings.TrimSuffix(srv.URL(), "/currents") + ReadyPath); err == nil {
		t.Fatal("still listening after Shutdown")
	}
}
