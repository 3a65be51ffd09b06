package segmenttest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// readBody reads the request body, decoding gzip, and enforces MaxBatchBytes
// on the decoded bytes. It always drains what is left of the body (up to
// maxDrainBytes) so that the client gets the answer rather than a reset.
// On error the bytes read so far are still returned, for the request record.
func readBody(r *http.Request) ([]byte, *apiError) {
	defer func() { _, _ = io.CopyN(io.Discard, r.Body, maxDrainBytes) }()

	var src io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, badRequest("invalid gzip body: %v", err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, badRequest("unsupported Content-Encoding %q", enc)
	}

	body, err := io.ReadAll(io.LimitReader(src, MaxBatchBytes+1))
	if err != nil {
		return body, badRequest("reading body: %v", err)
	}
	if len(body) > MaxBatchBytes {
		return body[:MaxBatchBytes], badRequest("request body over %d bytes", MaxBatchBytes)
	}
	return body, nil
}

// decodeBatch parses a /v1/batch body and enforces the per-request limits.
// A missing "batch" is refused: the receiver exists to catch client bugs, and
// a body without one is always a bug even if Segment would shrug it off.
func decodeBatch(body []byte) ([]Message, *apiError) {
	var p struct {
		Batch  []json.RawMessage `json:"batch"`
		SentAt json.RawMessage   `json:"sentAt"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, badRequest("invalid JSON: %v", err)
	}
	if p.Batch == nil {
		return nil, badRequest(`no "batch" array in body`)
	}
	if len(p.Batch) > MaxBatchMessages {
		return nil, badRequest("%d messages in batch, over %d", len(p.Batch), MaxBatchMessages)
	}
	sentAt := jsonText(p.SentAt)
	msgs := make([]Message, 0, len(p.Batch))
	for i, raw := range p.Batch {
		m, err := decodeMessage(raw)
		if err != nil {
			return nil, badRequest("message %d: %v", i, err)
		}
		m.SentAt = sentAt
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// decodeTrack parses a /v1/track body, which is a single message. The path
// names the type, so a message without one is recorded as a track.
func decodeTrack(body []byte) ([]Message, *apiError) {
	if !json.Valid(body) {
		return nil, badRequest("invalid JSON")
	}
	m, err := decodeMessage(bytes.TrimSpace(body))
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if m.Type == "" {
		m.Type = "track"
	}
	return []Message{m}, nil
}

// decodeMessage checks one message against MaxMessageBytes and decodes its
// common fields. Size is measured on the bytes as sent, which is what the
// API sees.
func decodeMessage(raw json.RawMessage) (Message, error) {
	if len(raw) > MaxMessageBytes {
		return Message{}, fmt.Errorf("%d bytes, over %d", len(raw), MaxMessageBytes)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return Message{}, fmt.Errorf("not a JSON object")
	}
	var f struct {
		MessageID   json.RawMessage `json:"messageId"`
		Type        json.RawMessage `json:"type"`
		Event       json.RawMessage `json:"event"`
		UserID      json.RawMessage `json:"userId"`
		AnonymousID json.RawMessage `json:"anonymousId"`
		Timestamp   json.RawMessage `json:"timestamp"`
		SentAt      json.RawMessage `json:"sentAt"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return Message{}, fmt.Errorf("invalid JSON: %v", err)
	}
	return Message{
		ID:          jsonText(f.MessageID),
		Type:        jsonText(f.Type),
		Event:       jsonText(f.Event),
		UserID:      jsonText(f.UserID),
		AnonymousID: jsonText(f.AnonymousID),
		Timestamp:   jsonText(f.Timestamp),
		SentAt:      jsonText(f.SentAt),
		Raw:         raw,
	}, nil
}

// jsonText renders a JSON value as text: a string's content, or the literal
// JSON of anything else (Segment accepts numeric user ids, so a test should
// see them rather than lose them), and "" for absent or null.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}
