package segment

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// request is one /v1/batch request's worth of messages of one write key.
type request struct {
	key, source string
	items       []item
	bytes       int // of the messages, with their separators
	// red removes the key from every text about the request.
	red *keyRedactor
}

// item is one message of a request and where its verdict goes.
type item struct {
	raw      []byte
	idx      int
	conforms bool // Message.Conforms: not validated again
}

// deliver sends r until every message in it has a verdict, and gives each
// its verdict. A request refused for its content (400, 413, 422) is halved
// and each half delivered on its own, so that only the refused messages
// fail: a request of n messages is split at most ⌈log2 n⌉ times on the way
// to any one message. splits is how many times r's messages were split
// already.
func (s *Sender) deliver(ctx context.Context, r *request, splits int, results []error) {
	v := s.attempts(ctx, r)
	if v != nil && v.Class == ClassPermanent && len(r.items) > 1 {
		s.cfg.Observer.Split(v.Status)
		s.logf(r, levelDebug, "segment: %s refused a request of %d messages of source %s with %d; splitting it to find the refused ones",
			s.cfg.Endpoint, len(r.items), r.source, v.Status)
		h := len(r.items) / 2
		s.deliver(ctx, &request{key: r.key, source: r.source, items: r.items[:h], red: r.red}, splits+1, results)
		s.deliver(ctx, &request{key: r.key, source: r.source, items: r.items[h:], red: r.red}, splits+1, results)
		return
	}
	var err error
	if v != nil {
		v.Splits = splits
		if v.Class == ClassPermanent {
			if v.Status == http.StatusRequestEntityTooLarge {
				v.Err = fmt.Errorf("refused with 413 even alone: the endpoint takes no request with this %d-byte message", len(r.items[0].raw))
			}
			s.logRefused(r, v)
		}
		err = v
	}
	for _, it := range r.items {
		results[it.idx] = err
	}
}

// attempts sends r until it gets a verdict: nil for 2xx, else a
// *DeliveryError. Transient failures, a rejected key and a rejected
// endpoint are retried with backoff, honouring Retry-After, until accepted,
// until ctx is done, or until MaxRetryDuration when it is set.
func (s *Sender) attempts(ctx context.Context, r *request) *DeliveryError {
	cfg := &s.cfg
	raws := make([][]byte, len(r.items))
	for i, it := range r.items {
		raws[i] = it.raw
	}
	n := len(raws)
	start := time.Now()
	wait := s.newBackoff()
	last := &DeliveryError{Source: r.source}
	aborted := func() *DeliveryError {
		last.Class, last.Err, last.Elapsed = ClassAborted, context.Cause(ctx), time.Since(start)
		if last.StatusClass == "" {
			last.StatusClass = StatusAborted
		}
		return last
	}
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return aborted()
		}
		res := s.post(ctx, r.key, r.red, raws)
		if ctx.Err() != nil {
			return aborted()
		}
		class, label := Classify(res.status, res.err)
		if !res.notSent {
			last.Attempts++
			cfg.Observer.Attempt(label, n, int64(res.latency))
		}
		last.Status, last.StatusClass, last.Err = res.status, label, res.err
		last.Body = excerpt(res.body, r.red)
		last.Elapsed = time.Since(start)
		switch class {
		case ClassAccepted:
			if attempt > 1 {
				s.logRecovered(r, last)
			}
			return nil
		case ClassPermanent:
			last.Class = ClassPermanent
			return last
		case ClassKeyRejected:
			cfg.Observer.KeyRejected(r.source)
		}
		s.logRetrying(r, class, last)

		delay := wait.NextBackOff()
		if ra := ParseRetryAfter(res.header.Get("Retry-After"), time.Now()); ra > 0 {
			delay = ra
		}
		giveUp := false
		if cfg.MaxRetryDuration > 0 {
			// Never retry before Retry-After, never hold longer than the
			// bound: wait out what is left, then hand the messages back.
			if remaining := time.Until(start.Add(cfg.MaxRetryDuration)); delay >= remaining {
				delay, giveUp = max(remaining, 0), true
			}
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return aborted()
		}
		if giveUp {
			last.Class, last.Elapsed = class, time.Since(start)
			s.logf(r, levelError, "segment: %d messages of source %s not accepted after %d attempts over %s (%s); the retry bound (backoff.max_elapsed_time) reached, handing them back to the input undelivered (an input that does not replay nacks, such as file or stdin, does not send them again)",
				n, r.source, last.Attempts, last.Elapsed.Round(time.Millisecond), describeFailure(last))
			return last
		}
	}
}

