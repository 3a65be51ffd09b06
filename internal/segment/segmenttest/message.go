package segmenttest

import (
	"encoding/json"
	"net/http"
	"time"
)

// Message is one message the receiver accepted: the raw JSON as the client
// sent it, where and when it arrived, and the fields tests look at most often,
// decoded so that a test does not have to unmarshal Raw again.
type Message struct {
	// ID is the message's messageId, the key Segment deduplicates on. It is
	// empty when the client sent none; such messages are never deduplicated.
	ID string `json:"messageId"`
	// WriteKey is the Basic-auth user name of the request that carried it.
	WriteKey string `json:"writeKey"`
	// SentAt is the batch's sentAt (for /v1/track, the message's own), as sent.
	SentAt string `json:"sentAt,omitempty"`
	// Received is when the request carrying the message arrived.
	Received time.Time `json:"receivedAt"`

	Type        string `json:"type,omitempty"`
	Event       string `json:"event,omitempty"`
	UserID      string `json:"userId,omitempty"`
	AnonymousID string `json:"anonymousId,omitempty"`
	// Timestamp is kept as the client wrote it, so a test can check the
	// format as well as the instant.
	Timestamp string `json:"timestamp,omitempty"`

	// Raw is the message exactly as it appeared in the request. It is shared
	// between copies of the Message: do not modify it.
	Raw json.RawMessage `json:"raw"`
}

// Request is one HTTP request the receiver answered (or chose not to answer),
// kept so a test can check what a client really put on the wire: headers,
// body, retries and the status each attempt got.
type Request struct {
	Received time.Time
	Method   string
	Path     string
	// Header is the request's header without Authorization.
	Header http.Header
	// WriteKey is the Basic-auth user name, empty when there was none.
	WriteKey string
	// Body is the request body after gzip decoding, cut at MaxBatchBytes. It
	// is nil when the receiver runs with Config.CountOnly.
	Body []byte
	// Status is the status answered, or 0 when no answer was written: the
	// connection was dropped on purpose, or the client went away during an
	// injected delay.
	Status int
	// Error is the reason given with an error status, if any.
	Error string
	// Faulted reports that an injected fault or a rule decided the answer.
	Faulted bool
	// Messages is how many messages the body held (0 when it did not parse);
	// Accepted and Duplicates split those of an accepted request into new
	// ones and repeats of a messageId already seen.
	Messages   int
	Accepted   int
	Duplicates int
	// Duration is the time from arrival to answer.
	Duration time.Duration
}
