package brazehttp

import (
	"strings"
	"testing"
)

func TestBearer(t *testing.T) {
	b := newBearer("s3cret")
	for header, want := range map[string]string{
		"Bearer s3cret":   "",
		"bearer  s3cret ": "",
		"":                "no Authorization header",
		"s3cret":          "not a Bearer token",
		"Basic s3cret":    "not a Bearer token",
		"Bearer s3cre":    "wrong bearer token",
		"Bearer s3cretx":  "wrong bearer token",
		"Bearer ":         "not a Bearer token",
		"Bearer  ":        "not a Bearer token",
	} {
		got := b.check(header)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", header, got, want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("%q: the reason quotes the token", header)
		}
	}
	if newBearer("").check("") != "" {
		t.Error("no token configured accepts everything")
	}
}

func TestNewRefusesUnsafeConfigs(t *testing.T) {
	for _, c := range []Config{
		{},
		{Token: "t", AllowUnauthenticated: true},
		{Token: "t", Path: "ready"},
		{Token: "t", Path: ReadyPath},
		{Token: "t", MaxBodyBytes: -1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		} else if strings.Contains(err.Error(), "t\"") {
			t.Errorf("error quotes the token: %v", err)
		}
	}
	if _, err := New(Config{AllowUnauthenticated: true}); err != nil {
		t.Error(err)
	}
}

func TestRequestID(t *testing.T) {
	a, b := newRequestID(), newRequestID()
	if len(a) != 36 || a == b || a[14] != '4' || strings.Count(a, "-") != 4 {
		t.Fatalf("%s %s", a, b)
	}
}
