package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/segment"
)

const (
	sofFieldWriteKey         = "write_key"
	sofFieldRegion           = "region"
	sofFieldEndpoint         = "endpoint"
	sofFieldTimeout          = "timeout"
	sofFieldBackoff          = "backoff"
	sofFieldBackoffInitial   = "initial_interval"
	sofFieldBackoffMax       = "max_interval"
	sofFieldMaxRetryDuration = "max_retry_duration"
	sofFieldMaxInFlight      = "max_in_flight"
	sofFieldBatching         = "batching"

	// segmentDefaultPeriod is forced on a batch policy that counts messages
	// but has no period: without one, a partial retry can wait forever for
	// the batch to fill.
	segmentDefaultPeriod = "1s"
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
`+"`messageId`"+` of at most 100 characters, at most 32,000 bytes); a message that breaks a rule is failed on its own and
never sent. Requests never exceed 2,500 messages or 500,000 bytes.

A batch write returns only once every message is accepted (2xx) or failed, and only failed messages are nacked,
each with its reason, which a `+"`fallback`"+` output passes on in the `+"`fallback_error`"+` metadata:

- network errors, timeouts, 408, 429 and 5xx are retried with backoff, honouring `+"`Retry-After`"+`, for up to
  `+"`max_retry_duration`"+`, then nacked so Benthos delivers them again; they are never dropped;
- 401 and 403 (write key rejected) are logged at ERROR at most once a minute per source, naming a fingerprint of the
  key (never the key), counted in `+"`segment_write_key_rejected`"+`, and held and retried like transient failures;
- any other 4xx is permanent: the request's messages fail at once with the status and the start of the response body,
  for a dead-letter output to keep.

On shutdown, messages not yet accepted are nacked, never acked, and are replayed by the next run. Segment
deduplicates on `+"`messageId`"+`, so a replay of an accepted message is harmless.

