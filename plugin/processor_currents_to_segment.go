package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/currents-segment/currents-segment/internal/componentname"
	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/ratelog"
)

const (
	ctsFieldEvents            = "events"
	ctsFieldEventNames        = "event_names"
	ctsFieldAnonymousUsers    = "anonymous_users"
	ctsFieldProperties        = "properties"
	ctsFieldUnknownEventTypes = "unknown_event_types"
	ctsFieldEventType         = "event_type"
)

// Metadata keys set on every message the processor emits.
const (
	metaEventType    = "currents_event_type"
	metaEventID      = "currents_event_id"
	metaSegmentEvent = "segment_event"
	metaAppGroupID   = "currents_app_group_id"
)

func currentsToSegmentSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Integration", "Mapping").
		Version("0.1.0").
		Summary("Maps Braze Currents events to the Segment track calls Braze's own Segment connector sends.").
		Description(`
Accepts every shape Braze emits:

- an HTTP batch envelope `+"`{\"events\":[...]}`"+` from Braze's custom HTTP connector, split into one message per event, in order;
- a single HTTP event, with nested `+"`user`"+` and `+"`properties`"+` objects;
- a flat storage record as Avro rows decode, with plain values (`+"`avro-ocf:marshaler=goavro`"+`) or with Avro-JSON union wrapping such as `+"`{\"string\":\"x\"}`"+` (`+"`avro-ocf:marshaler=json`"+`).

The event type of a flat record is its `+"`event_type`"+` field if present, else the `+"`event_type=<type>`"+` segment of the `+"`path`"+` metadata that the `+"`file`"+` input sets for Braze's storage layout (`+"`.../event_type=users.messages.email.Send/date=.../x.avro`"+`), else the `+"`currents_event_type`"+` metadata (which `+"`braze_storage`"+` sets from the object's folder or its schema), else the `+"`event_type`"+` field of this processor.

Each event becomes one message holding the Segment `+"`track`"+` call as JSON: `+"`type`"+`, `+"`event`"+`, `+"`messageId`"+` (the Currents `+"`id`"+`, so Segment dedupes replays), `+"`userId`"+` (`+"`external_user_id`"+`), `+"`anonymousId`"+` (Braze `+"`user_id`"+`), `+"`timestamp`"+` (RFC 3339, UTC), `+"`context.traits`"+`, `+"`context.device`"+` and the connector's `+"`properties`"+` with its renames. Absent fields are left out, never sent as null or an empty string.

### Event types

The processor knows the 96 event types of Braze's Currents glossaries and samples. By default it maps the ones Braze's Segment connector sends: every message engagement type with a Segment tab (including `+"`users.behaviors.Uninstall`"+`, `+"`users.behaviors.subscription.GlobalStateChange`"+` and `+"`users.behaviors.subscriptiongroup.StateChange`"+`, the behavior types Braze's connector page lists) and the legacy `+"`users.campaigns.Abort`"+` and `+"`users.canvas.Abort`"+` (named `+"`Campaign Aborted`"+` and `+"`Canvas Aborted`"+`). The other customer-behavior types, and the types with no Segment tab (`+"`agentconsole.*`"+`, `+"`users.profile.Update`"+`, `+"`users.UserDeleteRequest`"+`, `+"`users.UserOrphan`"+`, `+"`users.RandomBucketNumberUpdate`"+`), are skipped as `+"`not_selected`"+` unless listed in `+"`events`"+`.

Where Braze publishes no Segment name for a type (`+"`users.messages.banner.Dismiss`"+`, the `+"`*.Retry`"+` types, `+"`users.canvas.costep.Send`"+`, `+"`users.behaviors.CustomEvent`"+`, and the types with no Segment tab), the Segment `+"`event`"+` is the Currents type itself, e.g. `+"`users.messages.banner.Dismiss`"+`, and every field is sent as a property; rename it with `+"`event_names`"+`. Braze gives the RCS and LINE events the same names (`+"`Aborted`"+`, `+"`Clicked`"+`, `+"`Sent`"+`), and so does this processor; the project README has an `+"`event_names`"+` block that prefixes them with their channel, and the table of every type.

Every emitted message carries the metadata `+"`currents_event_type`"+`, `+"`currents_event_id`"+` and `+"`segment_event`"+`, and `+"`currents_app_group_id`"+` when the event names its Braze workspace, for routing workspaces to different Segment sources.

### Errors and drops

An event that cannot be mapped (not JSON, no `+"`id`"+`, no `+"`user_id`"+`, `+"`time`"+` missing or not a number, a field of the wrong type, an unknown type under `+"`unknown_event_types: reject`"+`) is emitted unchanged and flagged with an error naming the event, the field and what was expected; route it to a dead letter with a `+"`switch`"+` output and `+"`errored()`"+`. The other events of the same envelope still map.

A message that arrives already flagged with an error (for example a damaged record of the `+"`disk`"+` buffer) is passed on untouched, for the same dead-letter route.

Skipped events (anonymous users under `+"`anonymous_users: skip`"+`, types outside `+"`events`"+`, unknown types under `+"`skip`"+`) are dropped and counted in `+"`currents_events_skipped`"+` by `+"`event_type`"+` and `+"`reason`"+`; mapped events are counted in `+"`currents_events_mapped`"+` and failed ones in `+"`currents_events_failed`"+`.`).
		Fields(
			service.NewStringListField(ctsFieldEvents).
				Description("The event types to map; events of other known types are skipped and counted with reason `not_selected`. Empty, the default, maps the types Braze's Segment connector sends (see Event types above); a list replaces that selection and maps exactly the types listed, any of the 96, where the name `default` stands for that selection (`[default, users.behaviors.Purchase]` adds purchases to it). An unknown name is a configuration error that suggests the closest known type.").
				Example([]string{"users.messages.email.Send", "users.messages.email.Open", "users.messages.email.Click"}).
				Example([]string{"default", "users.behaviors.Purchase"}).
				Default([]any{}), // not []string: the lint rule sees the default, and Bloblang has no []string
			service.NewStringMapField(ctsFieldEventNames).
				Description("Renames the Segment event of a Currents type, for example to match names an existing tracking plan uses, to name a type Braze publishes no Segment name for (it is otherwise sent as the type itself), or to tell apart the RCS and LINE events Braze names alike. Keys are Currents types; types not listed keep the name Braze's connector uses. `users.behaviors.CustomEvent` cannot be renamed: each custom event is sent under its own `name`, and one name for all of them would lose which event it was (a key for it is a configuration error).").
				Example(map[string]any{"users.messages.email.Unsubscribe": "Email Unsubscribed", "users.messages.pushnotification.IosForeground": "iOS Foreground Push Opened"}).
				Default(map[string]any{}),
			service.NewStringEnumField(ctsFieldAnonymousUsers, "skip", "send").
				Description("What to do with events of users without an `external_user_id`. `skip` drops them and counts them with reason `no_external_user_id`, as Braze's connector does. `send` sends them with `anonymousId` (the Braze user id) only, so Segment can merge them when the user is identified later.").
				Default("skip"),
			service.NewStringEnumField(ctsFieldProperties, "connector", "all").
				Description("Which Currents fields become Segment properties. `connector` reproduces the property list of Braze's connector for each type, and sends every field of a type whose Segment call Braze does not document. `all` also keeps every other Currents field (for example `timezone` as `context.timezone`, the fields Braze added after its Segment tabs such as `is_unique`, `send_time` and `message_extras`, whose inclusion by its connector is not documented, and fields Braze adds later), so nothing Braze sent is lost.").
				Default("connector"),
			service.NewStringEnumField(ctsFieldUnknownEventTypes, "reject", "skip", "passthrough").
				Description("What to do with an event whose type is in no catalog, not one of the 96 this processor knows (a known type outside `events` is always skipped as `not_selected`). `reject` flags the message with an error for a dead-letter route; `skip` drops it and counts it with reason `unknown_event_type`; `passthrough` maps it generically, every field a property, with the raw type as the Segment event name.").
				Default("reject"),
			service.NewInterpolatedStringField(ctsFieldEventType).
				// No Example: `create` would write one type in for every record.
				Description("The event type of flat records that carry neither an `event_type` field nor an `event_type=<type>` segment in their `path` metadata, for example rows exported by hand from a single-type table: `users.messages.email.Send`, or `${! @kafka_topic.trim_prefix(\"currents.\") }`. Interpolated per message.").
				Optional(),
		).
		LintRule(`
let events = this.`+ctsFieldEvents+`.or([]).filter(e -> e != "`+currents.SelectDefault+`").`+lintEventTypesMethod+`().map_each(m -> "`+ctsFieldEvents+`: " + m)
let names = if this.`+ctsFieldUnknownEventTypes+`.or("reject") == "passthrough" { [] } else {
  this.`+ctsFieldEventNames+`.or({}).keys().`+lintEventTypesMethod+`().map_each(m -> "`+ctsFieldEventNames+`: " + m)
}
root = $events.merge($names)
`).
		Example("Braze HTTP batches", "Maps the HTTP batches Braze's custom Currents connector posts.", `
pipeline:
  processors:
    - currents_to_segment: {}
`).
		Example("Storage replay with anonymous users", "Maps a storage export read with the braze_storage input, sending anonymous users and every field.", `
input:
  braze_storage:
    url: s3://my-braze-exports?region=us-east-1
    prefix: currents
    checkpoint: ./storage-checkpoint.db
pipeline:
  processors:
    - currents_to_segment:
        anonymous_users: send
        properties: all
`)
}

