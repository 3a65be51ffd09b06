package samples

import (
	"encoding/base64"
	"math/rand/v2"
	"strconv"
	"strings"
)

// value returns a plain value for field f of event e. Fields are recognised
// by name, since the same name means the same thing in every schema; a field
// this package has never heard of still gets a value of the right Avro type,
// so a new schema in the contract keeps working.
func (g *Generator) value(e *event, f field) any {
	r := g.rng
	u := e.user
	switch f.name {
	// Identity, time and device.
	case "id":
		return uuid4(r)
	case "user_id":
		return u.brazeID
	case "external_user_id":
		if u.externalID == "" { // required somewhere: fall back to a known user
			return "user-" + digits(r, 6)
		}
		return u.externalID
	case "time":
		return e.time
	case "timezone":
		return u.region.tz
	case "device_id":
		return u.deviceID
	case "platform":
		return u.platform
	case "device_model":
		return u.device.model
	case "os_version":
		return u.device.os
	case "resolution":
		return u.device.resolution
	case "carrier":
		return u.carrier
	case "ad_id":
		return u.adID
	case "ad_id_type":
		return u.adIDType
	case "ad_tracking_enabled":
		return u.adTracking
	case "push_token":
		return u.pushToken
	case "locale_key":
		return u.region.locale
	case "email_address":
		return u.email
	case "mailbox_provider":
		return u.mailbox
	case "phone_number", "to_phone_number", "user_phone_number":
		return u.phone
	case "from_phone_number", "inbound_phone_number":
		return g.cat.senderNumbers[r.IntN(len(g.cat.senderNumbers))]
	case "app_id":
		return e.app.apps[u.platform]
	case "app_group_id", "app_group_api_id":
		return e.app.id

	// Campaign, Canvas and message.
	case "campaign_id":
		return e.camp.id
	case "campaign_name":
		return e.camp.name
	case "message_variation_id":
		return e.campVar.id
	case "message_variation_name":
		return e.campVar.name
	case "canvas_id", "canvas_api_id":
		return e.canv.id
	case "canvas_name":
		return e.canv.name
	case "canvas_variation_id", "canvas_variation_api_id":
		return e.canvVar.id
	case "canvas_variation_name":
		return e.canvVar.name
	case "canvas_step_id", "canvas_step_api_id", "experiment_step_id":
		return e.step.id
	case "canvas_step_name":
		return e.step.name
	case "canvas_step_message_variation_id":
		return e.step.messageVariationID
	case "experiment_split_id", "experiment_split_name":
		sp := &e.canv.splits[int(e.time)%len(e.canv.splits)]
		if f.name == "experiment_split_id" {
			return sp.id
		}
		return sp.name
	case "in_control_group":
		return r.IntN(10) == 0
	case "dispatch_id", "send_id":
		return objectID(r, e.time-r.Int64N(3600))
	case "conversion_behavior":
		return oneOf(r, conversionBehaviors)
	case "conversion_behavior_index":
		return int64(r.IntN(3))
	case "message_extras":
		return oneOf(r, messageExtras)
	case "content_card_id":
		raw := objectID(r, e.time) + "_$_cc=" + uuid4(r) + "&mv=" + e.campVar.id + "&pi=cmp"
		return base64.StdEncoding.EncodeToString([]byte(raw))
	case "card_id":
		return uuid4(r)
	case "abort_type":
		return abortTypes[int(e.time)%len(abortTypes)]
	case "abort_log":
		return oneOf(r, abortLogs[abortTypes[int(e.time)%len(abortTypes)]])

	// E-mail.
	case "esp":
		return e.app.esp
	case "from_domain":
		return e.app.fromDomain
	case "ip_pool":
		return oneOf(r, []string{"marketing", "transactional", "default"})
	case "sending_ip":
		return []string{"198.51.100.", "203.0.113."}[r.IntN(2)] + strconv.Itoa(2+r.IntN(250))
	case "bounce_reason":
		return oneOf(r, bounceReasons)
	case "user_agent":
		return e.agent.ua
	case "device_class":
		return e.agent.class
	case "device_os":
		return e.agent.os
	case "browser":
		return e.agent.browser
	case "machine_open":
		return "true"
	case "is_amp":
		return r.IntN(100) < 3
	case "is_drop":
		return r.IntN(100) < 5
	case "is_suspected_bot_click":
		return r.IntN(100) < 4
	case "suspected_bot_click_reason":
		return stringArray(r, botReasons, 3)
	case "link_id":
		return alnum(r, 8)
	case "link_alias":
		return oneOf(r, linkAliases)
	case "url":
		return g.clickURL(e)
	case "short_url":
		return "https://brz.ai/" + alnum(r, 8)

	// SMS and WhatsApp.
	case "message_body":
		return oneOf(r, messageBodies)
	case "quick_reply_text":
		return oneOf(r, quickReplies)
	case "media_urls":
		return mediaURLs(r)
	case "action":
		return oneOf(r, []string{"None", "None", "None", "Subscribed", "Unsubscribed"})
	case "category":
		return oneOf(r, []string{"opt-in", "opt-out", "help", "order-status"})
	case "error":
		return oneOf(r, smsErrors)
	case "provider_error_code":
		if strings.Contains(e.schema.eventType, ".whatsapp.") {
			return whatsappErrors[int(e.time)%len(whatsappErrors)].code
		}
		return oneOf(r, twilioErrorCodes)
	case "provider_error_title":
		return whatsappErrors[int(e.time)%len(whatsappErrors)].title
	case "is_sms_fallback":
		return r.IntN(100) < 5
	case "template_name":
		return oneOf(r, templateNames)
	case "message_id", "in_reply_to":
		return "wamid." + base64URL(r, 36)
	case "bsuid":
		return u.region.country + "." + digits(r, 16)
	case "flow_id":
		return g.cat.flowIDs[r.IntN(len(g.cat.flowIDs))]
	case "flow_response_json":
		return oneOf(r, flowResponses)
	case "catalog_id":
		return g.cat.catalogIDs[r.IntN(len(g.cat.catalogIDs))]
	case "product_id":
		return "SKU-" + digits(r, 5)

	// Custom events and purchases.
	case "name":
		if _, ok := customObjects[e.schema.eventType]; ok {
			return customEventName(r)
		}
	case "properties":
		if _, ok := customObjects[e.schema.eventType]; ok {
			return customProperties(r, e.schema.eventType)
		}

	// Push and in-app messages.
	case "button_action_type":
		return oneOf(r, []string{"uri", "deep_link", "none", "close"})
	case "button_string":
		return oneOf(r, buttonStrings)
	case "button_id":
		return strconv.Itoa(r.IntN(3))
	case "version":
		return oneOf(r, []string{"triggered", "triggered", "legacy"})

	// Subscriptions.
	case "channel":
		return e.channel
	case "channel_identifier":
		switch e.channel {
		case "email":
			return u.email
		case "push":
			return u.deviceID
		}
		return u.phone
	case "subscription_group_id":
		return g.cat.subscriptionGroups[r.IntN(len(g.cat.subscriptionGroups))]
	case "subscription_status":
		if strings.Contains(e.schema.eventType, "GlobalStateChange") {
			return oneOf(r, []string{"Subscribed", "Unsubscribed", "Opted In"})
		}
		return oneOf(r, []string{"Subscribed", "Subscribed", "Unsubscribed"})
	case "state_change_source":
		return oneOf(r, stateChangeSources)
	}
	return fallback(r, f)
}