Metrics: `+"`segment_messages_sent`, `segment_messages_accepted`, `segment_messages_failed` (label `class`: 4xx, 401, 429, 5xx, network, invalid, aborted), `segment_requests_sent`, `segment_requests_failed` (label `class`), `segment_request_latency_ns`, `segment_messages_in_flight`, `segment_write_key_rejected`"+`.`).
		Fields(
			service.NewInterpolatedStringField(sofFieldWriteKey).
				Description("The write key of the Segment source to send to. It is a secret: it never appears in logs, errors, metrics or `echo` output. It may be interpolated per message, so one pipeline can feed several Segment sources; a batch is grouped by key and each group is sent with its own requests.").
				Examples("${SEGMENT_WRITE_KEY}", `${! meta("segment_write_key") }`).
				Secret().
				LintRule(`root = if (this.type() == "string") && (this.trim() == "") { [ "write_key must not be empty" ] }`),
			service.NewStringEnumField(sofFieldRegion, "us", "eu").
				Description("The region of the Segment workspace: `us` sends to `https://api.segment.io`, `eu` to `https://events.eu1.segmentapis.com`. Data sent to the wrong region is rejected. Ignored when `endpoint` is set.").
				Example("eu").
				Default("us"),
			service.NewStringField(sofFieldEndpoint).
				Description("An origin that replaces the region's, for a Segment-compatible receiver (RudderStack data plane, Jitsu, a local test receiver). `/v1/batch` is appended; a trailing slash, `/v1` or `/v1/batch` in the value is accepted and removed.").
				Examples("http://localhost:8080", "https://hosted.rudderlabs.com/v1/batch").
				Optional(),
			service.NewDurationField(sofFieldTimeout).
				Description("The limit on one HTTP attempt, from connecting to reading the answer. An attempt that times out is retried like any transient failure.").
				Example("30s").
				Default("10s"),
			service.NewObjectField(sofFieldBackoff,
				service.NewDurationField(sofFieldBackoffInitial).
					Description("The wait after the first failed attempt; it doubles after each further failure, with jitter.").
					Example("100ms").
					Default("500ms"),
				service.NewDurationField(sofFieldBackoffMax).
					Description("The longest wait between two attempts. A `Retry-After` answer is honoured even when longer, within `max_retry_duration`.").
					Example("30s").
					Default("10s"),
			).
				Description("The wait between attempts of a request that failed transiently or whose write key was rejected, when the answer carries no `Retry-After`.").
				Advanced(),
			service.NewDurationField(sofFieldMaxRetryDuration).
				Description("How long one request is retried for transient failures or a rejected write key before its messages are nacked back to Benthos, which then delivers them again (nothing is dropped). It bounds how long a batch is held, and so how soon a `fallback` output sees a failure.").
				Example("5m").
				Default("1m"),
			service.NewOutputMaxInFlightField().Default(8),
			service.NewBatchPolicyField(sofFieldBatching).
				Default(map[string]any{"count": 250, "period": segmentDefaultPeriod, "byte_size": 0, "check": "", "processors": []any{}}),
		).
		LintRule(`root = if this.exists("endpoint") && (this.region.or("us") != "us") { [ "endpoint overrides region: set only one of them" ] }`).
		Example("Send Currents events to Segment",
			"Convert Braze Currents events and send them to a Segment source in the EU region.",
			`
output:
  segment:
    write_key: ${SEGMENT_WRITE_KEY}
    region: eu
`).
		Example("Dead-letter permanent failures",
			"Messages Segment refuses for good (and messages failing validation) go to a file with the reason; transient failures go back to the input to be retried.",
			`
output:
  fallback:
    - segment:
        write_key: ${SEGMENT_WRITE_KEY}
    - switch:
        cases:
          - check: '@fallback_error.or("").contains("segment: request refused permanently") || @fallback_error.or("").contains("invalid Segment track")'
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
	err := service.RegisterBatchOutput("segment", segmentOutputSpec(),
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
		if endpoint, err = segment.NormalizeEndpoint(endpoint); err != nil {
			return nil, fmt.Errorf("field %s: %w", sofFieldEndpoint, err)
		}
	} else {
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
	if cfg.InitialBackoff, err = conf.FieldDuration(sofFieldBackoff, sofFieldBackoffInitial); err != nil {
		return nil, err
	}
	if cfg.MaxBackoff, err = conf.FieldDuration(sofFieldBackoff, sofFieldBackoffMax); err != nil {
		return nil, err
	}
	if cfg.MaxRetryDuration, err = conf.FieldDuration(sofFieldMaxRetryDuration); err != nil {
		return nil, err
	}
	for name, d := range map[string]time.Duration{sofFieldTimeout: cfg.Timeout, sofFieldMaxRetryDuration: cfg.MaxRetryDuration,
		sofFieldBackoff + "." + sofFieldBackoffInitial: cfg.InitialBackoff, sofFieldBackoff + "." + sofFieldBackoffMax: cfg.MaxBackoff} {
		if d <= 0 {
			return nil, fmt.Errorf("field %s must be a positive duration, got %s", name, d)
		}
	}
	if cfg.MaxBackoff < cfg.InitialBackoff {
		return nil, fmt.Errorf("field %s.%s (%s) is shorter than %s (%s)", sofFieldBackoff, sofFieldBackoffMax, cfg.MaxBackoff, sofFieldBackoffInitial, cfg.InitialBackoff)
	}

	m := mgr.Metrics()
	o := &segmentOutput{
		writeKey:         writeKey,
		log:              mgr.Logger(),
		mMsgsSent:        m.NewCounter("segment_messages_sent"),
		mMsgsAccepted:    m.NewCounter("segment_messages_accepted"),
		mMsgsFailed:      m.NewCounter("segment_messages_failed", "class"),
		mReqsSent:        m.NewCounter("segment_requests_sent"),
		mReqsFailed:      m.NewCounter("segment_requests_failed", "class"),
		mLatency:         m.NewTimer("segment_request_latency_ns"),
		mInFlight:        m.NewGauge("segment_messages_in_flight"),
		mKeyRejected:     m.NewCounter("segment_write_key_rejected"),
		maxRetryDuration: cfg.MaxRetryDuration,
	}
	o.writeKeyValue, o.staticKey = writeKey.Static()
	cfg.Observer = o
	o.cfg = cfg
	return o, nil
}

// segmentOutput adapts segment.Sender to Benthos: it resolves write keys,
// validates, groups per key, and turns per-message verdicts into a
// BatchError, metadata and metrics.
type segmentOutput struct {
	writeKey *service.InterpolatedString
	// writeKeyValue is the key when it has no interpolations (staticKey).
	writeKeyValue string
	staticKey     bool
	cfg           segment.Config
	log           *service.Logger

	mu     sync.Mutex
	sender *segment.Sender

	inFlight         atomic.Int64
	maxRetryDuration time.Duration

	mMsgsSent, mMsgsAccepted, mMsgsFailed *service.MetricCounter
	mReqsSent, mReqsFailed, mKeyRejected  *service.MetricCounter
	mLatency                              *service.MetricTimer
	mInFlight                             *service.MetricGauge
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
	type group struct {
		idx  []int
		msgs [][]byte
	}
	groups := map[string]*group{}
	var keys []string
	for i, msg := range batch {
		key, err := o.resolveKey(msg)
		if err != nil {
			errs[i] = &segment.ValidationError{Rule: "write_key", Detail: "write_key interpolation failed: " + err.Error()}
			continue
		}
		raw, err := msg.AsBytes()
		if err != nil {
			errs[i] = &segment.ValidationError{Rule: segment.RuleJSONObject, Detail: err.Error()}
			continue
		}
		if _, err := segment.Validate(raw); err != nil {
			errs[i] = err
			continue
		}
		if strings.TrimSpace(key) == "" {
			errs[i] = &segment.ValidationError{Rule: "write_key", Detail: "write_key resolved to an empty string"}
			continue
		}
		g, ok := groups[key]
		if !ok {
			g = &group{}
			groups[key] = g
			keys = append(keys, key)
		}
		g.idx = append(g.idx, i)
		g.msgs = append(g.msgs, raw)
	}

	var wg sync.WaitGroup
	for _, key := range keys {
		g := groups[key]
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := sender.Send(ctx, key, g.msgs)
			for j, i := range g.idx {
				errs[i] = res[j]
			}
		}()
	}
	wg.Wait()

	var bErr *service.BatchError
	failed := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed++
		class := segment.StatusClassOf(err)
		o.mMsgsFailed.Incr(1, class)
		err = fmt.Errorf("message %d: %w", i, err)
		if bErr == nil {
			bErr = service.NewBatchError(batch, errors.New("segment: some messages were not accepted"))
		}
		bErr = bErr.Failed(i, err)
	}
	if accepted := len(batch) - failed; accepted > 0 {
		o.mMsgsAccepted.Incr(int64(accepted))
	}
	if bErr != nil {
		return bErr
	}
	return nil
}

// resolveKey returns the write key of msg. A static key is resolved once, at
// construction: MessageBatch.TryInterpolatedString copies the whole batch for
// every call, which made key resolution quadratic in the batch size.
func (o *segmentOutput) resolveKey(msg *service.Message) (string, error) {
	if o.staticKey {
		return o.writeKeyValue, nil
	}
	return o.writeKey.TryString(msg)
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
