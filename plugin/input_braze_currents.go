package plugin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/brazehttp"
	"github.com/currents-segment/currents-segment/internal/componentname"
)

const (
	bciFieldAddress              = "address"
	bciFieldPath                 = "path"
	bciFieldBearerToken          = "bearer_token"
	bciFieldAllowUnauthenticated = "allow_unauthenticated"
	bciFieldCertFile             = "cert_file"
	bciFieldKeyFile              = "key_file"
	bciFieldMaxBodyBytes         = "max_body_bytes"
	bciFieldMaxInFlightRequests  = "max_in_flight_requests"
	bciFieldMaxInFlightEvents    = "max_in_flight_events"
	bciFieldMaxEventsPerRequest  = "max_events_per_request"
	bciFieldAckTimeout           = "ack_timeout"
	bciFieldQueueTimeout         = "queue_timeout"
	bciFieldRetryAfter           = "retry_after"
	bciFieldReadHeaderTimeout    = "read_header_timeout"
	bciFieldReadTimeout          = "read_timeout"
	bciFieldWriteTimeout         = "write_timeout"
	bciFieldIdleTimeout          = "idle_timeout"
	bciFieldShutdownTimeout      = "shutdown_timeout"

	// bciDefaultAddress is not Benthos's own 0.0.0.0:4195 (metrics, /ready
	// of the process), so both servers run side by side by default.
	bciDefaultAddress = "0.0.0.0:8080"
)

// bciSeconds writes a default duration in seconds ("90s" rather than
// time.Duration's "1m30s"), the way the docs and the lint messages show it.
func bciSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// Metadata keys set on every message the input emits.
const (
	metaBrazeRequestID  = "braze_request_id"
	metaBrazeRemoteAddr = "braze_remote_addr"
	metaBrazeVersion    = "braze_currents_version"
	metaBrazeEventCount = "braze_event_count"
	// metaBrazeReadinessProbe marks the readiness probe (its value is the
	// probe's id): a message with no request behind it, see Connect.
	metaBrazeReadinessProbe = "braze_readiness_probe"
)

func brazeCurrentsInputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Network", "Integration").
		Version("0.1.0").
		Summary("Receives the event batches Braze's custom HTTP Currents connector posts, and answers Braze only once every event of a batch was delivered downstream.").
		Description(`
Braze POSTs `+"`{\"events\":[...]}`"+` bodies (about 100 events each, gzip-encoded or not) with `+"`Authorization: Bearer <token>`"+` and `+"`Braze-Currents-Version: 1`"+`. Each request becomes ONE message holding the envelope, to be split into one message per event by the `+"`currents_to_segment`"+` processor. Benthos acknowledges the input only once every message derived from it was acknowledged by the output, and only then does Braze get its 200: a crash, an outage or a nack makes Braze retry the batch rather than lose it. Retried events carry the same Currents `+"`id`"+`, which becomes the Segment `+"`messageId`"+`, so Segment drops the duplicates. With a `+"`buffer`"+`, Benthos acknowledges once the message is in the buffer, so the 200 means "stored": use a buffer that survives a crash, never `+"`memory`"+`, with this input.

### Answers and Braze's retry policy

| status | when | what Braze does |
|---|---|---|
| 200 | every event of the request was delivered (or deliberately skipped) downstream | done |
| 503 + `+"`Retry-After`"+` | the pipeline nacked the message, did not deliver it within `+"`ack_timeout`"+`, did not take it within `+"`queue_timeout`"+`; the connection failed while the body was read; or the input is starting (see readiness below) or shutting down | backs off and retries (for up to 24 h) |
| 429 + `+"`Retry-After`"+` | more than `+"`max_in_flight_requests`"+` requests, or more than `+"`max_in_flight_events`"+` events, held at once | backs off and retries |
| 401 | missing or wrong bearer token (answered before the body is read) | retries for up to 48 h, then drops |
| 413 | the body, as sent or gzip-decoded, exceeds `+"`max_body_bytes`"+`, or it holds more than `+"`max_events_per_request`"+` events | splits the batch |
| 400 | the sender's mistake: the body is not a Currents envelope (not JSON, not an object, no `+"`events`"+` array), or its gzip is invalid, cut short, followed by other data or empty, or its chunked encoding is invalid; the JSON answer says why | splits the batch, drops events refused again |
| 405 / 404 / 415 | not a POST / another path / a `+"`Content-Encoding`"+` other than gzip | (Braze never sends these) |

A malformed event inside a good envelope does not fail the request: it flows on, and `+"`currents_to_segment`"+` flags it for a dead-letter output.

Every response carries an `+"`X-Request-Id`"+` header, also set on the message as metadata with `+"`braze_remote_addr`"+`, `+"`braze_currents_version`"+` and `+"`braze_event_count`"+`.

`+"`GET /ready`"+` on the same server answers 200 while the input takes requests and 503 while it starts or shuts down, for a load balancer's health check. Benthos starts the input before the buffer, the pipeline and the outputs behind it, so at start the input sends one readiness probe through them: an empty envelope `+"`{\"events\":[]}`"+` marked with the metadata `+"`braze_readiness_probe`"+` (`+"`currents_to_segment`"+` maps it to nothing, which acknowledges it; with a disk buffer, once it is committed). `+"`/ready`"+` and every request get 503 until it is acknowledged; a nacked probe is retried with backoff, one not acknowledged within `+"`ack_timeout`"+` followed by another; a process whose buffer or outputs never start never answers 200. On shutdown the input stops taking requests (503), waits for the requests already in the pipeline to be delivered, and answers 503 to any that were not: a request is never answered 2xx unless delivered.

Metrics: `+"`braze_currents_requests`"+` (label `+"`status`"+`: the HTTP status, or `+"`client_closed`"+`), `+"`braze_currents_events_received`"+`, `+"`braze_currents_request_latency_seconds`"+` (a histogram: Benthos names the timer `+"`_ns`"+` and the `+"`prometheus`"+` exporter exports it in seconds), `+"`braze_currents_requests_in_flight`"+`, `+"`braze_currents_events_in_flight`"+`; the counters and gauges exist at 0 from the start. Authentication failures, refused requests (400, 405, 413, 415, with the reason and the request id: Braze drops an event refused twice), 429s, undelivered requests and refused readiness probes are logged at WARN at most once a minute each, the others at DEBUG; the token and the `+"`Authorization`"+` header are never logged, at any level.`).
		Fields(
			service.NewStringField(bciFieldAddress).
				Description("The address to listen on, as `host:port`. The default listens on every interface on port 8080, so Braze can reach it (Benthos's own HTTP server keeps port 4195). Use port 0 for a free port; the address bound is logged at INFO.").
				Examples("0.0.0.0:8443", "127.0.0.1:0").
				Default(bciDefaultAddress),
			service.NewStringField(bciFieldPath).
				Description("The path Braze posts to: the path of the endpoint URL configured in Braze's custom Currents connector. Only this path is served, with `/ready` for health checks.").
				Example("/currents").
				Default(brazehttp.DefaultPath).
				// A single-field hint, so a field rule; the config is refused at
				// start all the same (brazehttp.New).
				LintRule(`root = if this == "`+brazehttp.ReadyPath+`" { [ "path `+brazehttp.ReadyPath+` is the input's readiness endpoint: choose another path for Braze's batches, e.g. path: /currents" ] }`),
			service.NewStringField(bciFieldBearerToken).
				Description("The token Braze's connector sends as `Authorization: Bearer <token>`; requests without it get 401. It is compared in constant time and never logged. Required, unless `allow_unauthenticated` is true: a configuration with neither is refused, and so is one where it resolves to an empty string (an unset environment variable does not turn authentication off).").
				Example("${BRAZE_CURRENTS_TOKEN}").
				Secret().
				Optional(),
			service.NewBoolField(bciFieldAllowUnauthenticated).
				Description("Accept requests without checking a bearer token. Only for a network where nothing but Braze can reach the endpoint, or for tests; it cannot be combined with `bearer_token`.").
				Example(true).
				Default(false),
			// No Example on these optional fields: `create` would write it in,
			// and the config would not start without that file.
			service.NewStringField(bciFieldCertFile).
				Description("A PEM certificate (chain) file, for example `/etc/tls/currents.crt`: with `key_file`, the input serves HTTPS, and reloads the pair when the files change. Braze requires HTTPS endpoints, so without these terminate TLS in front of the input (a load balancer or a proxy). Both empty (as `create` writes them) is plain HTTP, said in the start-up log line; one empty and the other set is refused, and so is a variable without a default that is not set.").
				Optional(),
			service.NewStringField(bciFieldKeyFile).
				Description("The PEM private key file of `cert_file`, for example `/etc/tls/currents.key`; both or neither must be set.").
				Optional(),
			service.NewIntField(bciFieldMaxBodyBytes).
				Description("The largest request body accepted, in bytes, both as sent and after gzip decoding (so a compression bomb costs no memory). A larger request gets 413, and Braze splits the batch. Braze's batches of about 100 events are far smaller than the default of 10 MiB; memory grows with it (see `max_in_flight_events`).").
				Example(1048576).
				Default(brazehttp.DefaultMaxBodyBytes),
			service.NewIntField(bciFieldMaxInFlightRequests).
				Description("How many requests may be held at once: being read, waiting for the pipeline, or in it until Benthos acknowledged them (even after an answer of 503 at `ack_timeout`: their memory is still in use). Past it requests get 429 with `Retry-After`, which Braze retries. With `max_body_bytes` and `max_in_flight_events` it bounds memory (the formula is under `max_in_flight_events`); it also bounds throughput to about `max_in_flight_requests` × 100 events per delivery round trip.").
				Example(16).
				Default(brazehttp.DefaultMaxInFlight).
				Advanced(),
			service.NewIntField(bciFieldMaxInFlightEvents).
				Description("How many events the requests held at once may hold together (held as for `max_in_flight_requests`: until Benthos acknowledged them); a request whose events do not fit gets 429 with `Retry-After`, and Braze backs off and retries. Bytes alone do not bound memory: each event becomes a message downstream whose cost does not shrink with the event (80,000 tiny events in one 10 MiB body cost about 24 times the body). With it, the live heap the input lets into the pipeline is at most about `max_in_flight_requests` × `max_body_bytes` × 4 + `max_in_flight_events` × 6 KiB, for any mix of event sizes (4: a body while read, then the envelope, its events' Segment calls and the `segment` output's copies of them; 6 KiB: what an event costs whatever its size). With the defaults, 64 × 10 MiB × 4 + 10,000 × 6 KiB ≈ 2.6 GiB at worst, almost all of it for bodies of 10 MiB: Braze's batches of about 100 events are far smaller, and `max_body_bytes: 1048576` brings the worst case to about 315 MiB. Go lets the process grow to about twice its live heap between collections (three times in the currents-segment binary, which runs at `GOGC=200` unless `GOGC` is set): set `GOMEMLIMIT` below the container's limit. A disk buffer acknowledges the input's messages once written, which releases their share at once. The default takes 64 of Braze's usual requests at once with room to spare.").
				Example(20000).
				Default(brazehttp.DefaultMaxInFlightEvents).
				Advanced(),
			service.NewIntField(bciFieldMaxEventsPerRequest).
				Description("The most events one request may hold; a request with more gets 413, and Braze splits the batch. At most `max_in_flight_events` (a larger request could never be taken). The default is ten times the about 100 events Braze sends per request.").
				Example(500).
				Default(brazehttp.DefaultMaxEventsPerRequest).
				Advanced(),
			service.NewDurationField(bciFieldAckTimeout).
				Description("How long a request waits for every one of its events to be acknowledged downstream before Braze gets 503 (and retries). Keep it below Braze's own request timeout. Events delivered after it expired are delivered again by the retry and deduplicated by Segment on `messageId`.").
				Example("1m").
				Default(bciSeconds(brazehttp.DefaultAckTimeout)),
			service.NewDurationField(bciFieldQueueTimeout).
				Description("How long a valid request waits for the pipeline to take it before Braze gets 503 with `Retry-After`. The pipeline stops taking messages when its outputs are saturated: this is the backpressure Braze sees.").
				Example("2s").
				Default(bciSeconds(brazehttp.DefaultQueueTimeout)).
				Advanced(),
			service.NewDurationField(bciFieldRetryAfter).
				Description("The `Retry-After` of 429 and 503 answers, in whole seconds (rounded up).").
				Example("30s").
				Default(bciSeconds(brazehttp.DefaultRetryAfter)).
				Advanced(),
			service.NewDurationField(bciFieldReadHeaderTimeout).
				Description("How long a client may take to send the request headers.").
				Example("5s").
				Default(bciSeconds(brazehttp.DefaultReadHeaderTimeout)).
				Advanced(),
			service.NewDurationField(bciFieldReadTimeout).
				Description("How long a client may take to send a whole request, headers and body.").
				Example("1m").
				Default(bciSeconds(brazehttp.DefaultReadTimeout)).
				Advanced(),
			service.NewDurationField(bciFieldWriteTimeout).
				Description("How long a request may take from the end of its headers to the end of its answer: reading the body, waiting for the pipeline and for delivery. It must exceed `queue_timeout` + `ack_timeout`, so that an undelivered request is answered 503 rather than cut off.").
				Example("2m").
				Default(bciSeconds(brazehttp.DefaultWriteTimeout)).
				Advanced(),
			service.NewDurationField(bciFieldIdleTimeout).
				Description("How long a keep-alive connection may stay idle between requests.").
				Example("2m").
				Default(bciSeconds(brazehttp.DefaultIdleTimeout)).
				Advanced(),
			service.NewDurationField(bciFieldShutdownTimeout).
				Description("On shutdown, once Benthos has waited for the requests in the pipeline (its own `shutdown_timeout`), how long the input waits for their answers to be written before closing the connections.").
				Example("5s").
				Default(bciSeconds(brazehttp.DefaultShutdownTimeout)).
				Advanced(),
		).
		// One rule: a later LintRule call replaces an earlier one.
		LintRule(bciLintRule()).
		Example("Braze Currents to Segment", "Receives Braze's HTTP Currents batches and delivers each event to Segment; Braze gets its 200 once Segment accepted every event of the batch, and events that cannot be mapped go to a dead-letter file.", `
input:
  braze_currents:
    address: 0.0.0.0:8080
    path: /currents
    bearer_token: ${BRAZE_CURRENTS_TOKEN}
pipeline:
  processors:
    - currents_to_segment: {}
output:
  switch:
    cases:
      - check: errored()
        output:
          file:
            path: ./dead-letter.jsonl
            codec: lines
      - output:
          segment:
            write_key: ${SEGMENT_WRITE_KEY}
`)
}

