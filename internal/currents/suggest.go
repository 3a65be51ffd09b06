package currents

import (
	"fmt"
	"strings"
)

// Suggest returns the known type name closest to name, for a "did you
// mean" in an error, or "" when none is close: a name that differs only in
// case, or by at most a quarter of its characters (and at least three), from
// a known one.
func (c *Catalog) Suggest(name string) string {
	lower := strings.ToLower(strings.TrimSpace(name))
	best, bestDist := "", -1
	for _, known := range c.Names() {
		d := editDistance(lower, strings.ToLower(known))
		if bestDist < 0 || d < bestDist {
			best, bestDist = known, d
		}
	}
	if bestDist < 0 || bestDist > max(3, len(lower)/4) {
		return ""
	}
	return best
}

// UnknownTypeError describes a type name that is not in the catalog, with
// the closest known name when there is one.
func (c *Catalog) UnknownTypeError(name string) string {
	msg := fmt.Sprintf("unknown event type %q", name)
	if s := c.Suggest(name); s != "" {
		msg += fmt.Sprintf(": did you mean %q?", s)
	}
	return msg
}

// editDistance is the Levenshtein distance between a and b, in bytes (type
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