// describeFailure names the last failure of d: its status or its error.
func describeFailure(d *DeliveryError) string {
	if d.Err != nil {
		return d.Err.Error()
	}
	return strconv.Itoa(d.Status) + " " + http.StatusText(d.Status)
}

// logRetrying reports a request that failed and will be retried: a rejected
// key or endpoint at ERROR, a transient failure at WARN for its first two
// attempts and at ERROR after; each at most once per LogInterval per source
// and kind.
func (s *Sender) logRetrying(r *request, class Class, d *DeliveryError) {
	level := levelError
	if class == ClassTransient && d.Attempts < 3 {
		level = levelWarn
	}
	log := func(format string, args ...any) { s.logf(r, level, format, args...) }
	ok, held := s.logs.Allow(r.source + "|" + class.String() + "|" + strconv.Itoa(int(level)))
	if !ok {
		s.logf(r, levelDebug, "segment: attempt %d for %d messages of source %s failed: %s", d.Attempts, len(r.items), r.source, describeFailure(d))
		return
	}
	note := s.logs.Note(held)
	switch class {
	case ClassKeyRejected:
		log("segment: write key of source %s rejected with %s by %s; holding %d messages and retrying until it is accepted (fix the key or the region; nothing is dropped)%s",
			r.source, describeFailure(d), s.cfg.Endpoint, len(r.items), note)
	case ClassEndpointRejected:
		log("segment: %s answered %s to a request of %d messages of source %s: the endpoint looks wrong (check endpoint and region); holding the messages and retrying until it accepts them%s",
			s.cfg.Endpoint, describeFailure(d), len(r.items), r.source, note)
	default:
		log("segment: %d messages of source %s not accepted yet: %s (attempt %d, failing for %s); retrying with backoff until Segment accepts them, nothing is dropped%s",
			len(r.items), r.source, describeFailure(d), d.Attempts, d.Elapsed.Round(time.Millisecond), note)
	}
}

func (s *Sender) logRecovered(r *request, d *DeliveryError) {
	if ok, held := s.logs.Allow(r.source + "|recovered"); ok {
		s.logf(r, levelInfo, "segment: %d messages of source %s accepted after %d attempts over %s%s",
			len(r.items), r.source, d.Attempts, d.Elapsed.Round(time.Millisecond), s.logs.Note(held))
	}
}

func (s *Sender) logRefused(r *request, d *DeliveryError) {
	if ok, held := s.logs.Allow(r.source + "|refused"); ok {
		s.logf(r, levelWarn, "segment: %s refused %d messages of source %s with %s; they go to the dead letter with the answer: %s%s",
			s.cfg.Endpoint, len(r.items), r.source, describeFailure(d), d.Body, s.logs.Note(held))
	}
}

// Log levels of logf.
type logLevel int

const (
	levelDebug logLevel = iota
	levelInfo
	levelWarn
	levelError
)

// logf logs a line about r with its write key, in every form, redacted: the
// endpoint, an error or a quoted answer may hold it.
func (s *Sender) logf(r *request, level logLevel, format string, args ...any) {
	line := r.red.redact(fmt.Sprintf(format, args...))
	switch level {
	case levelDebug:
		s.cfg.Logger.Debugf("%s", line)
	case levelInfo:
		s.cfg.Logger.Infof("%s", line)
	case levelWarn:
		s.cfg.Logger.Warnf("%s", line)
	default:
		s.cfg.Logger.Errorf("%s", line)
	}
}

// newBackoff is the wait between the attempts of one request: Benthos's own
// exponential backoff (the library its backoff fields configure), doubling
// from InitialBackoff to MaxBackoff with ±50% jitter and no end of its own
// (MaxRetryDuration is the bound, checked by attempts).
func (s *Sender) newBackoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     s.cfg.InitialBackoff,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         s.cfg.MaxBackoff,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return b
}
