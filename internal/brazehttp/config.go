package brazehttp

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults for Config's zero values. The braze_currents input's spec shows
// them as its fields' defaults.
const (
	DefaultPath         = "/"
	DefaultMaxBodyBytes = 10 << 20
	DefaultMaxInFlight  = 64
	// Braze posts about 100 events a request: 64 requests of 100 fit in
	// DefaultMaxInFlightEvents with room to spare, and a request of ten
	// times the usual size is still taken whole.
	DefaultMaxInFlightEvents   = 10000
	DefaultMaxEventsPerRequest = 1000
	DefaultQueueTimeout        = 5 * time.Second
	DefaultAckTimeout          = 30 * time.Second
	DefaultRetryAfter          = 5 * time.Second
	DefaultWarnLogInterval     = time.Minute

	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	// Above DefaultQueueTimeout + DefaultAckTimeout, as New requires, with
	// room left for reading the body and writing the answer.
	DefaultWriteTimeout    = 90 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

// Config sets up a Handler and the Server that Listen runs for it. Zero
// values take the defaults above, except Token: an empty Token is refused
// unless AllowUnauthenticated is set.
//
// New's errors name the settings as the braze_currents input's fields
// (max_events_per_request, write_timeout, ...), the names the handler's
// answers and log lines use too: they are the names an operator knows.
type Config struct {
	// Path is the path Braze posts to; only it (and ReadyPath) is served.
	Path string
	// Token is the bearer token Braze's connector is configured with.
	Token string
	// AllowUnauthenticated accepts requests without checking any token.
	AllowUnauthenticated bool
	// MaxBodyBytes bounds the body as sent and after gzip decoding.
	MaxBodyBytes int64
	// MaxInFlight bounds the requests being read, queued or in the
	// pipeline at once (until their delivery is resolved, even when it was
	// answered already); past it requests get 429.
	MaxInFlight int
	// MaxInFlightEvents bounds the events of the requests held at once, as
	// MaxInFlight bounds requests; past it requests get 429.
	MaxInFlightEvents int
	// MaxEventsPerRequest bounds the events of one request; past it the
	// request gets 413 (Braze splits the batch). At most MaxInFlightEvents,
	// and by default DefaultMaxEventsPerRequest capped by it.
	MaxEventsPerRequest int
	// QueueTimeout is how long a valid request waits for the consumer to
	// take it (Next) before it gets 503.
	QueueTimeout time.Duration
	// AckTimeout is how long a taken request waits for its Delivery to be
	// resolved before it gets 503; also how long a readiness probe waits
	// before another is sent.
	AckTimeout time.Duration
	// RetryAfter is the Retry-After of 429 and 503 answers, rounded up to
	// whole seconds.
	RetryAfter time.Duration
	// WarnLogInterval rate-limits the WARN lines for refused requests
	// (authentication failures, malformed and oversize bodies, backpressure,
	// undelivered requests, readiness probes): at most one of each kind per
	// interval, the rest at DEBUG.
	WarnLogInterval time.Duration

	// CertFile and KeyFile, PEM files set together, make Listen serve
	// HTTPS. They are loaded by New, so that a missing or mismatched file
	// stops the start rather than every attempt to listen.
	CertFile, KeyFile string
	// Timeouts are those of the server Listen runs; a handler served some
	// other way (httptest) ignores them, but New checks them all the same.
	Timeouts Timeouts

	Logger   Logger
	Observer Observer
}

// Timeouts are the Server's: the http.Server's connection timeouts, and how
// long Shutdown waits for answers being written.
type Timeouts struct {
	ReadHeader time.Duration
	Read       time.Duration
	// Write runs from the end of the request's headers to the end of its
	// answer, so it must exceed QueueTimeout + AckTimeout: otherwise an
	// undelivered request is cut off instead of answered 503.
	Write    time.Duration
	Idle     time.Duration
	Shutdown time.Duration
}

// withDefaults returns c with every zero value replaced by its default.
func (c Config) withDefaults() Config {
	c.Path = orDefault(c.Path, DefaultPath)
	c.MaxBodyBytes = orDefault(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.MaxInFlight = orDefault(c.MaxInFlight, DefaultMaxInFlight)
	c.MaxInFlightEvents = orDefault(c.MaxInFlightEvents, DefaultMaxInFlightEvents)
	// Never above the in-flight limit, which a request must fit in.
	c.MaxEventsPerRequest = orDefault(c.MaxEventsPerRequest, min(DefaultMaxEventsPerRequest, c.MaxInFlightEvents))
	c.QueueTimeout = orDefault(c.QueueTimeout, DefaultQueueTimeout)
	c.AckTimeout = orDefault(c.AckTimeout, DefaultAckTimeout)
	c.RetryAfter = orDefault(c.RetryAfter, DefaultRetryAfter)
	c.WarnLogInterval = orDefault(c.WarnLogInterval, DefaultWarnLogInterval)
	c.Timeouts.ReadHeader = orDefault(c.Timeouts.ReadHeader, DefaultReadHeaderTimeout)
	c.Timeouts.Read = orDefault(c.Timeouts.Read, DefaultReadTimeout)
	c.Timeouts.Write = orDefault(c.Timeouts.Write, DefaultWriteTimeout)
	c.Timeouts.Idle = orDefault(c.Timeouts.Idle, DefaultIdleTimeout)
	c.Timeouts.Shutdown = orDefault(c.Timeouts.Shutdown, DefaultShutdownTimeout)
	if c.Logger == nil {
		c.Logger = nopLogger{}
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// check enforces the rules of a Config with its defaults applied: the only
// place they are enforced (the braze_currents input's lint rule repeats the
// cross-field ones as hints before start).
func (c Config) check() error {
	switch {
	case c.Token == "" && !c.AllowUnauthenticated:
		// An unset environment variable resolves to an empty token: it must
		// not turn authentication off.
		return errors.New("no bearer_token: set bearer_token to the token Braze's Currents connector sends, or set allow_unauthenticated: true to accept requests without a token (an empty bearer_token counts as none: is its environment variable set?)")
	case c.Token != "" && c.AllowUnauthenticated:
		return errors.New("bearer_token and allow_unauthenticated: true cannot be combined: remove one")
	}
	if !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("path %q must start with /", c.Path)
	}
	if c.Path == ReadyPath {
		return fmt.Errorf("path %q is the readiness endpoint; choose another path", c.Path)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("cert_file and key_file must be set together")
	}
	for _, l := range []struct {
		name  string
		value int64
	}{
		{"max_body_bytes", c.MaxBodyBytes},
		{"max_in_flight_requests", int64(c.MaxInFlight)},
		{"max_in_flight_events", int64(c.MaxInFlightEvents)},
		{"max_events_per_request", int64(c.MaxEventsPerRequest)},
	} {
		if l.value < 0 {
			return fmt.Errorf("%s must be positive, got %d", l.name, l.value)
		}
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"queue_timeout", c.QueueTimeout},
		{"ack_timeout", c.AckTimeout},
		{"retry_after", c.RetryAfter},
		{"read_header_timeout", c.Timeouts.ReadHeader},
		{"read_timeout", c.Timeouts.Read},
		{"write_timeout", c.Timeouts.Write},
		{"idle_timeout", c.Timeouts.Idle},
		{"shutdown_timeout", c.Timeouts.Shutdown},
	} {
		if d.value < 0 {
			return fmt.Errorf("%s must be a positive duration, got %s", d.name, d.value)
		}
	}
	if c.MaxEventsPerRequest > c.MaxInFlightEvents {
		return fmt.Errorf("max_events_per_request (%d) must not exceed max_in_flight_events (%d): a request with more events than fit in flight would be answered 429 forever",
			c.MaxEventsPerRequest, c.MaxInFlightEvents)
	}
	if c.Timeouts.Write <= c.QueueTimeout+c.AckTimeout {
		return fmt.Errorf("write_timeout (%s) must exceed queue_timeout + ack_timeout (%s): otherwise an undelivered request is cut off instead of answered 503",
			c.Timeouts.Write, c.QueueTimeout+c.AckTimeout)
	}
	return nil
}