// bciLintRule reports, before start, the mistakes brazehttp.New refuses at
// start that need more than one field to see; the single-field one (path)
// is the path field's own rule. Durations are parsed here with core Bloblang
// only: parse_duration belongs to the pure bundle, which may not be
// registered yet when this spec is built (or at all, in a binary without
// it), and a rule that fails to parse fails every config. A field left out
// has no value here, so the rule applies the spec's defaults itself.
func bciLintRule() string {
	return strings.NewReplacer(
		"$ACK_FIELD", bciFieldAckTimeout, "$QUEUE_FIELD", bciFieldQueueTimeout, "$WRITE_FIELD", bciFieldWriteTimeout,
		"$ACK_DEFAULT", strconv.Quote(bciSeconds(brazehttp.DefaultAckTimeout)),
		"$QUEUE_DEFAULT", strconv.Quote(bciSeconds(brazehttp.DefaultQueueTimeout)),
		"$WRITE_DEFAULT", strconv.Quote(bciSeconds(brazehttp.DefaultWriteTimeout)),
		"$PER_REQUEST_FIELD", bciFieldMaxEventsPerRequest, "$IN_FLIGHT_FIELD", bciFieldMaxInFlightEvents,
		"$PER_REQUEST_DEFAULT", strconv.Itoa(brazehttp.DefaultMaxEventsPerRequest),
		"$IN_FLIGHT_DEFAULT", strconv.Itoa(brazehttp.DefaultMaxInFlightEvents),
		"$CERT_FIELD", bciFieldCertFile, "$KEY_FIELD", bciFieldKeyFile,
		"$TOKEN_FIELD", bciFieldBearerToken, "$UNAUTH_FIELD", bciFieldAllowUnauthenticated,
	).Replace(`
# Only Bloblang's core methods: those of the pure bundle (concat,
# parse_duration) register after this package initialises in a binary, so
# a rule using them would not parse there.
map nanoseconds {
  root = this.string().re_find_all_submatch("([0-9]*\\.?[0-9]+)(ns|us|µs|ms|s|m|h)").map_each(p -> p.index(1).number() * match p.index(2) {
    "ns" => 1,
    "us" => 1000,
    "µs" => 1000,
    "ms" => 1000000,
    "s" => 1000000000,
    "m" => 60000000000,
    _ => 3600000000000,
  }).sum()
}
let ack_s = this.$ACK_FIELD.or($ACK_DEFAULT)
let queue_s = this.$QUEUE_FIELD.or($QUEUE_DEFAULT)
let write_s = this.$WRITE_FIELD.or($WRITE_DEFAULT)
let ack = $ack_s.apply("nanoseconds").catch(0)
let queue = $queue_s.apply("nanoseconds").catch(0)
let write = $write_s.apply("nanoseconds").catch(0)
let per_request = this.$PER_REQUEST_FIELD.or($PER_REQUEST_DEFAULT)
let in_flight = this.$IN_FLIGHT_FIELD.or($IN_FLIGHT_DEFAULT)
root = [].merge(
  if (this.$CERT_FIELD.or("") != "") != (this.$KEY_FIELD.or("") != "") {
    [ "$CERT_FIELD and $KEY_FIELD must be set together" ]
  } else { [] }
).merge(
  if this.exists("$TOKEN_FIELD") && this.$UNAUTH_FIELD.or(false) == true {
    [ "$TOKEN_FIELD and $UNAUTH_FIELD: true cannot be combined" ]
  } else { [] }
).merge(
  if $ack > 0 && $queue > 0 && $write > 0 && $write <= $ack + $queue {
    [ "$WRITE_FIELD (%s) must exceed $QUEUE_FIELD (%s) + $ACK_FIELD (%s): raise $WRITE_FIELD above their sum or lower the others, otherwise an undelivered request is cut off instead of answered 503".format($write_s, $queue_s, $ack_s) ]
  } else { [] }
).merge(
  if $per_request.type() == "number" && $in_flight.type() == "number" && $per_request > $in_flight {
    [ "$PER_REQUEST_FIELD (%v) must not exceed $IN_FLIGHT_FIELD (%v): a request with more events than fit in flight would be answered 429 forever; lower $PER_REQUEST_FIELD or raise $IN_FLIGHT_FIELD".format($per_request, $in_flight) ]
  } else { [] }
)
`)
}

