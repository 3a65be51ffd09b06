package brazehttp

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certCheckInterval is how often, at most, a TLS handshake rereads
// cert_file and key_file to see whether they were replaced. Certificates
// are renewed days before they expire (cert-manager, certbot), so a few
// seconds' delay costs nothing, and two small reads every few seconds under
// load cost nothing either. A variable so that tests can shorten it.
var certCheckInterval = 5 * time.Second

// certReloader serves the certificate of a cert_file/key_file pair to each
// TLS handshake, and picks up a renewed pair without a restart: the files are
// reread when certCheckInterval has passed since the last look, and loaded
// when their content changed. A pair that does not load (a half-written
// renewal, a key that does not match, garbage) is logged once and the
// certificate served so far stays.
//
// Content, not modification time: a renewal written within the mtime's
// granularity, or a Kubernetes secret volume swapping a symlink, keeps or
// resets mtimes; comparing the bytes is exact and the files are small.
type certReloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               Logger
	now               func() time.Time

	mu              sync.Mutex
	cert            *tls.Certificate
	certPEM, keyPEM []byte // the content last looked at, loaded or not
	checked         time.Time
	problem         string // the last reload failure logged, to log it once
}

// newCertReloader loads the pair once: a pair that does not load at start is
// an error, as before reloading existed.
func newCertReloader(certFile, keyFile string, log Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, interval: certCheckInterval, log: log, now: time.Now}
	certPEM, keyPEM, err := r.read()
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading cert_file and key_file: %w", err)
	}
	r.cert, r.certPEM, r.keyPEM, r.checked = &cert, certPEM, keyPEM, r.now()
	return r, nil
}

func (r *certReloader) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(r.certFile); err != nil {
		return nil, nil, fmt.Errorf("loading cert_file and key_file: %w", err)
	}
	if keyPEM, err = os.ReadFile(r.keyFile); err != nil {
		return nil, nil, fmt.Errorf("loading cert_file and key_file: %w", err)
	}
	return certPEM, keyPEM, nil
}

// GetCertificate is the tls.Config hook: the current certificate, after a
// look at the files when one is due. The look happens on the handshake's
// goroutine, under the lock, so concurrent handshakes wait for one read.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= r.interval {
		r.checked = now
		r.reload()
	}
	return r.cert, nil
}

// reload loads the files when their content changed since the last look.
// Called with r.mu held.
func (r *certReloader) reload() {
	certPEM, keyPEM, err := r.read()
	if err != nil {
		// Missing for a moment during a renewal, or gone: the next look
		// tries again, and the certificate loaded stays meanwhile.
		r.fail(err)
		return
	}
	if bytes.Equal(certPEM, r.certPEM) && bytes.Equal(keyPEM, r.keyPEM) {
		return
	}
	r.certPEM, r.keyPEM = certPEM, keyPEM
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// Remembered as looked at: not parsed again until the files
		// change, such as when the other half of a renewal is written.
		r.fail(fmt.Errorf("loading cert_file and key_file: %w", err))
		return
	}
	r.cert, r.problem = &cert, ""
	r.log.Infof("Braze Currents input: reloaded the TLS certificate from %s and %s", r.certFile, r.keyFile)
}

func (r *certReloader) fail(err error) {
	if msg := err.Error(); msg != r.problem {
		r.problem = msg
		r.log.Warnf("Braze Currents input: %v; still serving the certificate loaded before", err)
	}
}
