package brazehttp

import (
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	a, b := newRequestID(), newRequestID()
	if len(a) != 36 || a == b || a[14] != '4' || strings.Count(a, "-") != 4 {
		t.Fatalf("%s %s", a, b)
	}
}