func init() {
	err := service.RegisterInput(componentname.BrazeCurrentsInput, brazeCurrentsInputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Input, error) {
			return newBrazeCurrentsInputFromParsed(conf, mgr)
		})
	if err != nil {
		panic(err)
	}
}

// newBrazeCurrentsInputFromParsed reads the fields into a brazehttp.Config
// and leaves checking it to brazehttp.New, which owns the rules and the
// defaults.
func newBrazeCurrentsInputFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*brazeCurrentsInput, error) {
	in := &brazeCurrentsInput{log: mgr.Logger()}
	var err error
	if in.address, err = conf.FieldString(bciFieldAddress); err != nil {
		return nil, err
	}
	hc := brazehttp.Config{Logger: mgr.Logger(), Observer: in}
	if hc.Path, err = conf.FieldString(bciFieldPath); err != nil {
		return nil, err
	}
	if conf.Contains(bciFieldBearerToken) {
		// The value is never quoted in an error.
		if hc.Token, err = conf.FieldString(bciFieldBearerToken); err != nil {
			return nil, errors.New("field bearer_token: expected a string")
		}
	}
	if hc.AllowUnauthenticated, err = conf.FieldBool(bciFieldAllowUnauthenticated); err != nil {
		return nil, err
	}
	var writtenEmpty []string
	for _, f := range []struct {
		name string
		dst  *string
	}{{bciFieldCertFile, &hc.CertFile}, {bciFieldKeyFile, &hc.KeyFile}} {
		if !conf.Contains(f.name) {
			continue
		}
		if *f.dst, err = conf.FieldString(f.name); err != nil {
			return nil, err
		}
		if *f.dst == "" {
			writtenEmpty = append(writtenEmpty, f.name)
		}
	}
	// To brazehttp both names empty is no TLS. One written but empty while
	// the other is set is a variable set to nothing, said as such (one left
	// out is brazehttp's "set together"); a variable without a default that
	// is not set at all already stops Benthos at start.
	if len(writtenEmpty) == 1 && hc.CertFile+hc.KeyFile != "" {
		return nil, fmt.Errorf("field %s is empty while the other TLS file is set (is its environment variable set?): set both %s and %s to PEM files, or neither to serve plain HTTP", writtenEmpty[0], bciFieldCertFile, bciFieldKeyFile)
	}

	var maxBody int
	for _, f := range []struct {
		name string
		dst  *int
	}{
		{bciFieldMaxBodyBytes, &maxBody},
		{bciFieldMaxInFlightRequests, &hc.MaxInFlight},
		{bciFieldMaxInFlightEvents, &hc.MaxInFlightEvents},
		{bciFieldMaxEventsPerRequest, &hc.MaxEventsPerRequest},
	} {
		if *f.dst, err = conf.FieldInt(f.name); err != nil {
			return nil, err
		}
		// brazehttp.Config reads a zero as "the default"; in YAML a field
		// left out has its default already, so a 0 written there is a
		// mistake (it is not "unlimited"), which must not silently become
		// the default. Negative values are New's to refuse.
		if *f.dst == 0 {
			return nil, fmt.Errorf("field %s must be positive, got 0", f.name)
		}
	}
	hc.MaxBodyBytes = int64(maxBody)
	for _, f := range []struct {
		name string
		dst  *time.Duration
	}{
		{bciFieldAckTimeout, &hc.AckTimeout},
		{bciFieldQueueTimeout, &hc.QueueTimeout},
		{bciFieldRetryAfter, &hc.RetryAfter},
		{bciFieldReadHeaderTimeout, &hc.Timeouts.ReadHeader},
		{bciFieldReadTimeout, &hc.Timeouts.Read},
		{bciFieldWriteTimeout, &hc.Timeouts.Write},
		{bciFieldIdleTimeout, &hc.Timeouts.Idle},
		{bciFieldShutdownTimeout, &hc.Timeouts.Shutdown},
	} {
		if *f.dst, err = conf.FieldDuration(f.name); err != nil {
			return nil, err
		}
		if *f.dst == 0 { // as for the limits above
			return nil, fmt.Errorf("field %s must be a positive duration, got 0s", f.name)
		}
	}

	m := mgr.Metrics()
	in.mRequests = m.NewCounter("braze_currents_requests", "status")
	in.mEvents = m.NewCounter("braze_currents_events_received")
	in.mLatency = m.NewTimer("braze_currents_request_latency_ns")
	in.mInFlight = m.NewGauge("braze_currents_requests_in_flight")
	in.mEventsInFlight = m.NewGauge("braze_currents_events_in_flight")
	// Every series exists at zero from the start, so that an alert on
	// increase(...) > 0 fires on the first event rather than on the second.
	// The latency timer is left out: a zero observation would be a request
	// that never happened.
	for _, status := range brazehttp.Statuses {
		in.mRequests.Incr(0, status)
	}
	in.mEvents.Incr(0)
	in.mInFlight.Set(0)
	in.mEventsInFlight.Set(0)

	if in.handler, err = brazehttp.New(hc); err != nil {
		return nil, err
	}
	return in, nil
}