func init() {
	err := service.RegisterProcessor(componentname.CurrentsToSegment, currentsToSegmentSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Processor, error) {
			return newCurrentsToSegmentFromParsed(conf, mgr)
		})
	if err != nil {
		panic(err)
	}
}

func newCurrentsToSegmentFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*currentsToSegment, error) {
	var opts currents.Options
	var err error
	if opts.Events, err = conf.FieldStringList(ctsFieldEvents); err != nil {
		return nil, err
	}
	if opts.EventNames, err = conf.FieldStringMap(ctsFieldEventNames); err != nil {
		return nil, err
	}
	anon, err := conf.FieldString(ctsFieldAnonymousUsers)
	if err != nil {
		return nil, err
	}
	switch anon {
	case "skip":
	case "send":
		opts.AnonymousUsers = currents.AnonymousSend
	default:
		return nil, fmt.Errorf("%s: %q is not an option; use skip or send", ctsFieldAnonymousUsers, anon)
	}
	props, err := conf.FieldString(ctsFieldProperties)
	if err != nil {
		return nil, err
	}
	switch props {
	case "connector":
	case "all":
		opts.Properties = currents.PropertiesAll
	default:
		return nil, fmt.Errorf("%s: %q is not an option; use connector or all", ctsFieldProperties, props)
	}
	unknown, err := conf.FieldString(ctsFieldUnknownEventTypes)
	if err != nil {
		return nil, err
	}
	switch unknown {
	case "reject":
	case "skip":
		opts.UnknownTypes = currents.UnknownSkip
	case "passthrough":
		opts.UnknownTypes = currents.UnknownPassthrough
	default:
		return nil, fmt.Errorf("%s: %q is not an option; use reject, skip or passthrough", ctsFieldUnknownEventTypes, unknown)
	}
	p := &currentsToSegment{
		log:     mgr.Logger(),
		run:     runTallyOf(mgr),
		firsts:  ratelog.New(0),
		mapped:  mgr.Metrics().NewCounter("currents_events_mapped", "event_type"),
		skipped: mgr.Metrics().NewCounter("currents_events_skipped", "event_type", "reason"),
		failed:  mgr.Metrics().NewCounter("currents_events_failed", "event_type", "reason"),
	}
	if conf.Contains(ctsFieldEventType) {
		eventType, err := conf.FieldInterpolatedString(ctsFieldEventType)
		if err != nil {
			return nil, err
		}
		// A type without interpolations (or with only ${ENV} ones, which
		// the config resolved) is the same for every message: resolved once.
		if static, ok := eventType.Static(); ok {
			p.defaultType = strings.TrimSpace(static)
		} else {
			p.eventType = eventType
		}
	}
	if p.mapper, err = currents.NewMapper(currents.DefaultCatalog(), opts); err != nil {
		return nil, err
	}
	p.exportSeries(opts)
	p.results.New = func() any { return new([]currents.Result) }
	return p, nil
}