// clickURL is the link a user followed: a page of the workspace's site with
// the tracking parameters marketers add.
func (g *Generator) clickURL(e *event) string {
	r := g.rng
	u := "https://" + e.app.site + urlPaths[r.IntN(len(urlPaths))]
	if r.IntN(4) != 0 {
		medium := "email"
		if strings.Contains(e.schema.eventType, ".sms.") {
			medium = "sms"
		}
		u += "?utm_source=braze&utm_medium=" + medium + "&utm_campaign=" + slug(e.camp.name)
	}
	return u
}

// mediaURLs returns zero to three MMS media links.
func mediaURLs(r *rand.Rand) []any {
	n := r.IntN(4)
	out := make([]any, n)
	for i := range out {
		out[i] = "https://api.twilio.com/2010-04-01/Accounts/AC" + randHex(r, 32) + "/Messages/MM" + randHex(r, 32) + "/Media/ME" + randHex(r, 32)
	}
	return out
}

// stringArray returns zero to max distinct entries of list.
func stringArray(r *rand.Rand, list []string, max int) []any {
	n := r.IntN(max + 1)
	perm := r.Perm(len(list))
	out := make([]any, n)
	for i := range out {
		out[i] = list[perm[i]]
	}
	return out
}

func oneOf(r *rand.Rand, xs []string) string {
	return xs[r.IntN(len(xs))]
}

// fallback gives a field no rule knows a value of its Avro type.
func fallback(r *rand.Rand, f field) any {
	switch f.kind {
	case kindInt, kindLong:
		return int64(r.IntN(1000))
	case kindBool:
		return r.IntN(2) == 0
	case kindFloat:
		// Quarters: exact in an Avro float, so a record reads back as it
		// was generated.
		return float64(r.IntN(4000)) / 4
	case kindStringArray, kindNullableStringArray:
		return stringArray(r, []string{"alpha", "beta", "gamma", "delta"}, 3)
	}
	return f.name + "-" + alnum(r, 6)
}