// brazeCurrentsInput adapts brazehttp to Benthos: Connect listens, Read
// hands over one request at a time, and the ack func resolves the request,
// which then gets its answer.
type brazeCurrentsInput struct {
	address string
	handler *brazehttp.Handler
	log     *service.Logger

	mu       sync.Mutex
	server   *brazehttp.Server
	shutOnce sync.Once

	mRequests, mEvents *service.MetricCounter
	mLatency           *service.MetricTimer
	mInFlight          *service.MetricGauge
	mEventsInFlight    *service.MetricGauge
}

// Answered implements brazehttp.Observer.
func (in *brazeCurrentsInput) Answered(status string, latency time.Duration) {
	in.mRequests.Incr(1, status)
	in.mLatency.Timing(latency.Nanoseconds())
}

// Received implements brazehttp.Observer.
func (in *brazeCurrentsInput) Received(events int) { in.mEvents.Incr(int64(events)) }

// InFlight implements brazehttp.Observer.
func (in *brazeCurrentsInput) InFlight(requests, events int) {
	in.mInFlight.Set(int64(requests))
	in.mEventsInFlight.Set(int64(events))
}

func (in *brazeCurrentsInput) Connect(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.server != nil {
		return nil
	}
	srv, err := brazehttp.Listen(in.address, in.handler)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", in.address, err)
	}
	in.server = srv
	// Benthos connects the input before the buffer, the pipeline and the
	// outputs behind it are running (a disk buffer may spend seconds opening
	// a large backlog, or fail to open at all): the handler turns ready only
	// once a probe message went through them and was acknowledged.
	in.handler.ProbeConsumer()
	auth := "bearer token required"
	if in.handler.Unauthenticated() {
		auth = "NO AUTHENTICATION (allow_unauthenticated)"
	}
	in.log.Infof("Receiving Braze Currents batches on %s (%s; readiness on %s, 503 until the pipeline acknowledged a readiness probe)", srv.URL(), auth, brazehttp.ReadyPath)
	if strings.HasPrefix(srv.URL(), "http://") {
		// The usual deployment behind a TLS-terminating load balancer, so
		// INFO, but said: Braze only posts to HTTPS endpoints.
		in.log.Infof("Serving plain HTTP on %s (cert_file and key_file are not set): Braze only posts to HTTPS, so TLS must be terminated in front of this input", srv.URL())
	}
	return nil
}

