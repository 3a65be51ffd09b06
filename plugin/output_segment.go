package plugin

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cenkalti/backoff/v4"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/componentname"
	"github.com/currents-segment/currents-segment/internal/segment"
)

const (
	sofFieldWriteKey         = "write_key"
	sofFieldSource           = "source"
	sofFieldRegion           = "region"
	sofFieldEndpoint         = "endpoint"
	sofFieldTimeout          = "timeout"
	sofFieldBackoff          = "backoff"
	sofFieldMaxRetryDuration = "max_retry_duration" // deprecated: backoff.max_elapsed_time
	sofFieldBatching         = "batching"

	// segmentDefaultPeriod is the default batch period, also forced on a
	// policy that counts messages but has no period: without one, a partial
	// retry can wait forever for the batch to fill. It is the longest a call
	// waits in a batch that does not fill, and with braze_currents Braze's
	// request waits with it: at the end of every burst, and for every
	// request under light load. 1s was the old default and the end of each
	// burst waited out most of it; 100ms still lets a stream fill batches by
	// count (250 calls take a few ms at the rates measured), and bounds the
	// extra Segment requests of a trickle at 10 a second per instance,
	// against Segment's 1,000 a second per workspace.
	segmentDefaultPeriod = "100ms"
)

// Metric names of the segment output.
const (
	metricSegMsgsSent     = "segment_messages_sent"
	metricSegMsgsAccepted = "segment_messages_accepted"
	metricSegMsgsFailed   = "segment_messages_failed"
	metricSegReqsSent     = "segment_requests_sent"
	metricSegReqsFailed   = "segment_requests_failed"
	metricSegReqsSplit    = "segment_requests_split"
	metricSegLatency      = "segment_request_latency_ns"
	metricSegInFlight     = "segment_messages_in_flight"
	metricSegKeyRejected  = "segment_write_key_rejected"
)

func segmentOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Sends Segment track calls (JSON messages, e.g. from `currents_to_segment`) to Segment's HTTP Tracking API, acknowledging only what Segment accepted.").
		Description(`
Each message must be one Segment track call as JSON, for example
`+"`"+`{"type":"track","event":"Email Sent","messageId":"…","userId":"u-1","timestamp":"2026-11-28T13:00:00Z","properties":{…}}`+"`"+`.
It is sent byte for byte: `+"`timestamp`, `messageId`, `context`, `properties` and `integrations`"+` are never re-encoded.

Messages are checked before sending (JSON object, `+"`type: track`"+`, non-empty `+"`event`"+`, `+"`userId` or `anonymousId`"+`,
`+"`messageId`"+` of at most 100 characters, at most 32,000 bytes, a write key that is neither empty nor `+"`null`"+`); a
message that breaks a rule is failed on its own and never sent.

Messages are batched by the `+"`batching`"+` policy (250 messages or 1s by default); a batch is sent in requests of at
most 2,500 messages and 500,000 bytes. Batching never merges outcomes: when part of a batch fails, each message
keeps its own verdict, and a `+"`fallback`"+` or `+"`switch`"+` output around this one sees exactly the messages that were not
accepted, each with its own reason in `+"`fallback_error`"+`, never a message Segment accepted (even when a batch
holds messages of several upstream transactions, such as several Braze requests).

A write returns only once every message is accepted (2xx) or failed:

- network errors, timeouts, 408, 429 and 5xx are retried with backoff, honouring `+"`Retry-After`"+`, until Segment accepts
  the messages: a `+"`file`"+` or `+"`stdin`"+` input, which Benthos does not replay nacks to, loses nothing;
- 401 and 403 (write key rejected) are logged at ERROR at most once a minute per source, counted in
  `+"`segment_write_key_rejected`"+`, and held and retried the same way: a key fixed in Segment lets delivery resume;
- a redirect or any other 4xx that is not about the messages (404, 405, …) says the endpoint is wrong: logged at ERROR
  and held the same way, so a mistake in `+"`endpoint`"+` never sends good events to a dead letter;
- 400, 413 and 422 refuse a request for its content: the request is halved, and the halves sent on their own, until
  the refused messages are alone (at most ⌈log2 n⌉ splits for a request of n messages, counted in
  `+"`segment_requests_split`"+`). Only a message refused on its own fails, with the status and the start of Segment's
  answer, for a dead-letter output to keep; a 413 never fails a message unless it is refused even alone.

`+"`backoff.max_elapsed_time`"+` can bound the holding; messages then fail after it and are nacked back to the input, which
suits only inputs that replay nacks (`+"`braze_currents`"+`, the `+"`disk`"+` buffer). On shutdown, messages not yet accepted
are nacked, never acked; the binary then exits with code 3 and says how many. Segment deduplicates on `+"`messageId`"+`,
so a replay of an accepted message is harmless.

The text of every error that belongs in a dead letter contains `+"`request refused permanently`"+` (Segment refused it)
or `+"`invalid Segment track`"+` (refused before sending); every other failure is delivered again.

Metrics: `+"`segment_messages_sent`, `segment_messages_accepted`, `segment_messages_failed` (label `class`: 4xx, 401, 429, 5xx, network, invalid, aborted), `segment_requests_sent`, `segment_requests_failed` (label `class`), `segment_requests_split` (label `status`: 400, 413, 422), `segment_request_latency_seconds` (a histogram in seconds), `segment_messages_in_flight`, `segment_write_key_rejected`"+`.`).
		Fields(
			service.NewInterpolatedStringField(sofFieldWriteKey).
				Description("The write key of the Segment source to send to. It is a secret: it never appears in logs, errors, metrics or `echo` output. It may be interpolated per message, so one pipeline can feed several Segment sources: messages share requests only with messages of the same key. A key that resolves to an empty string or to `null` (what `env()` gives for an unset variable) fails the message, for the dead letter, naming its source.").
				Examples("${SEGMENT_WRITE_KEY}", `${! env("SEGMENT_WRITE_KEY_" + @segment_source) }`).
				Secret(),
			service.NewInterpolatedStringField(sofFieldSource).
				Description("A name for the Segment source a message goes to, used in logs and errors instead of a fingerprint of its write key. It is not a secret: never interpolate the key itself here.").
				Example(`${! @segment_source }`).
				Optional(),
			service.NewStringEnumField(sofFieldRegion, "us", "eu").
				Description("The region of the Segment workspace: `us` sends to `https://api.segment.io`, `eu` to `https://events.eu1.segmentapis.com`. Data sent to the wrong region is rejected. Ignored when `endpoint` is set (not empty).").
				Example("eu").
				Default("us"),
			service.NewStringField(sofFieldEndpoint).
				// No Example on this optional field: `create` would write it in,
				// pointing the output at a receiver that is not there.
				Description("An origin that replaces the region's, for a Segment-compatible receiver (RudderStack data plane, Jitsu, a local test receiver), for example `https://hosted.rudderlabs.com/v1/batch` or `http://127.0.0.1:8765`. `/v1/batch` is appended; a trailing slash, `/v1` or `/v1/batch` in the value is accepted and removed. Empty (as `create` writes it) uses `region`.").
				Optional(),
			service.NewDurationField(sofFieldTimeout).
				Description("The limit on one HTTP attempt, from connecting to reading the answer. An attempt that times out is retried like any transient failure.").
				Example("30s").
				Default(segment.DefaultTimeout.String()),
			service.NewBackOffField(sofFieldBackoff, true, &backoff.ExponentialBackOff{
				InitialInterval: segment.DefaultInitialBackoff, MaxInterval: segment.DefaultMaxBackoff, MaxElapsedTime: 0,
			}).
				Description("The wait between the attempts of a request that failed transiently or whose write key or endpoint was rejected, when the answer carries no `Retry-After` (which is honoured even when longer): doubling from `initial_interval` to `max_interval`, with ±50% jitter. `max_elapsed_time` bounds how long a request is retried before its messages are nacked back to the input; `0s`, the default, retries until Segment accepts them. Bound it only with an input that replays nacks (`braze_currents`, the `disk` buffer): Benthos does not replay nacks to `file` or `stdin`, so a bound there gives events up (the binary then exits with code 3 and counts them).").
				Advanced(),
			service.NewDurationField(sofFieldMaxRetryDuration).
				Description("Deprecated: `backoff.max_elapsed_time`, which it sets when that is `0s`.").
				Default("0s").
				Deprecated(),
			service.NewOutputMaxInFlightField().Default(8),
			service.NewBatchPolicyField(sofFieldBatching).
				Default(map[string]any{"count": 250, "period": segmentDefaultPeriod, "byte_size": 0, "check": "", "processors": []any{}}),
		).
		// The messages never quote endpoint: a key pasted into it would leak.
		LintRule(`
let endpoint = this.endpoint.or("")
root = [].merge(
  if this.exists("endpoint") && this.region.or("us") != "us" { [ "endpoint overrides region: set only one of them" ] } else { [] }
).merge(
  if $endpoint.contains("?") || $endpoint.contains("#") { [ "endpoint must not carry a query or fragment: nothing goes after the path (the write key goes in write_key)" ] } else { [] }
).merge(
  if $endpoint.re_match("^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*@") { [ "endpoint must not carry credentials: the write key goes in write_key" ] } else { [] }
)
`).
		Example("Send Currents events to Segment",
			"Convert Braze Currents events and send them to a Segment source in the EU region.",
			`
output:
  segment:
    write_key: ${SEGMENT_WRITE_KEY}
    region: eu
`).
		Example("Dead-letter what Segment refuses",
			"Messages Segment refuses for their content (and messages failing validation) go to a file with the reason; everything else is retried until delivered, so the last case only sees messages interrupted by shutdown, which it nacks.",
			`
output:
  fallback:
    - segment:
        write_key: ${SEGMENT_WRITE_KEY}
    - switch:
        cases:
          - check: '@fallback_error.or("").contains("request refused permanently") || @fallback_error.or("").contains("invalid Segment track")'
            output:
              file:
                path: ./dead-letter.jsonl
                codec: lines
              processors:
                - mapping: 'root = content().string().parse_json().assign({"_dead_letter_reason": @fallback_error})'
          - output:
              reject: '${! @fallback_error }'
`)
}

