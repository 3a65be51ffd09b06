package samples

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Streams of the seeded PCG generator: each kind of derived randomness gets
// its own stream so that, for example, a user's attributes do not depend on
// how many events were generated before the user was first picked.
const (
	mainStream    = 0x5ca1ab1e
	catalogStream = 0xca7a1065
	userStream    = 0x05e25eed
)

// userPoolSize is how many distinct users the events are spread over. It is
// small enough that users recur (as they do in a real export, which identity
// resolution downstream must cope with) and large enough that a million
// events do not look like a handful of people.
const userPoolSize = 10000

// The default time window is the week before 2026-11-28 00:00 UTC: fixed, so
// that the same seed gives the same bytes on any day.
var (
	defaultWindowEnd = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	defaultWindow    = 7 * 24 * time.Hour
)

// Generator produces Currents events. It is deterministic for a given seed
// and sequence of calls. It is not safe for concurrent use: give each
// goroutine its own Generator, with its own seed.
type Generator struct {
	seed  uint64
	rng   *rand.Rand
	start int64 // unix seconds, first second of the time window
	span  int64 // seconds in the time window, at least 1
	users []*user
	cat   *catalog
}

// New returns a Generator seeded with seed. Its events fall in the week
// before 2026-11-28 00:00 UTC unless SetTimeWindow says otherwise.
func New(seed int64) *Generator {
	s := uint64(seed)
	g := &Generator{
		seed:  s,
		rng:   rand.New(rand.NewPCG(s, mainStream)),
		users: make([]*user, userPoolSize),
		cat:   newCatalog(rand.New(rand.NewPCG(s, catalogStream))),
	}
	g.SetTimeWindow(defaultWindowEnd.Add(-defaultWindow), defaultWindow)
	return g
}

// SetTimeWindow makes the `time` of the following events fall in
// [start, start+d), in whole seconds.
func (g *Generator) SetTimeWindow(start time.Time, d time.Duration) {
	g.start = start.Unix()
	g.span = max(int64(d/time.Second), 1)
}

// Record returns a new event of eventType as a flat storage record: the map
// an Avro row of that type's export decodes to, with plain Go values (string,
// int64 for Avro int and long, bool, []any of strings). Every required field
// is set. A nullable field is null in roughly 10 to 20 percent of events (more
// for fields Braze only fills in some situations, such as push button clicks,
// and the campaign or the Canvas fields of a message, which belongs to one of
// the two); a null field is a nil value two times in three and left out of the
// map otherwise, since JSON producers differ on the spelling. About 10 percent
// of users have no external_user_id.
//
// Record panics if eventType has no Avro schema in the contract: the list is
// Types(ShapeStorage), and asking for anything else is a bug in the caller.
func (g *Generator) Record(eventType string) map[string]any {
	s, err := schemaOf(eventType)
	if err != nil {
		panic(err)
	}
	return g.record(s, g.start, g.span)
}

// record builds one event of schema s with a time in [start, start+span).
func (g *Generator) record(s *eventSchema, start, span int64) map[string]any {
	e := g.newEvent(s, start+g.rng.Int64N(span))
	rec := make(map[string]any, len(s.fields))
	for _, f := range s.fields {
		if f.nullable && g.isNull(e, f.name) {
			if g.rng.IntN(3) != 0 {
				rec[f.name] = nil
			}
			continue
		}
		rec[f.name] = g.value(e, f)
	}
	return rec
}

// event holds what the fields of one record must agree on: who the user is,
// which campaign or Canvas sent the message, and which browser clicked.
type event struct {
	schema  *eventSchema
	time    int64
	user    *user
	app     *appGroup
	camp    *campaign
	campVar *variant
	canv    *canvas
	canvVar *variant
	step    *step
	agent   *agentProfile
	channel string // of a subscription event: "email", "sms", ...

	noCampaign bool // the campaign fields are null: a Canvas sent it
	noCanvas   bool // the Canvas fields are null: a campaign sent it
}

