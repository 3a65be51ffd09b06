package segment

import (
	"bytes"
	"io"
	"sync"
)

// An attempt's request body is the largest allocation of the HTTP path
// after the mapped calls themselves (about a fifth of the bytes the
// pipeline allocates, measured in a heap profile of the bench's
// http-processor run), and it is dead once the transport has sent it. So
// bodies are built in pooled buffers, which go back to the pool only when
// the transport closes the body: a RoundTripper may still be writing it
// after RoundTrip returns (net/http's contract lets it close the body later,
// from another goroutine), so returning from RoundTrip proves nothing.

// bodyPool holds *[]byte buffers of at least minBodyCap bytes.
var bodyPool sync.Pool

// minBodyCap rounds small requests up, so that one buffer serves requests
// of different sizes rather than being dropped for the first larger one.
const minBodyCap = 64 << 10

// getBodyBuffer returns an empty buffer of capacity at least size.
func getBodyBuffer(size int) *[]byte {
	if p, ok := bodyPool.Get().(*[]byte); ok {
		if cap(*p) >= size {
			*p = (*p)[:0]
			return p
		}
		// Too small for this request: dropped, and a larger one takes its
		// place when this request's body is closed.
	}
	b := make([]byte, 0, max(size, minBodyCap))
	return &b
}

// requestBody reads a pooled buffer and gives it back on Close. Reads and
// Close are serialised: net/http may close a body from another goroutine
// while a write of it is failing, and a buffer must not be reused under a
// read still copying from it.
type requestBody struct {
	mu  sync.Mutex
	buf *[]byte // nil once closed
	r   bytes.Reader
}

func newRequestBody(buf *[]byte) *requestBody {
	b := &requestBody{buf: buf}
	b.r.Reset(*buf)
	return b
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, io.ErrClosedPipe
	}
	return b.r.Read(p)
}

// Close returns the buffer to the pool; a second Close does nothing.
func (b *requestBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		b.r.Reset(nil)
		bodyPool.Put(b.buf)
		b.buf = nil
	}
	return nil
}
