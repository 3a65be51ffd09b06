package brazehttp

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/testcert"
)

// servedCert returns the DER of the certificate the server at addr presents.
// testcert gives every certificate serial 1, so the DER (a fresh key each
// time) is what tells two of them apart.
func servedCert(t *testing.T, addr string) []byte {
	t.Helper()
	// Only the served certificate is looked at, not trusted.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw
}

func derOf(t *testing.T, certFile string) []byte {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, filepath.Join(filepath.Dir(certFile), "c.key"))
	if err != nil {
		t.Fatal(err)
	}
	return pair.Certificate[0]
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitServed waits until the server presents want, past the check interval.
func waitServed(t *testing.T, addr string, want []byte, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !bytes.Equal(servedCert(t, addr), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s is not served", what)
		}
	}
}

// TestListenReloadsTheCertificate: the server picks up a renewed pair
// written over cert_file and key_file, keeps serving it when the files are
// replaced by garbage or a key of another certificate (and says so once at
// WARN), and picks up a good pair again after that.
func TestListenReloadsTheCertificate(t *testing.T) {
	defer func(old time.Duration) { certCheckInterval = old }(certCheckInterval)
	certCheckInterval = 50 * time.Millisecond

	certFile, keyFile, roots := testcert.Write(t)
	first := derOf(t, certFile)
	conf := smallLimits
	conf.CertFile, conf.KeyFile = certFile, keyFile
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	srv, log, _ := listen(t, conf, client)
	addr := srv.Addr().String()
	if !bytes.Equal(servedCert(t, addr), first) {
		t.Fatal("the server does not present cert_file")
	}

	// A renewal: both files replaced by a new pair.
	newCert, newKey, _ := testcert.Write(t)
	second := derOf(t, newCert)
	copyFile(t, newCert, certFile)
	copyFile(t, newKey, keyFile)
	waitServed(t, addr, second, "the renewed certificate")
	if len(log.find("INFO", "reloaded the TLS certificate")) != 1 {
		t.Errorf("the reload is not logged once at INFO:\n%s", log)
	}

	// Garbage, then a key that does not match: the renewed one stays.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * certCheckInterval)
	for range 3 {
		if !bytes.Equal(servedCert(t, addr), second) {
			t.Fatal("a garbage cert_file replaced the certificate served")
		}
		time.Sleep(certCheckInterval)
	}
	copyFile(t, newCert, certFile)
	otherCert, otherKey, _ := testcert.Write(t)
	copyFile(t, otherKey, keyFile)
	time.Sleep(3 * certCheckInterval)
	if !bytes.Equal(servedCert(t, addr), second) {
		t.Fatal("a mismatched key_file replaced the certificate served")
	}
	if n := len(log.find("WARN", "still serving the certificate loaded before")); n != 2 {
		t.Errorf("%d WARN lines for the two broken pairs, want 2 (once each):\n%s", n, log)
	}

	// The rest of the renewal arrives.
	copyFile(t, otherCert, certFile)
	waitServed(t, addr, derOf(t, otherCert), "the certificate of the later pair")
}

// A pair that does not load at start still stops the start.
func TestNewCertReloaderRefusesABadPair(t *testing.T) {
	certFile, _, _ := testcert.Write(t)
	_, otherKey, _ := testcert.Write(t)
	if _, err := newCertReloader(certFile, otherKey, nopLogger{}); err == nil {
		t.Fatal("a mismatched pair loaded")
	}
	if _, err := newCertReloader(certFile, filepath.Join(t.TempDir(), "missing.key"), nopLogger{}); err == nil {
		t.Fatal("a missing key loaded")
	}
}
