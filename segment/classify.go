package segment

import (
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
	// backoff (honouring Retry-After) up to the retry bound, then nacked so
	// Benthos sends it again. Never dropped.
	ClassTransient
	// ClassKeyRejected: 401 or 403, the write key is wrong or revoked. Logged
	// at ERROR (rate limited, by fingerprint), held and retried like a
	// transient failure: a key fixed in the Segment UI lets delivery resume.
	ClassKeyRejected
	// ClassPermanent: any other 3xx/4xx. Resending the same request cannot
	// succeed; the request's messages fail with the status and body so a
	// dead-letter output keeps them.
	ClassPermanent
	// ClassInvalid: refused before sending by Validate.
	ClassInvalid
	// ClassAborted: shutdown or a cancelled write interrupted delivery; the
	// message is nacked and replayed by the next run.
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
	case ClassPermanent:
		return "permanent"
	case ClassInvalid:
		return "invalid"
	case ClassAborted:
		return "aborted"
	}
	return "unknown"
}

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
	default:
		return ClassPermanent, Status4xx
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
	// Elapsed is the time from the first attempt to the verdict.
	Elapsed time.Duration
	// Source is the write key's fingerprint.
	Source string
	// Err is the last network error, if any.
	Err error
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	b.WriteString("segment: ")
	switch e.Class {
	case ClassPermanent:
		b.WriteString("request refused permanently")
	case ClassKeyRejected:
		b.WriteString("write key of source " + e.Source + " rejected, message held until the retry bound and nacked")
	case ClassTransient:
		b.WriteString("transient failure, message nacked after the retry bound")
	case ClassAborted:
		b.WriteString("delivery interrupted by shutdown before Segment accepted the message, nacked")
	default:
		b.WriteString(e.Class.String())
	}
	fmt.Fprintf(&b, " (%d attempts over %s", e.Attempts, e.Elapsed.Round(time.Millisecond))
	if e.Status != 0 {
		fmt.Fprintf(&b, ", last status %d %s", e.Status, http.StatusText(e.Status))
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

func excerpt(body []byte, writeKey string) string {
	s := string(body)
	if writeKey != "" {
		s = strings.ReplaceAll(s, writeKey, "<write key>")
	}
	s = strings.TrimSpace(s)
	if len(s) > maxBodyExcerpt {
		s = s[:maxBodyExcerpt] + "…(truncated)"
	}
	return s
}
