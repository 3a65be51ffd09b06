package segment

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
//
// Its errors never quote the value: a write key pasted into the URL (as a
// query, credentials or a path) would otherwise reach the log.
func NormalizeEndpoint(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL
		}
		return "", fmt.Errorf("endpoint is not a URL (%v): write it as https://host[:port][/path]", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("endpoint must start with http:// or https://")
	}
	if u.Host == "" {
		return "", errors.New("endpoint has no host: write it as https://host[:port][/path]")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("endpoint %s://%s… must not carry a query or fragment: nothing goes after the path (the write key goes in write_key)", u.Scheme, u.Host)
	}
	if u.User != nil {
		return "", fmt.Errorf("endpoint %s://…@%s must not carry credentials: put the key in write_key", u.Scheme, u.Host)
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
