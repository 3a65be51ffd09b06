package segment

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// Regional endpoints of the Tracking API. Data sent to the wrong region is
// rejected, so the region must match the workspace's.
const (
	EndpointUS = "https://api.segment.io"
	EndpointEU = "https://events.eu1.segmentapis.com"
)

// Regions maps each supported region name to its endpoint origin.
var Regions = map[string]string{"us": EndpointUS, "eu": EndpointEU}

// RegionEndpoint returns the origin for region, or an error naming the
// supported regions.
func RegionEndpoint(region string) (string, error) {
	if e, ok := Regions[region]; ok {
		return e, nil
	}
	return "", fmt.Errorf("unknown Segment region %q: use one of us, eu (or set endpoint)", region)
}

// NormalizeEndpoint turns what a user may write (https://host/,
// https://host/v1, https://host/v1/batch, with or without a path prefix
// such as RudderStack's) into the origin analytics-go expects: it appends
// "/v1/batch" as text.
func NormalizeEndpoint(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("endpoint %q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("endpoint %q must start with http:// or https://", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("endpoint %q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("endpoint %q must not carry a query or fragment", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("endpoint must not carry credentials: put the key in write_key")
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/batch")
	p = strings.TrimRight(p, "/")
	p = strings.TrimSuffix(p, "/v1")
	p = strings.TrimRight(p, "/")
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

// KeyFingerprint names a write key in logs without revealing any part of
// it: the first four bytes of its SHA-256 digest, e.g. "key-3f9a1c2e".
func KeyFingerprint(writeKey string) string {
	sum := sha256.Sum256([]byte(writeKey))
	return "key-" + hex.EncodeToString(sum[:4])
}