// currentsToSegment is stateless apart from its log-once set, so pipeline
// threads share it.
type currentsToSegment struct {
	mapper *currents.Mapper
	// defaultType is the configured event_type when it is the same for
	// every message; eventType is set instead when it is interpolated per
	// message, and then evaluated only for messages that need it.
	defaultType string
	eventType   *service.InterpolatedString
	log         *service.Logger
	run         *runTally

	mapped, skipped, failed *service.MetricCounter

	// firsts lets the first skip or failure of each kind through at
	// INFO/WARN: the first is worth a line, the millionth is noise (it is
	// still counted, and logged at DEBUG).
	firsts *ratelog.Limiter

	// results are reused between messages: one slice per concurrent
	// caller instead of one per message.
	results sync.Pool
}

func (p *currentsToSegment) Process(ctx context.Context, msg *service.Message) (service.MessageBatch, error) {
	if msg.GetError() != nil {
		// Flagged before it got here (a damaged disk-buffer record, an
		// earlier processor): mapping it would replace that error with one
		// about its bytes, so it goes on untouched to the dead-letter route.
		return service.MessageBatch{msg}, nil
	}
	data, err := msg.AsBytes()
	if err != nil {
		return nil, err
	}
	buf := p.results.Get().(*[]currents.Result)
	from := currents.Origin{DefaultType: p.defaultType}
	from.Path, _ = msg.MetaGet("path")
	if t, ok := msg.MetaGet(metaEventType); ok && t != "" {
		// The input knew the type (braze_storage, from the object's folder
		// or its schema): more specific than this processor's default.
		from.DefaultType = t
	}
	results := p.mapper.AppendMap((*buf)[:0], data, &from)
	if p.eventType != nil && lacksType(results) {
		// Interpolated only now, for the message that needs it: an event
		// that names its own type never pays for it. The mapping is
		// deterministic, so mapping again with the type replaces every
		// result alike.
		if t, err := p.eventType.TryString(msg); err == nil && strings.TrimSpace(t) != "" {
			from.DefaultType = strings.TrimSpace(t)
			clear(results)
			results = p.mapper.AppendMap(results[:0], data, &from)
		}
	}
	defer func() {
		clear(results) // the pool must not keep events alive
		*buf = results[:0]
		p.results.Put(buf)
	}()
	out := make(service.MessageBatch, 0, len(results))
	var mapped, failed int64
	var perType typeTally
	mark := conformingMark{msg: msg, calls: len(results)}
	var values metaValues
	for i := range results {
		r := &results[i]
		var m *service.Message
		switch {
		case len(results) == 1 && !conforms(r):
			m = msg
		default:
			// A copy, marked for the output if its call conforms (see
			// conforming_call.go); its bytes are set below, as every
			// mapped call's are.
			m = mark.copyFor(r)
		}
		label := metricType(r)
		switch r.Outcome {
		case currents.Mapped:
			mapped++
			perType.add(label)
			m.SetBytes(r.Track)
		case currents.Skipped:
			p.skipped.Incr(1, label, r.SkipReason)
			p.run.skip(r.SkipReason)
			p.logOnce("skip|"+label+"|"+r.SkipReason, func(l *service.Logger) {
				l.Infof("Skipping Currents events of type %s: %s (counted in currents_events_skipped; further ones logged at DEBUG)", r.EventType, r.SkipReason)
			}, func(l *service.Logger) {
				l.Debugf("Skipped Currents event %q of type %s: %s", r.EventID, r.EventType, r.SkipReason)
			})
			continue
		case currents.Failed:
			reason := failureReason(r.Err)
			failed++
			p.failed.Incr(1, label, reason)
			p.logOnce("fail|"+label+"|"+reason, func(l *service.Logger) {
				l.Warnf("Flagging a Currents event that cannot be mapped, for the dead-letter route (counted in currents_events_failed; further ones logged at DEBUG): %v", r.Err)
			}, func(l *service.Logger) {
				l.Debugf("Flagged: %v", r.Err)
			})
			// The dead letter gets the event itself, not the batch it came in.
			m.SetBytes(r.Raw)
			m.SetError(r.Err)
		}
		if r.EventType != "" {
			m.MetaSetMut(metaEventType, values.of(r.EventType))
		}
		if r.EventID != "" {
			m.MetaSetMut(metaEventID, r.EventID)
		}
		if r.SegmentEvent != "" {
			m.MetaSetMut(metaSegmentEvent, values.of(r.SegmentEvent))
		}
		if r.AppGroupID != "" {
			m.MetaSetMut(metaAppGroupID, values.of(r.AppGroupID))
		}
		out = append(out, m)
	}
	for _, c := range perType {
		p.mapped.Incr(c.n, c.label)
	}
	p.run.mappedBatch(mapped, failed)
	return out, nil
}

