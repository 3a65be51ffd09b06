package segment

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSegmentClassifyStatus(t *testing.T) {
	cases := []struct {
		status int
		err    error
		class  Class
		label  string
	}{
		{200, nil, ClassAccepted, Status2xx},
		{204, nil, ClassAccepted, Status2xx},
		{400, nil, ClassPermanent, Status4xx},
		{413, nil, ClassPermanent, Status4xx},
		{422, nil, ClassPermanent, Status4xx},
		{404, nil, ClassEndpointRejected, Status4xx},
		{405, nil, ClassEndpointRejected, Status4xx},
		{302, nil, ClassEndpointRejected, Status4xx},
		{401, nil, ClassKeyRejected, Status401},
		{403, nil, ClassKeyRejected, Status401},
		{408, nil, ClassTransient, Status4xx},
		{429, nil, ClassTransient, Status429},
		{500, nil, ClassTransient, Status5xx},
		{503, nil, ClassTransient, Status5xx},
		{0, errors.New("connection reset"), ClassTransient, StatusNetwork},
	}
	for _, c := range cases {
		class, label := Classify(c.status, c.err)
		if class != c.class || label != c.label {
			t.Errorf("Classify(%d, %v) = %s %s, want %s %s", c.status, c.err, class, label, c.class, c.label)
		}
	}
}

func TestSegmentParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)
	if d := ParseRetryAfter("3", now); d != 3*time.Second {
		t.Errorf("seconds: %s", d)
	}
	if d := ParseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); d != 90*time.Second {
		t.Errorf("http date: %s", d)
	}
	for _, v := range []string{"", "soon", "-4", now.Add(-time.Minute).Format(http.TimeFormat)} {
		if d := ParseRetryAfter(v, now); d != 0 {
			t.Errorf("%q: %s, want 0", v, d)
		}
	}
}

func TestSegmentNormalizeEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":                  "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/":                 "http://127.0.0.1:8080",
		"https://api.segment.io/v1":              "https://api.segment.io",
		"https://api.segment.io/v1/":             "https://api.segment.io",
		"https://api.segment.io/v1/batch":        "https://api.segment.io",
		"https://api.segment.io/v1/batch/":       "https://api.segment.io",
		"https://dp.example.com/rudder/v1/batch": "https://dp.example.com/rudder",
	} {
		got, err := NormalizeEndpoint(in)
		if err != nil || got != want {
			t.Errorf("NormalizeEndpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"api.segment.io", "ftp://x", "http://", "https://key:@api.segment.io"} {
		if _, err := NormalizeEndpoint(bad); err == nil {
			t.Errorf("NormalizeEndpoint(%q) must fail", bad)
		} else if strings.Contains(err.Error(), "key:") {
			t.Errorf("error leaks credentials: %v", err)
		}
	}
	if _, err := RegionEndpoint("ap"); err == nil || !strings.Contains(err.Error(), "us, eu") {
		t.Errorf("unknown region must name the options: %v", err)
	}
}

func TestSegmentKeyFingerprintHidesKey(t *testing.T) {
	key := "abcdefghijklmnopqrstuvwxyz012345"
	fp := KeyFingerprint(key)
	if !strings.HasPrefix(fp, "key-") || strings.Contains(fp, key[:4]) {
		t.Fatalf("fingerprint %q", fp)
	}
	if KeyFingerprint(key) != fp || KeyFingerprint(key+"x") == fp {
		t.Fatal("fingerprint must be stable and distinguish keys")
	}
}

func TestSegmentBackoffBounds(t *testing.T) {
	s, err := NewSender(Config{Endpoint: "http://127.0.0.1:1", InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := s.newBackoff()
	for attempt := 1; attempt < 20; attempt++ {
		// ±50% jitter around a value doubling from 100ms, capped at 1s.
		d := b.NextBackOff()
		if d < 50*time.Millisecond || d > 1500*time.Millisecond {
			t.Fatalf("attempt %d: %s", attempt, d)
		}
	}
}