func (g *Generator) newEvent(s *eventSchema, when int64) *event {
	e := &event{schema: s, time: when, user: g.pickUser()}
	e.app = &g.cat.appGroups[e.user.appGroup]
	e.camp = pick(g.rng, g.cat.campaigns)
	e.campVar = pick(g.rng, e.camp.variations)
	e.canv = pick(g.rng, g.cat.canvases)
	e.canvVar = pick(g.rng, e.canv.variations)
	e.step = pick(g.rng, e.canv.steps)
	e.agent = pickAgent(g.rng, e.user.platform)
	if _, ok := s.byName["channel"]; ok {
		// Global subscription states exist for e-mail and push,
		// subscription groups for e-mail, SMS and WhatsApp.
		if strings.HasSuffix(s.eventType, "GlobalStateChange") {
			e.channel = oneOf(g.rng, []string{"email", "push"})
		} else {
			e.channel = oneOf(g.rng, []string{"email", "sms", "whatsapp"})
		}
	}

	// A message comes from a campaign or from a Canvas, not both: where the
	// schema has both sets of fields, the other set is null, unless the
	// schema makes it required.
	campReq, hasCamp := s.required("campaign_id")
	canvReq, hasCanv := s.required("canvas_id")
	switch {
	case campReq && !canvReq:
		e.noCanvas = true
	case canvReq && !campReq:
		e.noCampaign = true
	case hasCamp && hasCanv && !campReq:
		if g.rng.IntN(5) < 2 {
			e.noCampaign = true
		} else {
			e.noCanvas = true
		}
	}
	return e
}

// isNull decides whether a nullable field is null in this event.
func (g *Generator) isNull(e *event, name string) bool {
	switch name {
	case "external_user_id":
		return e.user.externalID == ""
	case "campaign_id", "campaign_name", "message_variation_id", "message_variation_name":
		if e.noCampaign {
			return true
		}
	case "canvas_id", "canvas_name", "canvas_variation_id", "canvas_variation_name",
		"canvas_step_id", "canvas_step_name", "canvas_step_message_variation_id",
		"canvas_api_id", "canvas_variation_api_id", "canvas_step_api_id":
		if e.noCanvas {
			return true
		}
	case "ad_id", "ad_id_type", "ad_tracking_enabled", "push_token":
		if e.user.platform == "web" {
			return true
		}
	}
	return g.rng.IntN(100) < nullPercent(name)
}

// nullPercent is how often a nullable field is null, in percent, when nothing
// about the event forces it. Most fields use the 12 percent default; the
// others are the ones Braze only fills in some situations.
func nullPercent(name string) int {
	switch name {
	case "button_action_type", "button_string", "button_id", "category", "in_reply_to":
		return 75
	case "machine_open", "locale_key", "flow_id", "flow_response_json", "catalog_id", "product_id",
		"quick_reply_text":
		return 60
	case "message_extras", "is_sms_fallback", "link_alias", "media_urls":
		return 40
	}
	return 12
}

// pickUser returns a user of the pool, creating it on first use from its own
// random stream, so that user i is the same person whatever came before.
func (g *Generator) pickUser() *user {
	i := g.rng.IntN(userPoolSize)
	if g.users[i] == nil {
		g.users[i] = newUser(g.seed, i, len(g.cat.appGroups))
	}
	return g.users[i]
}

// required reports whether the schema has the field and, if so, whether it
// is required (not a ["null", T] union).
func (s *eventSchema) required(name string) (required, ok bool) {
	i, ok := s.byName[name]
	return ok && !s.fields[i].nullable, ok
}

func pick[T any](r *rand.Rand, xs []T) *T {
	return &xs[r.IntN(len(xs))]
}

// mustSchema is schemaOf for event types that come from the contract itself.
func mustSchema(eventType string) *eventSchema {
	s, err := schemaOf(eventType)
	if err != nil {
		panic(fmt.Sprintf("samples: %v", err))
	}
	return s
}