// typeTally counts a message's mapped events per type label, so that the
// labelled counter (a lookup of its label values on every call) is
// incremented once per type and message rather than once per event: a
// Braze request of 100 events holds a handful of types.
type typeTally []typeCount

type typeCount struct {
	label string
	n     int64
}

func (t *typeTally) add(label string) {
	for i := range *t {
		if (*t)[i].label == label {
			(*t)[i].n++
			return
		}
	}
	*t = append(*t, typeCount{label, 1})
}

// exportSeries creates, at 0, every series the processor can count, so that
// an alert on increase() fires on the first event of a kind rather than on
// the second (a series that appears with 1 has no increase yet).
func (p *currentsToSegment) exportSeries(opts currents.Options) {
	for _, t := range currents.DefaultCatalog().Types() {
		if !p.mapper.Selected(t) {
			p.skipped.Incr(0, t.Name, currents.SkipNotSelected)
			continue
		}
		p.mapped.Incr(0, t.Name)
		p.skipped.Incr(0, t.Name, currents.SkipAnonymous)
		p.skipped.Incr(0, t.Name, currents.SkipNoIdentity)
		p.failed.Incr(0, t.Name, "invalid_field")
	}
	p.failed.Incr(0, "none", "invalid_json")
	switch opts.UnknownTypes {
	case currents.UnknownReject:
		p.failed.Incr(0, "unknown", "unknown_event_type")
	case currents.UnknownSkip:
		p.skipped.Incr(0, "unknown", currents.SkipUnknownType)
	case currents.UnknownPassthrough:
		p.mapped.Incr(0, "unknown")
	}
}

