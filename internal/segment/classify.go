package segment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class is what the output does with a message that was not accepted.
type Class int

const (
	// ClassAccepted: Segment answered 2xx; the message is acked.
	ClassAccepted Class = iota
	// ClassTransient: network error, timeout, 408, 429 or 5xx. Retried with
	// backoff (honouring Retry-After) until accepted, or until the optional
	// retry bound, then nacked. Never dropped.
	ClassTransient
	// ClassKeyRejected: 401 or 403, the write key is wrong or revoked. Logged
	// at ERROR (rate limited, by source), held and retried like a transient
	// failure: a key fixed in the Segment UI lets delivery resume.
	ClassKeyRejected
	// ClassEndpointRejected: a redirect or a 4xx that says nothing about the
	// messages (404, 405, 410, 415, …): the endpoint is wrong or something
	// in front of it refuses every request. Held and retried like a rejected
	// key, so a configuration mistake never sends good events to a dead
	// letter.
	ClassEndpointRejected
	// ClassPermanent: refused for the content of the request (400, 413,
	// 422). A request of several messages is split until the refused ones
	// are alone; a message refused on its own fails with the status and body
	// so that a dead-letter output keeps it.
	ClassPermanent
	// ClassInvalid: refused before sending by Validate or for its write key.
	ClassInvalid
	// ClassAborted: shutdown interrupted delivery; the message is nacked.
	ClassAborted
)

func (c Class) String() string {
	switch c {
	case ClassAccepted:
		return "accepted"
	case ClassTransient:
		return "transient"
	case ClassKeyRejected:
		return "key_rejected"
	case ClassEndpointRejected:
		return "endpoint_rejected"
	case ClassPermanent:
		return "permanent"
	case ClassInvalid:
		return "invalid"
	case ClassAborted:
		return "aborted"
	}
	return "unknown"
}

// DeadLetter reports whether a message that ended with class c belongs in a
// dead letter: Segment refused it for its content, or it breaks the API's
// rules. Every other failure is the pipeline's or the endpoint's, and the
// message is delivered again.
func (c Class) DeadLetter() bool { return c == ClassPermanent || c == ClassInvalid }

// Status class labels used in metrics.
const (
	Status2xx     = "2xx"
	Status4xx     = "4xx"
	Status401     = "401"
	Status429     = "429"
	Status5xx     = "5xx"
	StatusNetwork = "network"
	StatusInvalid = "invalid"
	StatusAborted = "aborted"
)

// Classify maps the outcome of one HTTP attempt to a Class and a metrics
// status label. err is the transport error (status is then ignored).
func Classify(status int, err error) (Class, string) {
	if err != nil {
		return ClassTransient, StatusNetwork
	}
	switch {
	case status >= 200 && status < 300:
		return ClassAccepted, Status2xx
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ClassKeyRejected, Status401
	case status == http.StatusTooManyRequests:
		return ClassTransient, Status429
	case status == http.StatusRequestTimeout:
		return ClassTransient, Status4xx
	case status >= 500:
		return ClassTransient, Status5xx
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge || status == http.StatusUnprocessableEntity:
		return ClassPermanent, Status4xx
	default:
		return ClassEndpointRejected, Status4xx
	}
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an HTTP
// date. It returns 0 when the value is absent, malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// DeliveryError is why a message was not accepted by Segment. Its text never
// holds the write key: response bodies are scrubbed and truncated.
type DeliveryError struct {
	Class Class
	// StatusClass is the metrics label of the last attempt (2xx…network).
	StatusClass string
	// Status is the last HTTP status, 0 for a network error or no attempt.
	Status int
	// Body is the start of the last response body, scrubbed of the key.
	Body string
	// Attempts is how many HTTP attempts were made for the request.
	Attempts int
	// Splits is how many times the message's request was halved (after a
	// 400 or 413) before this verdict.
	Splits int
	// Elapsed is the time from the first attempt to the verdict.
	Elapsed time.Duration
	// Source names the Segment source: the output's source name, or a
	// fingerprint of the write key.
	Source string
	// Err is the last network error, or why delivery stopped.
	Err error
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	b.WriteString("segment: ")
	switch e.Class {
	case ClassPermanent:
		b.WriteString("request refused permanently")
	case ClassKeyRejected:
		b.WriteString("write key of source " + e.Source + " rejected until the retry bound; handed back to the input undelivered")
	case ClassEndpointRejected:
		b.WriteString("endpoint refused every request until the retry bound; handed back to the input undelivered")
	case ClassTransient:
		b.WriteString("not accepted within the retry bound; handed back to the input undelivered")
	case ClassAborted:
		// Benthos cancels the write at shutdown; a deadline is the caller's.
		if errors.Is(e.Err, context.DeadlineExceeded) {
			b.WriteString("the write's deadline passed before Segment accepted the message; handed back to the input undelivered")
		} else {
			b.WriteString("shutdown interrupted delivery before Segment accepted the message; handed back to the input undelivered")
		}
	default:
		b.WriteString(e.Class.String())
	}
	switch {
	case e.Attempts == 0:
		b.WriteString(" (never sent")
	case e.Attempts == 1:
		b.WriteString(" (1 attempt")
	default:
		fmt.Fprintf(&b, " (%d attempts over %s", e.Attempts, e.Elapsed.Round(time.Millisecond))
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ", last status %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Splits > 0 {
		fmt.Fprintf(&b, ", isolated after splitting its request %d times", e.Splits)
	}
	b.WriteString(")")
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Body != "" {
		b.WriteString(": response body: " + e.Body)
	}
	return b.String()
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// ClassOf returns the Class of err: ClassInvalid for a *ValidationError, the
// DeliveryError's class, ClassAccepted for nil and ClassTransient otherwise.
func ClassOf(err error) Class {
	if err == nil {
		return ClassAccepted
	}
	var v *ValidationError
	if errors.As(err, &v) {
		return ClassInvalid
	}
	var d *DeliveryError
	if errors.As(err, &d) {
		return d.Class
	}
	return ClassTransient
}

// StatusClassOf returns the metrics label for err.
func StatusClassOf(err error) string {
	if err == nil {
		return Status2xx
	}
	var v *ValidationError
	if errors.As(err, &v) {
		return StatusInvalid
	}
	var d *DeliveryError
	if errors.As(err, &d) {
		if d.Class == ClassAborted && d.StatusClass == "" {
			return StatusAborted
		}
		return d.StatusClass
	}
	return StatusNetwork
}

// maxBodyExcerpt bounds the response body kept in errors and logs.
const maxBodyExcerpt = 512

func excerpt(body []byte, red *keyRedactor) string {
	s := strings.TrimSpace(red.redact(string(body)))
	if len(s) > maxBodyExcerpt {
		s = s[:maxBodyExcerpt] + "…(truncated)"
	}
	return s
}
