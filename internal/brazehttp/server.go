package brazehttp

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

// Timeouts are the http.Server's connection timeouts.
type Timeouts struct {
	ReadHeader time.Duration
	Read       time.Duration
	Write      time.Duration
	Idle       time.Duration
}

// Server serves a Handler on a listening socket.
type Server struct {
	h   *Handler
	srv *http.Server
	ln  net.Listener
	tls bool
	err chan error
}

// Listen binds addr and starts serving h on it, over TLS when tlsConf is
// not nil. errorLog receives the http.Server's own complaints (TLS
// handshake failures, malformed requests).
func Listen(addr string, h *Handler, t Timeouts, tlsConf *tls.Config, errorLog Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if errorLog == nil {
		errorLog = nopLogger{}
	}
	s := &Server{
		h:   h,
		ln:  ln,
		tls: tlsConf != nil,
		err: make(chan error, 1),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: t.ReadHeader,
			ReadTimeout:       t.Read,
			WriteTimeout:      t.Write,
			IdleTimeout:       t.Idle,
			ErrorLog:          log.New(debugWriter{errorLog}, "", 0),
		},
	}
	if tlsConf != nil {
		s.srv.TLSConfig = tlsConf
		ln = tls.NewListener(ln, tlsConf)
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.err <- err
	}()
	return s, nil
}

// Addr returns the address the server listens on, e.g. 127.0.0.1:41234.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the URL Braze should post to.
func (s *Server) URL() string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	return scheme + "://" + s.ln.Addr().String() + s.h.Path()
}

// Shutdown closes the handler (requests still waiting for an outcome get
// 503), stops accepting connections and waits, until ctx is done, for the
// answers being written; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.h.Close()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	if serveErr := <-s.err; serveErr != nil && err == nil {
		err = serveErr
	}
	s.err <- nil
	return err
}

type debugWriter struct{ l Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.l.Debugf("Braze Currents HTTP server: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}
