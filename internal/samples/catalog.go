package samples

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// A region ties together what must agree for one user: time zone, phone
// numbering plan, message locale and mobile carriers.
type region struct {
	weight   int
	tz       string
	cc       string   // country calling code, with the plus
	prefixes []string // area codes or mobile prefixes after the country code
	rest     int      // digits after the prefix
	locale   string
	country  string
	carriers []string
}

// The regions lean on North America, where most Braze workspaces send from.
var regions = []region{
	{14, "America/New_York", "+1", []string{"212", "646", "917", "718", "617", "305"}, 7, "en-us", "US", []string{"Verizon", "AT&T", "T-Mobile"}},
	{9, "America/Chicago", "+1", []string{"312", "773", "214", "512", "612"}, 7, "en-us", "US", []string{"Verizon", "AT&T", "T-Mobile"}},
	{4, "America/Denver", "+1", []string{"303", "720", "801"}, 7, "en-us", "US", []string{"Verizon", "AT&T", "T-Mobile"}},
	{10, "America/Los_Angeles", "+1", []string{"415", "628", "213", "310", "206"}, 7, "en-us", "US", []string{"Verizon", "AT&T", "T-Mobile"}},
	{3, "America/Toronto", "+1", []string{"416", "647"}, 7, "en-ca", "CA", []string{"Rogers", "Bell", "Telus"}},
	{3, "America/Mexico_City", "+52", []string{"55"}, 8, "es-mx", "MX", []string{"Telcel", "AT&T México"}},
	{4, "America/Sao_Paulo", "+55", []string{"119", "219"}, 8, "pt-br", "BR", []string{"Vivo", "Claro", "TIM"}},
	{6, "Europe/London", "+44", []string{"7"}, 9, "en-gb", "GB", []string{"EE", "Vodafone UK", "O2 - UK"}},
	{4, "Europe/Berlin", "+49", []string{"151", "160", "176"}, 8, "de-de", "DE", []string{"Telekom.de", "Vodafone.de", "o2 - de"}},
	{3, "Europe/Paris", "+33", []string{"6", "7"}, 8, "fr-fr", "FR", []string{"Orange F", "SFR", "Free"}},
	{2, "Europe/Madrid", "+34", []string{"6"}, 8, "es-es", "ES", []string{"Movistar", "Orange", "Vodafone ES"}},
	{3, "Asia/Tokyo", "+81", []string{"90", "80", "70"}, 8, "ja-jp", "JP", []string{"NTT DOCOMO", "au", "SoftBank"}},
	{3, "Asia/Kolkata", "+91", []string{"9", "8", "7"}, 9, "en-in", "IN", []string{"Jio", "Airtel", "Vi India"}},
	{2, "Asia/Singapore", "+65", []string{"8", "9"}, 7, "en-sg", "SG", []string{"Singtel", "StarHub"}},
	{2, "Australia/Sydney", "+61", []string{"4"}, 8, "en-au", "AU", []string{"Telstra", "Optus"}},
	{2, "Africa/Lagos", "+234", []string{"80", "81", "70"}, 8, "en-ng", "NG", []string{"MTN NG", "Airtel NG", "Glo"}},
}

var regionWeights = weightsOf(regions, func(r region) int { return r.weight })

// phoneNumber returns an E.164 number of the region. North American numbers
// keep the rule that an exchange does not start with 0 or 1.
func (rg *region) phoneNumber(r *rand.Rand) string {
	p := rg.prefixes[r.IntN(len(rg.prefixes))]
	if rg.cc == "+1" {
		return rg.cc + p + strconv.Itoa(2+r.IntN(8)) + digits(r, rg.rest-1)
	}
	return rg.cc + p + digits(r, rg.rest)
}

// device is what a user's phone, tablet or browser reports.
type device struct {
	model, os, resolution string
}

var devices = map[string][]device{
	"ios": {
		{"iPhone 15 Pro", "17.5.1", "1179x2556"}, {"iPhone 14", "18.1", "1170x2532"},
		{"iPhone 16 Pro Max", "18.1.1", "1320x2868"}, {"iPhone 13 mini", "17.6.1", "1080x2340"},
		{"iPhone SE (3rd generation)", "16.7.10", "750x1334"}, {"iPad Air (5th generation)", "18.0.1", "1640x2360"},
		{"iPhone12,1", "17.7", "828x1792"},
	},
	"android": {
		{"Pixel 8", "15", "1080x2400"}, {"Pixel 7a", "14", "1080x2400"}, {"SM-S918B", "14", "1440x3088"},
		{"SM-A546B", "14", "1080x2340"}, {"SM-G991U", "13", "1080x2400"}, {"moto g power (2024)", "14", "1080x2400"},
		{"Redmi Note 13 Pro", "14", "1220x2712"}, {"CPH2581", "14", "1440x3168"},
	},
	"web": {
		{"Mac", "macOS 14.6", "1512x982"}, {"Windows PC", "Windows 11", "1920x1080"},
		{"Windows PC", "Windows 10", "1366x768"}, {"Chromebook", "ChromeOS 126", "1366x768"},
	},
}

