package segment

import (
	"fmt"
	"strings"
)

// Logger is the logging the delivery code needs. *service.Logger from
// Benthos satisfies it, as does a test recorder.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}

// analyticsLogger adapts Logger to analytics.Logger (a nil
// analytics.StdLogger would panic). analytics-go's own error lines describe
// its internal view ("N messages dropped because they failed to be sent"),
// which is wrong here: the transport has already given the real verdict, and
// the output nacks rather than drops. Those lines go to DEBUG; anything else
// it calls an error (a recovered panic, a marshalling failure) stays a
// warning. Every line is scrubbed of the write key.
type analyticsLogger struct {
	l   Logger
	red *keyRedactor
}

func (a analyticsLogger) scrub(format string, args []any) string {
	return a.red.redact(fmt.Sprintf(format, args...))
}

func (a analyticsLogger) Logf(format string, args ...any) {
	a.l.Debugf("analytics-go: %s", a.scrub(format, args))
}

func (a analyticsLogger) Errorf(format string, args ...any) {
	s := a.scrub(format, args)
	if strings.HasPrefix(s, "sending request") || strings.Contains(s, "messages dropped because") {
		a.l.Debugf("analytics-go: %s", s)
		return
	}
	a.l.Warnf("analytics-go: %s", s)
}

// Observer receives delivery measurements; the Benthos output turns them
// into metrics. Methods are called from many goroutines.
type Observer interface {
	// Attempt is called after each HTTP attempt with its status label
	// (Status2xx…StatusNetwork), the messages it carried and its latency.
	Attempt(statusClass string, messages int, latencyNanos int64)
	// KeyRejected is called for each attempt answered 401/403.
	KeyRejected(source string)
	// Split is called each time a request of several messages refused with
	// status (400, 413, 422) is halved to isolate the refused messages.
	Split(status int)
}

type nopObserver struct{}

func (nopObserver) Attempt(string, int, int64) {}
func (nopObserver) KeyRejected(string)         {}
func (nopObserver) Split(int)                  {}