func init() {
	err := service.RegisterBatchOutput(componentname.SegmentOutput, segmentOutputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (out service.BatchOutput, policy service.BatchPolicy, maxInFlight int, err error) {
			if maxInFlight, err = conf.FieldMaxInFlight(); err != nil {
				return
			}
			if policy, err = conf.FieldBatchPolicy(sofFieldBatching); err != nil {
				return
			}
			if policy.Period == "" && (policy.Count > 1 || policy.ByteSize > 0) {
				policy.Period = segmentDefaultPeriod
			}
			out, err = newSegmentOutputFromParsed(conf, mgr)
			return
		})
	if err != nil {
		panic(err)
	}
}

func newSegmentOutputFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*segmentOutput, error) {
	writeKey, err := conf.FieldInterpolatedString(sofFieldWriteKey)
	if err != nil {
		return nil, err
	}
	var endpoint string
	if conf.Contains(sofFieldEndpoint) {
		if endpoint, err = conf.FieldString(sofFieldEndpoint); err != nil {
			return nil, err
		}
		if strings.TrimSpace(endpoint) != "" {
			if endpoint, err = segment.NormalizeEndpoint(endpoint); err != nil {
				return nil, fmt.Errorf("field %s: %w", sofFieldEndpoint, err)
			}
		}
	}
	if endpoint == "" {
		region, err := conf.FieldString(sofFieldRegion)
		if err != nil {
			return nil, err
		}
		if endpoint, err = segment.RegionEndpoint(region); err != nil {
			return nil, fmt.Errorf("field %s: %w", sofFieldRegion, err)
		}
	}
	cfg := segment.Config{Endpoint: endpoint, Logger: mgr.Logger()}
	if cfg.Timeout, err = conf.FieldDuration(sofFieldTimeout); err != nil {
		return nil, err
	}
	bo, err := conf.FieldBackOff(sofFieldBackoff)
	if err != nil {
		return nil, err
	}
	cfg.InitialBackoff, cfg.MaxBackoff, cfg.MaxRetryDuration = bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime
	if cfg.MaxRetryDuration == 0 {
		if cfg.MaxRetryDuration, err = conf.FieldDuration(sofFieldMaxRetryDuration); err != nil {
			return nil, err
		}
	}

	m := mgr.Metrics()
	o := &segmentOutput{
		writeKey:      writeKey,
		log:           mgr.Logger(),
		run:           runTallyOf(mgr),
		mMsgsSent:     m.NewCounter(metricSegMsgsSent),
		mMsgsAccepted: m.NewCounter(metricSegMsgsAccepted),
		mMsgsFailed:   m.NewCounter(metricSegMsgsFailed, "class"),
		mReqsSent:     m.NewCounter(metricSegReqsSent),
		mReqsFailed:   m.NewCounter(metricSegReqsFailed, "class"),
		mReqsSplit:    m.NewCounter(metricSegReqsSplit, "status"),
		mLatency:      m.NewTimer(metricSegLatency),
		mInFlight:     m.NewGauge(metricSegInFlight),
		mKeyRejected:  m.NewCounter(metricSegKeyRejected),
	}
	// Every series at 0 from the start: increase() > 0 alerts then fire on
	// the first failure (a series that appears with 1 has no increase yet).
	for _, c := range []*service.MetricCounter{o.mMsgsSent, o.mMsgsAccepted, o.mReqsSent, o.mKeyRejected} {
		c.Incr(0)
	}
	for _, class := range []string{segment.Status4xx, segment.Status401, segment.Status429, segment.Status5xx, segment.StatusNetwork} {
		o.mMsgsFailed.Incr(0, class)
		o.mReqsFailed.Incr(0, class)
	}
	o.mMsgsFailed.Incr(0, segment.StatusInvalid)
	o.mMsgsFailed.Incr(0, segment.StatusAborted)
	for _, status := range []string{"400", "413", "422"} {
		o.mReqsSplit.Incr(0, status)
	}
	o.mInFlight.Set(0)
	if conf.Contains(sofFieldSource) {
		if o.source, err = conf.FieldInterpolatedString(sofFieldSource); err != nil {
			return nil, err
		}
	}
	o.writeKeyValue, o.staticKey = writeKey.Static()
	if o.staticKey {
		if k := strings.TrimSpace(o.writeKeyValue); k == "" || k == "null" {
			return nil, fmt.Errorf("field %s is empty: set the Segment source's write key (for example write_key: ${SEGMENT_WRITE_KEY} with that variable set)", sofFieldWriteKey)
		}
	}
	o.run.addOutput()
	cfg.Observer = o
	o.cfg = cfg
	// The Sender checks the configuration (and owns its defaults): a mistake
	// fails the start here rather than every Connect. It holds no goroutine
	// until it sends.
	if o.sender, err = segment.NewSender(cfg); err != nil {
		return nil, err
	}
	return o, nil
}