// Names for e-mail addresses; the accents and scripts are kept for free-text
// fields, where encoders have to carry them through.
var (
	firstNames = []string{"emma", "liam", "olivia", "noah", "ava", "mateo", "sofia", "lucas", "mia", "ethan",
		"amara", "kenji", "priya", "aarav", "chloe", "leon", "ines", "yuki", "zoe", "omar",
		"hannah", "diego", "fatima", "jack", "grace", "ravi", "lea", "samuel", "nia", "felix"}
	lastNames = []string{"smith", "johnson", "garcia", "nguyen", "muller", "rossi", "tanaka", "patel", "kim", "silva",
		"obrien", "dubois", "kowalski", "hernandez", "okafor", "schmidt", "chen", "singh", "martin", "lopez",
		"brown", "wilson", "sato", "khan", "ivanova", "costa", "larsen", "murphy", "ali", "walker"}
)

// mailDomain pairs an e-mail domain with the mailbox provider an ESP reports
// for it.
type mailDomain struct {
	weight           int
	domain, provider string
}

var mailDomains = []mailDomain{
	{40, "gmail.com", "Gmail"}, {12, "yahoo.com", "Yahoo"}, {10, "outlook.com", "Outlook"},
	{6, "hotmail.com", "Outlook"}, {10, "icloud.com", "iCloud"}, {3, "aol.com", "Yahoo"},
	{3, "proton.me", "Proton Mail"}, {4, "gmx.de", "GMX"}, {3, "orange.fr", "Orange"},
	{5, "acme-corp.com", "Google Workspace"}, {4, "contoso.org", "Microsoft 365"},
}

var mailWeights = weightsOf(mailDomains, func(d mailDomain) int { return d.weight })

// user is one person of the generator's pool, with everything the fields of
// their events must agree on.
type user struct {
	brazeID    string
	externalID string // empty for an anonymous user
	email      string
	mailbox    string
	phone      string
	region     *region
	platform   string
	deviceID   string
	device     device
	adID       string
	adIDType   string
	adTracking bool
	pushToken  string
	carrier    string
	appGroup   int
}

// newUser builds user i of a seed's pool from its own random stream.
func newUser(seed uint64, i, appGroups int) *user {
	r := rand.New(rand.NewPCG(seed^userStream, uint64(i)))
	u := &user{region: &regions[regionWeights.pick(r)], appGroup: r.IntN(appGroups)}

	// Braze ids embed their creation time: sometime in the three years
	// before the default window.
	created := defaultWindowEnd.Unix() - r.Int64N(3*365*24*3600)
	u.brazeID = objectID(r, created)
	if r.IntN(10) != 0 {
		// A bijection of the pool index onto six digits keeps external
		// ids unique without looking sequential.
		n := (uint64(i)*7919 + seed%900000) % 900000
		u.externalID = "user-" + strconv.FormatUint(100000+n, 10)
	}

	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	md := &mailDomains[mailWeights.pick(r)]
	var local string
	switch r.IntN(4) {
	case 0:
		local = first + "." + last
	case 1:
		local = first + last + strconv.Itoa(r.IntN(100))
	case 2:
		local = first[:1] + "." + last + "+news"
	default:
		local = first + "_" + last + strconv.Itoa(1970+r.IntN(40))
	}
	u.email, u.mailbox = local+"@"+md.domain, md.provider
	u.phone = u.region.phoneNumber(r)
	u.carrier = u.region.carriers[r.IntN(len(u.region.carriers))]

	switch p := r.IntN(100); {
	case p < 45:
		u.platform = "ios"
		u.deviceID = upperUUID(r)
		u.adIDType = "ios_idfa"
		u.adTracking = r.IntN(10) < 3 // most iOS users decline App Tracking Transparency
		u.adID = "00000000-0000-0000-0000-000000000000"
		if u.adTracking {
			u.adID = upperUUID(r)
		}
		u.pushToken = randHex(r, 64)
	case p < 85:
		u.platform = "android"
		u.deviceID = uuid4(r)
		u.adIDType = "google_ad_id"
		u.adTracking = r.IntN(10) < 8
		u.adID = uuid4(r)
		u.pushToken = base64URL(r, 16) + ":APA91b" + base64URL(r, 100)
	default:
		u.platform = "web"
		u.deviceID = uuid4(r)
	}
	ds := devices[u.platform]
	u.device = ds[r.IntN(len(ds))]
	return u
}

// agentProfile is a user agent with what an ESP extracts from it.
type agentProfile struct {
	ua, class, os, browser string
}

