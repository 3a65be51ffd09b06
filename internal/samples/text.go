package samples

// The word lists below are the human-readable side of the events. Some
// entries deliberately carry characters an encoder must escape or pass
// through intact (double quotes, backslashes, newlines, tabs, emoji, accents
// and non-Latin scripts), because real campaign names and inbound messages
// do, and a pipeline that only ever saw ASCII would not be tested.

type brand struct {
	name, site, mailDomain, esp string
}

var brands = []brand{
	{"Northwind Outfitters", "www.northwind-outfitters.com", "mail.northwind-outfitters.com", "SendGrid"},
	{"Café Lumière", "www.cafe-lumiere.fr", "news.cafe-lumiere.fr", "SparkPost"},
	{"Tailspin Travel", "tailspin.travel", "email.tailspin.travel", "Amazon SES"},
}

var campaignNames = []string{
	"Welcome Series – Day 1",
	"Welcome Series – Day 3",
	"Spring Sale 2026: 20% off everything",
	"Abandoned Cart Reminder",
	`Black Friday "Doorbusters" 🛍️`,
	"Re-engagement / Win-back (90d)",
	"Café & Bäckerei — Wochenangebot",
	`Q4 Promo \ EU only`,
	"Order Shipped\nTransactional",
	"お得なセール情報",
	"Price Drop Alert 📉",
	"Loyalty: Gold Tier Upgrade",
	"Password Reset (transactional)",
	"Weekly Digest",
	"App Update v5.2 – What's new",
	"¡Oferta de verano!",
	"Back in Stock",
	"NPS Survey – Q3",
	"Feature Announcement: Dark Mode 🌙",
	"Flight Delay Notice",
	"Birthday Coupon 🎂",
	"Push Opt-in Primer",
	"Low Balance Warning",
	"Δοκιμή – Greek market test",
}

var variationNames = []string{
	"Variant A", "Variant B", "Variant C", "Control Group", "Short copy", "Long copy – emoji 😀",
	`Subject "Last chance"`, "Personalized (Liquid)",
}

var canvasNames = []string{
	"Onboarding Journey 2026",
	"Cart Abandonment Flow",
	"Lapsed User Win-back",
	"Post-Purchase Cross-sell",
	"Birthday 🎂 Rewards",
	"Trial → Paid Conversion",
	`VIP "Early Access" Journey`,
	"Reactivación de clientes",
	"Subscription Renewal\\Reminder",
	"Trip Countdown ✈️",
}

var canvasVariationNames = []string{"Variant 1", "Variant 2", "Variant 3", "Control"}

var stepNames = []string{
	"Entry", "Wait 1 day", "Push: Reminder", "Email: Offer", "Decision Split", "Audience Path: Engaged",
	"Action Path", "In-App: Welcome", "SMS: Last call", "Experiment Path", "Message – Dankeschön", "Exit",
}

var splitNames = []string{"Path 1", "Path 2", "Path 3", "Control", "Personalized Path"}

var messageBodies = []string{
	"STOP", "START", "HELP", "Yes", "Y", "No thanks",
	"When will my order ship?",
	"¿Cuándo llega mi pedido?",
	"Merci beaucoup ! 😊",
	`He said "use code SAVE20" but it didn't work`,
	"Line one\nLine two",
	`C:\Users\me\Downloads\receipt.pdf`,
	"👍",
	"お問い合わせありがとうございます",
	"Tab\tseparated\tvalues",
	"Straße 12, 80331 München",
	"Can I change my delivery address to 221B Baker St?",
	"unsubscribe pls",
}

var quickReplies = []string{"Yes", "No thanks", "Talk to an agent", "Sí, por favor", "Remind me tomorrow ⏰"}

var buttonStrings = []string{"View offer", "Remind me later", "Shop now", "Dismiss", "Ver más", "Track order"}

var linkAliases = []string{"hero_cta", "shop_now_button", "footer_unsubscribe", "product_grid_1", "logo", "view_in_browser"}

var urlPaths = []string{"/", "/sale", "/cart", "/account/orders", "/p/merino-wool-sweater", "/blog/winter-guide", "/app/open", "/c/café-au-lait"}

var abortTypes = []string{"liquid_abort_message", "quiet_hours", "rate_limit"}

// abortLogs holds plausible log lines per abort type, at most 128 characters
// as the schema's doc allows.
var abortLogs = map[string][]string{
	"liquid_abort_message": {
		`abort_message("User has no \"favorite_store\" attribute")`,
		"abort_message: no recommendations for locale pt-BR",
		"abort_message(\"Connected Content returned 503\")",
		`abort_message("cart empty")`,
	},
	"quiet_hours": {"Message aborted: user is in quiet hours (22:00–08:00 local time)"},
	"rate_limit":  {"Message aborted: campaign rate limit of 50000/min reached", "Frequency capping: 3 messages per 7 days"},
}

var bounceReasons = []string{
	"550 5.1.1 The email account that you tried to reach does not exist.",
	"552 5.2.2 The recipient's mailbox is full and can't accept messages now.",
	"554 5.7.1 Message rejected: \"spam\" content detected",
	"421 4.7.0 Try again later, closing connection.",
	"450 4.2.1 The user you are trying to contact is receiving mail too quickly.",
	"550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy.",
}

var smsErrors = []string{"Undeliverable", "Unknown error", "Carrier Violation", "Unreachable destination handset", "Blocked as spam"}

var twilioErrorCodes = []string{"30003", "30005", "30006", "30007", "30008", "21610"}

// whatsappErrors are Cloud API error codes with their titles.
var whatsappErrors = []struct{ code, title string }{
	{"131026", "Message undeliverable"},
	{"131047", "Re-engagement message"},
	{"131049", "This message was not delivered to maintain healthy ecosystem engagement."},
	{"130472", "User's number is part of an experiment"},
	{"131053", "Media upload error"},
}

var templateNames = []string{"order_update_v2", "welcome_offer", "cart_reminder_es", "flight_status", "appointment_reminder"}

var botReasons = []string{"user_agent", "ip_address", "click_velocity", "hidden_link"}

var stateChangeSources = []string{"REST API", "SDK", "Dashboard", "CSV Import", "Subscription Center", "Inbound SMS", "Migration"}

var conversionBehaviors = []string{
	`{"type":"makes_purchase","window":259200}`,
	`{"type":"performs_custom_event","custom_event_name":"completed_onboarding","window":604800}`,
	`{"type":"starts_session","app_ids":null,"window":86400}`,
	`{"type":"performs_custom_event","custom_event_name":"added \"gift\" wrap","window":172800}`,
}

var messageExtras = []string{
	`{"coupon":"SAVE20","tier":"gold"}`,
	`{"recommendation_model":"v3","items":"SKU-1042,SKU-2211"}`,
	`{"store":"Zürich HB","note":"line1\nline2"}`,
	`{}`,
}

var flowResponses = []string{
	`{"flow_token":"unused","screen_0_Name_0":"Zoë","screen_0_Rating_1":"5"}`,
	`{"screen_0_Email_0":"amara@example.com","screen_0_Comment_1":"Great \"service\" 👍"}`,
}