// segmentOutput adapts segment.Sender to Benthos: it resolves write keys,
// validates, and turns per-message verdicts into a BatchError, metrics and
// the run's tally.
type segmentOutput struct {
	writeKey *service.InterpolatedString
	// writeKeyValue is the key when it has no interpolations (staticKey).
	writeKeyValue string
	staticKey     bool
	source        *service.InterpolatedString
	cfg           segment.Config
	log           *service.Logger
	run           *runTally

	mu     sync.Mutex
	sender *segment.Sender

	inFlight atomic.Int64

	mMsgsSent, mMsgsAccepted, mMsgsFailed            *service.MetricCounter
	mReqsSent, mReqsFailed, mReqsSplit, mKeyRejected *service.MetricCounter
	mLatency                                         *service.MetricTimer
	mInFlight                                        *service.MetricGauge
}

// Attempt implements segment.Observer.
func (o *segmentOutput) Attempt(statusClass string, messages int, latencyNanos int64) {
	o.mReqsSent.Incr(1)
	o.mMsgsSent.Incr(int64(messages))
	o.mLatency.Timing(latencyNanos)
	if statusClass != segment.Status2xx {
		o.mReqsFailed.Incr(1, statusClass)
	}
}

// KeyRejected implements segment.Observer.
func (o *segmentOutput) KeyRejected(string) { o.mKeyRejected.Incr(1) }

