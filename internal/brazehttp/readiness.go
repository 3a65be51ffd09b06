package brazehttp

import (
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// ProbeBody is the envelope a readiness probe carries. It holds no events,
// so a pipeline that splits envelopes into events (currents_to_segment)
// turns it into nothing, which acknowledges it without anything reaching an
// output.
const ProbeBody = `{"events":[]}`

// The probe is retried after a nack with a backoff doubling between these
// bounds (see newProbeWait).
const (
	probeRetryMin = 100 * time.Millisecond
	probeRetryMax = 5 * time.Second
)

// SetReady makes the readiness endpoint answer 200 (unless draining) and
// lets requests through. ProbeConsumer calls it once the pipeline proved it
// takes batches; call it directly only when nothing stands behind the
// consumer.
func (h *Handler) SetReady() { h.ready.Store(true) }

// Ready reports whether the handler takes requests.
func (h *Handler) Ready() bool {
	if !h.ready.Load() {
		return false
	}
	select {
	case <-h.draining:
		return false
	case <-h.closed:
		return false
	default:
		return true
	}
}

func (h *Handler) serveReady(w http.ResponseWriter) {
	if h.Ready() {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready"})
}

// ProbeConsumer makes the handler ready once the pipeline behind the
// consumer proved it takes a batch: it offers a probe Delivery (Probe set,
// body ProbeBody) through Next, and turns ready when the consumer resolves
// one without error. Until then the readiness endpoint and every request get
// 503.
//
// Why a probe rather than SetReady when the consumer starts reading: the
// consumer (a Benthos input) is started before what is behind it (a disk
// buffer opening and checking a large backlog, the pipeline, the outputs),
// and reads before they can take anything. A probe that went through them
// and was acknowledged is the only proof that needs no cooperation from any
// of them; with a disk buffer, the acknowledgement means committed to disk.
// A process whose later components fail to start never acknowledges it, so
// it never answers ready.
//
// A nacked probe is retried with backoff; one not resolved within
// AckTimeout is followed by another (the first may still be acknowledged
// later, which counts too). It stops once ready, draining or closed.
func (h *Handler) ProbeConsumer() {
	h.probeOnce.Do(func() { go h.probe() })
}

func (h *Handler) probe() {
	start := time.Now()
	// Any probe's acknowledgement counts, a late one included; a nack counts
	// only for the probe being waited for.
	acked := make(chan struct{})
	backoffs := newProbeWait()
	for attempt := 1; ; attempt++ {
		d := &Delivery{Batch: Batch{
			RequestID: "readiness-probe-" + newRequestID(),
			Probe:     true,
			Body:      []byte(ProbeBody),
		}}
		nacked := make(chan error, 1) // Resolve runs once: never blocks
		d.done = func(err error) {
			if err == nil {
				h.probeAcked.Do(func() { close(acked) })
				return
			}
			nacked <- err
		}
		select {
		case h.queue <- d:
		case <-acked:
			h.probeReady(start, attempt-1)
			return
		case <-h.draining:
			return
		}

		timer := time.NewTimer(h.cfg.AckTimeout)
		select {
		case <-acked:
			timer.Stop()
			h.probeReady(start, attempt)
			return
		case err := <-nacked:
			timer.Stop()
			wait := backoffs.NextBackOff()
			h.warn("probe", func(l Logger, note string) {
				l.Warnf("The pipeline refused the readiness probe (attempt %d): %v; /ready stays 503, retrying in %s%s", attempt, err, wait, note)
			}, func(l Logger) {
				l.Debugf("The pipeline refused the readiness probe (attempt %d): %v; retrying in %s", attempt, err, wait)
			})
			select {
			case <-time.After(wait):
			case <-acked:
				h.probeReady(start, attempt)
				return
			case <-h.draining:
				return
			}
		case <-timer.C:
			h.warn("probe", func(l Logger, note string) {
				l.Warnf("The pipeline has not acknowledged the readiness probe within %s (attempt %d, %s since start): /ready stays 503 until it does; sending another%s", h.cfg.AckTimeout, attempt, time.Since(start).Round(time.Millisecond), note)
			}, func(l Logger) {
				l.Debugf("The pipeline has not acknowledged the readiness probe within %s (attempt %d)", h.cfg.AckTimeout, attempt)
			})
		case <-h.draining:
			timer.Stop()
			return
		}
	}
}

// newProbeWait is the wait before a nacked probe is sent again: the
// exponential backoff the rest of the project uses (Benthos's own), without
// jitter (one probe at a time) and without an end (the probe goes on until
// ready or draining).
func newProbeWait() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval: probeRetryMin,
		Multiplier:      2,
		MaxInterval:     probeRetryMax,
		Stop:            backoff.Stop,
		Clock:           backoff.SystemClock,
	}
	b.Reset()
	return b
}

func (h *Handler) probeReady(start time.Time, attempts int) {
	h.SetReady()
	h.log.Infof("The pipeline acknowledged the readiness probe after %s (%d attempts): taking Braze Currents batches, /ready answers 200", time.Since(start).Round(time.Millisecond), max(attempts, 1))
}