// Addr returns the address listened on, "" before Connect.
func (in *brazeCurrentsInput) Addr() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.server == nil {
		return ""
	}
	return in.server.Addr().String()
}

// URL returns the URL Braze posts to, "" before Connect.
func (in *brazeCurrentsInput) URL() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.server == nil {
		return ""
	}
	return in.server.URL()
}

func (in *brazeCurrentsInput) Read(ctx context.Context) (*service.Message, service.AckFunc, error) {
	d, err := in.handler.Next(ctx)
	if err != nil {
		if errors.Is(err, brazehttp.ErrClosed) {
			return nil, nil, service.ErrEndOfInput
		}
		// Benthos cancels Read's context only when it stops consuming from
		// the input: take no more requests, let those in the pipeline finish.
		in.handler.Drain()
		return nil, nil, err
	}
	msg := service.NewMessage(d.Body)
	msg.MetaSetMut(metaBrazeRequestID, d.RequestID)
	msg.MetaSetMut(metaBrazeEventCount, int64(d.Events))
	if d.Probe {
		// A message like any other, so it takes the path a request's
		// message takes and its acknowledgement proves that path works;
		// marked, so a pipeline can tell it from Braze's batches.
		msg.MetaSetMut(metaBrazeReadinessProbe, d.RequestID)
	} else {
		msg.MetaSetMut(metaBrazeRemoteAddr, d.RemoteAddr)
		if d.Version != "" {
			msg.MetaSetMut(metaBrazeVersion, d.Version)
		}
	}
	return msg, func(ctx context.Context, err error) error {
		d.Resolve(err)
		return nil
	}, nil
}

func (in *brazeCurrentsInput) Close(ctx context.Context) error {
	var err error
	in.shutOnce.Do(func() {
		in.mu.Lock()
		srv := in.server
		in.mu.Unlock()
		in.handler.Close()
		if srv == nil {
			return
		}
		err = srv.Shutdown(ctx)
		in.log.Infof("Stopped receiving Braze Currents batches on %s", srv.URL())
	})
	return err
}