// Split implements segment.Observer.
func (o *segmentOutput) Split(status int) { o.mReqsSplit.Incr(1, strconv.Itoa(status)) }

func (o *segmentOutput) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sender != nil {
		return nil
	}
	s, err := segment.NewSender(o.cfg)
	if err != nil {
		return err
	}
	o.sender = s
	return nil
}

func (o *segmentOutput) getSender() *segment.Sender {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sender
}

func (o *segmentOutput) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	sender := o.getSender()
	if sender == nil {
		return service.ErrNotConnected
	}
	n := int64(len(batch))
	o.mInFlight.Set(o.inFlight.Add(n))
	defer func() { o.mInFlight.Set(o.inFlight.Add(-n)) }()

	errs := make([]error, len(batch))
	msgs := make([]segment.Message, 0, len(batch))
	idx := make([]int, 0, len(batch))
	for i, msg := range batch {
		m, err := o.prepare(msg)
		if err != nil {
			errs[i] = err
			continue
		}
		msgs = append(msgs, m)
		idx = append(idx, i)
	}
	for j, err := range sender.Send(ctx, msgs) {
		errs[idx[j]] = err
	}

	var failed, deadLettered int64
	for _, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if segment.ClassOf(err).DeadLetter() {
			deadLettered++
		}
		o.mMsgsFailed.Incr(1, segment.StatusClassOf(err))
	}
	accepted := int64(len(batch)) - failed
	if accepted > 0 {
		o.mMsgsAccepted.Incr(accepted)
	}
	o.run.delivered(accepted, deadLettered, failed-deadLettered)
	return batchError(batch, fmt.Sprintf("segment: %d of %d messages not accepted (%d for the dead letter); each message's error says why", failed, len(batch), deadLettered), errs)
}

// prepare resolves msg's write key and source; the Sender validates it.
func (o *segmentOutput) prepare(msg *service.Message) (segment.Message, error) {
	raw, err := msg.AsBytes()
	if err != nil {
		return segment.Message{}, &segment.ValidationError{Rule: segment.RuleJSONObject, Detail: err.Error(), Err: err}
	}
	// The Sender validates every message (the rule lives there) but a
	// call currents_to_segment built and nothing changed since; a message
	// is read here only when its write key fails, to name it.
	m := segment.Message{Raw: raw, Conforms: isConformingCall(msg, raw)}
	if o.source != nil {
		if m.Source, err = o.source.TryString(msg); err != nil {
			m.Source = ""
		}
	}
	if o.staticKey {
		m.WriteKey = o.writeKeyValue
		return m, nil
	}
	var detail string
	if m.WriteKey, err = o.writeKey.TryString(msg); err != nil {
		detail = "the write_key interpolation failed for " + sourceName(m.Source) + ": " + err.Error()
	} else {
		switch strings.TrimSpace(m.WriteKey) {
		case "":
			detail = "no write key for " + sourceName(m.Source) + ": write_key resolved to an empty string; is the source's key variable set?"
		case "null":
			detail = "no write key for " + sourceName(m.Source) + `: write_key resolved to null, which is what env() gives for an unset environment variable; is the source's key variable set?`
		}
	}
	if detail == "" {
		return m, nil
	}
	// An invalid message is refused for what it is, before its key.
	t, verr := segment.Validate(raw)
	if verr != nil {
		return m, verr
	}
	return m, &segment.ValidationError{Rule: segment.RuleWriteKey, MessageID: t.MessageID, Event: t.Event, Detail: detail}
}

// sourceName names a source in an error about its key, which cannot be
// fingerprinted when it is missing.
func sourceName(source string) string {
	if source == "" {
		return "this message's source"
	}
	return "source " + strconv.Quote(source)
}

func (o *segmentOutput) Close(ctx context.Context) error {
	o.mu.Lock()
	s := o.sender
	o.sender = nil
	o.mu.Unlock()
	if s != nil {
		s.Close()
	}
	return nil
}
