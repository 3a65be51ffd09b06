package brazehttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// ErrClosed is returned by Next once the handler is closed.
var ErrClosed = errors.New("brazehttp: handler closed")

// Batch is one accepted request: the envelope and where it came from.
type Batch struct {
	// RequestID is generated for the request and returned in X-Request-Id.
	RequestID string
	// RemoteAddr is the peer address (a load balancer's, behind one).
	RemoteAddr string
	// Version is the Braze-Currents-Version header, "" when absent.
	Version string
	// Events is the length of the envelope's "events" array.
	Events int
	// Body is the envelope, gzip-decoded.
	Body []byte
	// Probe marks a readiness probe (see ProbeConsumer): no request is
	// behind it and nobody is answered; pass it through the pipeline like
	// any batch and resolve it.
	Probe bool
}

// Delivery is a Batch handed to the consumer, who must Resolve it once
// every event was delivered (nil) or could not be (an error).
type Delivery struct {
	Batch
	result chan error
	done   func(error) // instead of result, for probes
	ticket *ticket     // the request's share of the in-flight budgets
	once   sync.Once
}

// Resolve reports the outcome; only the first call counts. It never blocks,
// and may come after the request was already answered (too late to matter
// to Braze, but it frees the request's share of the in-flight limits).
func (d *Delivery) Resolve(err error) {
	d.once.Do(func() {
		// Released first, so that a request Braze sends right after this
		// answer finds the room this one leaves.
		if d.ticket != nil {
			d.ticket.release()
		}
		if d.done != nil {
			d.done(err)
			return
		}
		d.result <- err
	})
}

// Next blocks until a request (or a readiness probe) is ready for the
// consumer, ctx is done (its error is returned) or the handler is closed
// (ErrClosed).
func (h *Handler) Next(ctx context.Context) (*Delivery, error) {
	select {
	case d := <-h.queue:
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.closed:
		return nil, ErrClosed
	}
}

// deliver hands d to the consumer within QueueTimeout, waits up to
// AckTimeout for its outcome and answers the request. It owns d's ticket:
// released here unless the consumer took d, whose Resolve releases it then.
func (h *Handler) deliver(w http.ResponseWriter, r *http.Request, d *Delivery) string {
	taken := false
	defer func() {
		if !taken {
			d.ticket.release()
		}
	}()
	id, events := d.RequestID, d.Events

	queueTimer := time.NewTimer(h.cfg.QueueTimeout)
	defer queueTimer.Stop()
	select {
	case h.queue <- d:
		taken = true
	case <-queueTimer.C:
		return h.undelivered(w, r, id, events, fmt.Sprintf("the pipeline did not take the request within %s", h.cfg.QueueTimeout))
	case <-h.draining:
		return h.retryLater(w, id, http.StatusServiceUnavailable, "shutting down")
	case <-r.Context().Done():
		return StatusClientClosed
	}
	h.obs.Received(events)

	ackTimer := time.NewTimer(h.cfg.AckTimeout)
	defer ackTimer.Stop()
	var result error
	select {
	case result = <-d.result:
	case <-ackTimer.C:
		result = fmt.Errorf("not delivered within %s", h.cfg.AckTimeout)
	case <-h.closed:
		select {
		case result = <-d.result:
		default:
			result = errors.New("shut down before delivery")
		}
	case <-r.Context().Done():
		h.log.Debugf("Request %s: the client went away before its %d events were delivered", id, events)
		return StatusClientClosed
	}
	if result != nil {
		return h.undelivered(w, r, id, events, result.Error())
	}
	return h.ok(w, id, events)
}
