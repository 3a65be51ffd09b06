package segmenttest

import (
	"errors"
	"net"
	"net/http"
	"time"
)

// DefaultAddress is where Start listens when given no address: loopback
// only, on a free port, so a test or demo never exposes the receiver.
const DefaultAddress = "127.0.0.1:0"

// Start returns a Receiver for cfg serving on addr (DefaultAddress when
// empty). Close stops it.
func Start(addr string, cfg Config) (*Receiver, error) {
	if addr == "" {
		addr = DefaultAddress
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	rc := New(cfg)
	rc.ln = ln
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	rc.served = make(chan struct{})
	go func() {
		defer close(rc.served)
		_ = rc.srv.Serve(ln)
	}()
	return rc, nil
}

// URL returns the origin the receiver listens on, such as
// http://127.0.0.1:41234, without a path: analytics-go appends /v1/batch
// itself. It is "" for a Receiver made by New.
func (rc *Receiver) URL() string {
	if rc.ln == nil {
		return ""
	}
	return "http://" + rc.ln.Addr().String()
}

// Close stops a Receiver made by Start, closing open connections so that
// requests held by an injected delay end at once. Recorded data stays
// readable. It is safe to call more than once, and a no-op for New.
func (rc *Receiver) Close() error {
	if rc.srv == nil {
		return nil
	}
	rc.closeOnce.Do(func() {
		err := rc.srv.Close()
		<-rc.served
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			rc.closeErr = err
		}
	})
	return rc.closeErr
}
