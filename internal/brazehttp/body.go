package brazehttp

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
)

// bodyError is why a body could not be read, with the status that tells
// Braze what to do: 413 split the batch, 400 the sender's own mistake (Braze
// splits, then drops what is refused again), 503 a failure of the connection
// (retry as is). Telling the sender's mistakes from the connection's matters:
// Braze retries a 5xx for 24 hours, so a malformed body answered 503 is resent
// for a day, and never gets better.
type bodyError struct {
	status int
	reason string
	err    error // the read or decode error behind reason, if any
}

func (e *bodyError) Error() string { return e.reason }
func (e *bodyError) Unwrap() error { return e.err }

// wire is the request body as it arrives, recording how its reading ended,
// so that a failure of the gzip decoder reading from it can be told apart
// from a failure of the connection under it: a stream cut short is the
// sender's fault when the body ended cleanly, the network's when it did not.
type wire struct {
	r   io.Reader
	n   int64 // bytes read
	err error // the first error the body returned, io.EOF included
}

func (w *wire) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.n += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// failed reports the body's own error: nil when it ended cleanly or has not
// ended yet.
func (w *wire) failed() error {
	if w.err == io.EOF {
		return nil
	}
	return w.err
}

// readBody reads the body within limit, as sent and once decoded, and
// decodes gzip when Content-Encoding says so.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *bodyError) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit, fmt.Sprintf("it is %d bytes as sent", r.ContentLength))
	}
	src := &wire{r: http.MaxBytesReader(w, r.Body, limit)}
	chunked := len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		size := 512
		if r.ContentLength > 0 {
			size = int(r.ContentLength) + 1 // +1: EOF is seen without growing
		}
		body, err := appendAll(make([]byte, 0, size), io.LimitReader(src, limit+1))
		if err != nil {
			// The body is the only source of errors here.
			return nil, wireErr(err, chunked, limit)
		}
		if int64(len(body)) > limit {
			return nil, tooLarge(limit, "")
		}
		return body, nil
	case "gzip", "x-gzip":
		return gunzip(src, chunked, limit)
	default:
		if len(enc) > 40 {
			enc = enc[:40] + "..."
		}
		return nil, &bodyError{status: http.StatusUnsupportedMediaType,
			reason: fmt.Sprintf("Content-Encoding %q is not supported: send gzip or no encoding", enc)}
	}
}

// gunzip decodes a gzip body within limit. Members concatenated one after
// the other are one stream (RFC 1952, section 2.2), as gzip -d reads them;
// anything else after the last member is garbage and refused, rather than
// silently ignored.
func gunzip(src *wire, chunked bool, limit int64) ([]byte, *bodyError) {
	br := bufio.NewReader(src)
	zr, err := gzip.NewReader(br)
	if err != nil {
		if werr := src.failed(); werr != nil {
			return nil, wireErr(werr, chunked, limit)
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil, notGzip("the body is empty", err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, notGzip(fmt.Sprintf("the body (%d bytes) is too short for a gzip header", src.n), err)
		}
		return nil, gzipErr(err)
	}
	defer zr.Close()
	body := make([]byte, 0, 4096)
	for {
		zr.Multistream(false)
		body, err = appendAll(body, &io.LimitedReader{R: zr, N: limit + 1 - int64(len(body))})
		if werr := src.failed(); werr != nil {
			return nil, wireErr(werr, chunked, limit)
		}
		if err != nil {
			return nil, gzipErr(err)
		}
		if int64(len(body)) > limit {
			return nil, tooLarge(limit, "once gzip-decoded")
		}
		// The member ended: the body must end too, or go on with another.
		if _, err := br.Peek(1); err != nil {
			if werr := src.failed(); werr != nil {
				return nil, wireErr(werr, chunked, limit)
			}
			return body, nil
		}
		at := src.n - int64(br.Buffered())
		if err := zr.Reset(br); err != nil {
			if werr := src.failed(); werr != nil {
				return nil, wireErr(werr, chunked, limit)
			}
			return nil, notGzip(fmt.Sprintf("unexpected data after the end of the gzip stream, at byte %d of the body", at), err)
		}
	}
}

func tooLarge(limit int64, how string) *bodyError {
	if how != "" {
		how = " (" + how + ")"
	}
	return &bodyError{status: http.StatusRequestEntityTooLarge,
		reason: fmt.Sprintf("the body exceeds %d bytes%s; max_body_bytes counts it as sent and after gzip decoding: split the batch", limit, how)}
}

func notGzip(why string, err error) *bodyError {
	return &bodyError{status: http.StatusBadRequest,
		reason: "the body is not valid gzip although Content-Encoding says so: " + why, err: err}
}

// gzipErr explains an error of the decoder, once the body is known to have
// arrived whole: every one of them is a property of the bytes sent.
func gzipErr(err error) *bodyError {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return notGzip("the gzip stream is cut short (the body ends before the stream does)", err)
	case errors.Is(err, gzip.ErrHeader):
		return notGzip("it does not start with a gzip header", err)
	case errors.Is(err, gzip.ErrChecksum):
		return notGzip("the gzip checksum or length does not match the data", err)
	case errors.As(err, &corrupt):
		return notGzip(fmt.Sprintf("the compressed data is corrupt at byte %d of the stream", int64(corrupt)), err)
	}
	return notGzip(err.Error(), err)
}

// wireErr classifies an error of the request body itself. The connection's
// failures (a timeout, a reset, a body shorter than its Content-Length) get
// 503, so Braze resends the batch as is; a framing the sender got wrong
// (invalid chunked encoding) gets 400, as resending it cannot help.
func wireErr(err error, chunked bool, limit int64) *bodyError {
	var mb *http.MaxBytesError
	var ne net.Error
	var errno syscall.Errno
	switch {
	case errors.As(err, &mb):
		return tooLarge(limit, "")
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return &bodyError{status: http.StatusServiceUnavailable, err: err,
			reason: "the body did not arrive within read_timeout: " + err.Error()}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ne), errors.As(err, &errno),
		errors.Is(err, net.ErrClosed), errors.Is(err, http.ErrBodyReadAfterClose),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &bodyError{status: http.StatusServiceUnavailable, err: err,
			reason: "the connection failed while the body was read (resend it as is): " + err.Error()}
	case chunked:
		// net/http's chunked reader reports framing errors as plain errors
		// ("invalid byte in chunk length", "malformed chunked encoding"):
		// what is neither the connection's nor the limit's is the framing.
		return &bodyError{status: http.StatusBadRequest, err: err,
			reason: "invalid chunked transfer encoding: " + err.Error()}
	}
	return &bodyError{status: http.StatusServiceUnavailable, err: err,
		reason: "could not read the request body: " + err.Error()}
}

// appendAll reads r to its end into b, as io.ReadAll does, but appending
// to a buffer sized by the caller (Content-Length when known), so a body is
// not copied through a chain of doubling slices.
func appendAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				return b, nil
			}
			return b, err
		}
	}
}
