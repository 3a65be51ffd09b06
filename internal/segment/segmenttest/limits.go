package segmenttest

// Segment's documented limits for the HTTP Tracking API. They are exported so
// that the code which builds batches can cite the same numbers the receiver
// enforces, and a test that trips one of them fails here the way it would
// fail against api.segment.io.
const (
	// MaxMessageBytes is the largest JSON encoding of a single message
	// (32 KB, read as 32 KiB). A batch holding a larger message is refused as
	// a whole with 400. analytics-go refuses messages over 32,000 bytes on its
	// own side, so a client using it never reaches the gap between the two.
	MaxMessageBytes = 32 * 1024

	// MaxBatchBytes is the largest request body (500 KB, read as 500 KiB =
	// 512,000 bytes). For a gzip-encoded request it bounds the decompressed
	// body, which also keeps a compression bomb from costing memory.
	MaxBatchBytes = 500 * 1024

	// MaxBatchMessages is the largest number of messages in one /v1/batch
	// request.
	MaxBatchMessages = 2500
)

// maxDrainBytes bounds how much of an oversize body the receiver reads and
// throws away before answering. Reading the rest lets the client finish
// writing and see the 400 instead of a connection reset; the bound keeps a
// runaway client from holding the handler forever.
const maxDrainBytes = 8 << 20
