package brazehttp

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// bearer checks the Authorization header Braze sends
// ("Authorization: Bearer <token>"). The token is kept only as its SHA-256
// digest, and the comparison is of digests in constant time, so neither the
// token's bytes nor its length leak through timing.
type bearer struct {
	digest [32]byte
	none   bool // accept every request (allow_unauthenticated)
}

func newBearer(token string) bearer {
	if token == "" {
		return bearer{none: true}
	}
	return bearer{digest: sha256.Sum256([]byte(token))}
}

// check returns "" when the header carries the token, else why it does not.
// The reason never quotes the header.
func (b bearer) check(header string) (reason string) {
	if b.none {
		return ""
	}
	if header == "" {
		return "no Authorization header"
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "the Authorization header is not a Bearer token"
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	if subtle.ConstantTimeCompare(got[:], b.digest[:]) != 1 {
		return "wrong bearer token"
	}
	return ""
}
