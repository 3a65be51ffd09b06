package brazehttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
)

// Server serves a Handler on a listening socket, with the handler's
// Config.Timeouts and, when Config.CertFile is set, over TLS.
type Server struct {
	h   *Handler
	srv *http.Server
	ln  net.Listener
	err chan error
}

// loadTLS loads the certificate New was given, nil when there is none: a
// pair that does not load stops the start. Listen serves it through a
// certReloader (tlsreload.go).
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading cert_file and key_file: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Listen binds addr and starts serving h on it. The http.Server's own
// complaints (TLS handshake failures, malformed requests) go to h's Logger
// at DEBUG.
func Listen(addr string, h *Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	t := h.cfg.Timeouts
	s := &Server{
		h:   h,
		ln:  ln,
		err: make(chan error, 1),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: t.ReadHeader,
			ReadTimeout:       t.Read,
			WriteTimeout:      t.Write,
			IdleTimeout:       t.Idle,
			ErrorLog:          log.New(debugWriter{h.log}, "", 0),
		},
	}
	if h.tls != nil {
		// New checked the pair; the server serves it through a reloader,
		// so a renewed certificate is picked up without a restart, and a
		// broken renewal is logged while the old one stays.
		certs, err := newCertReloader(h.cfg.CertFile, h.cfg.KeyFile, h.log)
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		conf := h.tls.Clone()
		conf.Certificates = nil
		conf.GetCertificate = certs.GetCertificate
		s.srv.TLSConfig = conf
		ln = tls.NewListener(ln, conf)
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
	if s.h.tls != nil {
		scheme = "https"
	}
	return scheme + "://" + s.ln.Addr().String() + s.h.Path()
}

// Shutdown closes the handler (requests still waiting for an outcome get
// 503), stops accepting connections and waits, until ctx is done or
// Timeouts.Shutdown passed, for the answers being written; then it closes
// what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.h.Close()
	ctx, cancel := context.WithTimeout(ctx, s.h.cfg.Timeouts.Shutdown)
	defer cancel()
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
