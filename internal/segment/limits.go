package segment

// Limits of Segment's HTTP Tracking API that the output enforces before a
// message is sent. They are the numbers analytics-go itself uses (32,000 and
// 500,000 bytes), which are a little below Segment's documented "32 KB" and
// "500 KB", so that a message accepted here is never refused downstream.
const (
	// MaxMessageBytes is the largest JSON encoding of one message.
	MaxMessageBytes = 32000
	// MaxRequestBytes is the largest body of one /v1/batch request.
	MaxRequestBytes = 500000
	// MaxBatchMessages is the largest number of messages in one request.
	MaxBatchMessages = 2500
	// MaxMessageIDLength is the longest messageId Segment deduplicates on.
	MaxMessageIDLength = 100
)

// requestOverheadBytes is reserved in every request for the batch envelope
// around the messages: {"batch":[...],"context":{...},"messageId":"...",
// "sentAt":"..."}. analytics-go's envelope is about 150 bytes; the reserve is
// generous so the byte budget never depends on its exact size.
const requestOverheadBytes = 1024

// MaxBatchBytes is the most message bytes (with their separators) one
// request carries: the request limit less the envelope's reserve.
const MaxBatchBytes = MaxRequestBytes - requestOverheadBytes
