package brazehttp

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/currents-segment/currents-segment/internal/testcert"
)

func TestNewRefusesUnsafeConfigs(t *testing.T) {
	for _, c := range []Config{
		{},
		{Token: "t", AllowUnauthenticated: true},
		{Token: "t", Path: "ready"},
		{Token: "t", Path: ReadyPath},
		{Token: "t", MaxBodyBytes: -1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		} else if strings.Contains(err.Error(), "t\"") {
			t.Errorf("error quotes the token: %v", err)
		}
	}
	if _, err := New(Config{AllowUnauthenticated: true}); err != nil {
		t.Error(err)
	}
}

// New owns the rules: each refusal names the setting as the braze_currents
// input's field does and says what to change, without quoting the token.
func TestNewRules(t *testing.T) {
	const token = "brz-config-T0KEN"
	certFile, keyFile, _ := testcert.Write(t)
	for _, tc := range []struct {
		name string
		conf Config
		want string
	}{
		{"no token", Config{}, "no bearer_token: set bearer_token to the token Braze's Currents connector sends, or set allow_unauthenticated: true"},
		{"token and unauthenticated", Config{Token: token, AllowUnauthenticated: true}, "bearer_token and allow_unauthenticated: true cannot be combined"},
		{"relative path", Config{Token: token, Path: "currents"}, `path "currents" must start with /`},
		{"readiness path", Config{Token: token, Path: ReadyPath}, "is the readiness endpoint"},
		{"cert without key", Config{Token: token, CertFile: certFile}, "cert_file and key_file must be set together"},
		{"key without cert", Config{Token: token, KeyFile: keyFile}, "cert_file and key_file must be set together"},
		{"negative body limit", Config{Token: token, MaxBodyBytes: -1}, "max_body_bytes must be positive, got -1"},
		{"negative request limit", Config{Token: token, MaxInFlight: -2}, "max_in_flight_requests must be positive, got -2"},
		{"negative ack timeout", Config{Token: token, AckTimeout: -time.Second}, "ack_timeout must be a positive duration, got -1s"},
		{"negative shutdown timeout", Config{Token: token, Timeouts: Timeouts{Shutdown: -time.Second}}, "shutdown_timeout must be a positive duration"},
		{"per request above in flight", Config{Token: token, MaxInFlightEvents: 10, MaxEventsPerRequest: 11}, "max_events_per_request (11) must not exceed max_in_flight_events (10)"},
		{"write timeout too short", Config{Token: token, Timeouts: Timeouts{Write: 20 * time.Second}}, "write_timeout (20s) must exceed queue_timeout + ack_timeout (35s)"},
		{"write timeout equal", Config{Token: token, QueueTimeout: time.Second, AckTimeout: time.Second, Timeouts: Timeouts{Write: 2 * time.Second}}, "write_timeout (2s) must exceed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.conf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("the error quotes the token: %v", err)
			}
		})
	}

	// A file that cannot be loaded is refused by New, not at Listen, and
	// the cause stays reachable.
	_, err := New(Config{Token: token, CertFile: certFile + ".missing", KeyFile: keyFile})
	if err == nil || !strings.Contains(err.Error(), "loading cert_file and key_file") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing certificate: %v", err)
	}
	if _, err := New(Config{Token: token, CertFile: certFile, KeyFile: keyFile}); err != nil {
		t.Fatal(err)
	}
}

// Zero values take the defaults; New applies them before its checks.
func TestNewDefaults(t *testing.T) {
	h, err := New(Config{Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	c := h.cfg
	if c.Path != DefaultPath || c.MaxBodyBytes != DefaultMaxBodyBytes || c.MaxInFlight != DefaultMaxInFlight ||
		c.MaxInFlightEvents != DefaultMaxInFlightEvents || c.MaxEventsPerRequest != DefaultMaxEventsPerRequest ||
		c.QueueTimeout != DefaultQueueTimeout || c.AckTimeout != DefaultAckTimeout || c.RetryAfter != DefaultRetryAfter ||
		c.WarnLogInterval != DefaultWarnLogInterval || c.Logger == nil || c.Observer == nil {
		t.Errorf("handler defaults: %+v", c)
	}
	if c.Timeouts != (Timeouts{ReadHeader: DefaultReadHeaderTimeout, Read: DefaultReadTimeout, Write: DefaultWriteTimeout,
		Idle: DefaultIdleTimeout, Shutdown: DefaultShutdownTimeout}) {
		t.Errorf("server defaults: %+v", c.Timeouts)
	}
	if h.tls != nil || h.Unauthenticated() {
		t.Errorf("TLS %v, unauthenticated %v", h.tls, h.Unauthenticated())
	}
}

func TestNewRefusesAPerRequestLimitAboveTheInFlightLimit(t *testing.T) {
	if _, err := New(Config{Token: "t", MaxInFlightEvents: 10, MaxEventsPerRequest: 11}); err == nil {
		t.Fatal("accepted")
	}
	h, err := New(Config{Token: "t", MaxInFlightEvents: 500})
	if err != nil {
		t.Fatal(err)
	}
	if _, events, per := h.Limits(); events != 500 || per != 500 {
		t.Fatalf("limits %d %d: the default per-request limit is capped by the in-flight one", events, per)
	}
}