// lacksType reports whether an event of the message failed for want of a
// type, which the interpolated event_type may give.
func lacksType(results []currents.Result) bool {
	for i := range results {
		if results[i].Outcome == currents.Failed && errors.Is(results[i].Err, currents.ErrNoEventType) {
			return true
		}
	}
	return false
}

// metricType keeps label cardinality bounded: unknown types, whose names come
// from input data, share one label value.
func metricType(r *currents.Result) string {
	switch {
	case r.Known:
		return r.EventType
	case r.EventType == "":
		return "none"
	}
	return "unknown"
}

// failureReason is the reason label of a failed event: the whole event is
// not one, its type is unknown, or one of its fields is wrong.
func failureReason(err error) string {
	var notEvent *currents.NotEventError
	var unknown *currents.UnknownEventTypeError
	var event *currents.EventError
	switch {
	case errors.As(err, &notEvent):
		return "invalid_json"
	case errors.As(err, &unknown):
		return "unknown_event_type"
	case errors.As(err, &event):
		return "invalid_field"
	}
	return "invalid_event"
}

func (p *currentsToSegment) logOnce(key string, first, rest func(*service.Logger)) {
	if p.log == nil {
		return
	}
	if due, _ := p.firsts.Allow(key); due {
		first(p.log)
		return
	}
	rest(p.log)
}

func (p *currentsToSegment) Close(ctx context.Context) error { return nil }