var agents = map[string][]agentProfile{
	"ios": {
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "mobile", "iOS", "Mobile Safari"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/130.0.6723.90 Mobile/15E148 Safari/604.1", "mobile", "iOS", "Chrome Mobile iOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "mobile", "iOS", "Apple Mail"},
		{"Mozilla/5.0 (iPad; CPU OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1", "tablet", "iOS", "Mobile Safari"},
	},
	"android": {
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.86 Mobile Safari/537.36", "mobile", "Android", "Chrome Mobile"},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "mobile", "Android", "Samsung Internet"},
		{"Mozilla/5.0 (Linux; Android 13; SM-G991U; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.100 Mobile Safari/537.36", "mobile", "Android", "Chrome Mobile WebView"},
	},
	"desktop": {
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "desktop", "Windows", "Chrome"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "desktop", "Mac OS X", "Safari"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0", "desktop", "Windows", "Firefox"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "desktop", "Windows", "Edge"},
		{"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "desktop", "Windows", "Firefox"},
		{"Mozilla/5.0", "desktop", "Other", "Other"},
	},
}

// pickAgent returns the agent a user read an e-mail or followed a link with:
// their own phone most of the time, a desktop browser otherwise.
func pickAgent(r *rand.Rand, platform string) *agentProfile {
	list := agents[platform]
	if list == nil || r.IntN(100) < 35 {
		list = agents["desktop"]
	}
	return &list[r.IntN(len(list))]
}

// A workspace (Braze "app group") with its apps and its e-mail setup.
type appGroup struct {
	id         string
	apps       map[string]string // platform → app API id
	brand      string
	site       string // the brand's web host
	fromDomain string
	esp        string
}

type variant struct{ id, name string }

type campaign struct {
	id, name   string
	variations []variant
}

type step struct{ id, name, messageVariationID string }

type canvas struct {
	id, name   string
	variations []variant
	steps      []step
	splits     []variant // experiment paths
}

// catalog is the fixed world the events happen in: workspaces, campaigns,
// Canvases, subscription groups and sender numbers, drawn once per seed.
type catalog struct {
	appGroups          []appGroup
	campaigns          []campaign
	canvases           []canvas
	subscriptionGroups []string
	senderNumbers      []string
	flowIDs            []string
	catalogIDs         []string
}

func newCatalog(r *rand.Rand) *catalog {
	c := &catalog{}
	for _, b := range brands {
		ag := appGroup{
			id:         uuid4(r),
			apps:       map[string]string{},
			brand:      b.name,
			site:       b.site,
			fromDomain: b.mailDomain,
			esp:        b.esp,
		}
		for _, p := range []string{"ios", "android", "web"} {
			ag.apps[p] = uuid4(r)
		}
		c.appGroups = append(c.appGroups, ag)
	}
	for _, name := range campaignNames {
		c.campaigns = append(c.campaigns, campaign{id: uuid4(r), name: name, variations: variants(r, variationNames, 1+r.IntN(3))})
	}
	for _, name := range canvasNames {
		cv := canvas{id: uuid4(r), name: name, variations: variants(r, canvasVariationNames, 1+r.IntN(3)),
			splits: variants(r, splitNames, 2+r.IntN(2))}
		names := append([]string(nil), stepNames...)
		r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		for _, sn := range names[:3+r.IntN(4)] {
			cv.steps = append(cv.steps, step{id: uuid4(r), name: sn, messageVariationID: uuid4(r)})
		}
		c.canvases = append(c.canvases, cv)
	}
	for range 4 {
		c.subscriptionGroups = append(c.subscriptionGroups, uuid4(r))
	}
	// 555-01xx numbers are reserved for fiction: realistic and nobody's.
	for range 3 {
		c.senderNumbers = append(c.senderNumbers, "+1"+[]string{"415", "646", "312"}[r.IntN(3)]+"55501"+digits(r, 2))
	}
	for range 3 {
		c.flowIDs = append(c.flowIDs, digits(r, 16))
		c.catalogIDs = append(c.catalogIDs, digits(r, 15))
	}
	return c
}

// variants draws n differently named variants.
func variants(r *rand.Rand, names []string, n int) []variant {
	perm := r.Perm(len(names))
	out := make([]variant, n)
	for i := range out {
		out[i] = variant{id: uuid4(r), name: names[perm[i]]}
	}
	return out
}

// weights is a cumulative weight table for weighted picks.
type weights []int

func weightsOf[T any](xs []T, w func(T) int) weights {
	cum := make(weights, len(xs))
	total := 0
	for i, x := range xs {
		total += w(x)
		cum[i] = total
	}
	return cum
}

// pick returns an index with probability proportional to its weight.
func (w weights) pick(r *rand.Rand) int {
	x := r.IntN(w[len(w)-1])
	lo, hi := 0, len(w)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if w[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// slug lower-cases a name into a URL path segment, keeping only ASCII
// letters and digits.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
