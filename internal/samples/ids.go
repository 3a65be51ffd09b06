package samples

import (
	"encoding/base64"
	"math/rand/v2"
)

const hexDigits = "0123456789abcdef"

// uuid4 returns a random version 4 UUID in its canonical lower-case form.
// It draws 128 bits from r, of which 122 are random, so ids of a run of
// millions of events do not collide.
func uuid4(r *rand.Rand) string {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	var b [36]byte
	j := 0
	for i := 0; i < 32; i++ {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*i) & 0xf
		} else {
			nib = lo >> (60 - 4*(i-16)) & 0xf
		}
		b[j] = hexDigits[nib]
		j++
	}
	return string(b[:])
}

// upperUUID is uuid4 in upper case, the way iOS prints an IDFV or IDFA.
func upperUUID(r *rand.Rand) string {
	b := []byte(uuid4(r))
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// objectID returns a 24-hex id shaped like the BSON ObjectIds Braze uses for
// user and dispatch ids: a 4-byte unix time followed by 8 random bytes.
func objectID(r *rand.Rand, unix int64) string {
	var b [24]byte
	ts := uint32(unix)
	for i := 0; i < 8; i++ {
		b[i] = hexDigits[ts>>(28-4*i)&0xf]
	}
	x := r.Uint64()
	for i := 8; i < 24; i++ {
		b[i] = hexDigits[x>>(60-4*(i-8))&0xf]
	}
	return string(b[:])
}

// randHex returns n random lower-case hex digits.
func randHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	var x uint64
	for i := range b {
		if i%16 == 0 {
			x = r.Uint64()
		}
		b[i] = hexDigits[x&0xf]
		x >>= 4
	}
	return string(b)
}

// digits returns n random decimal digits, the first one not zero.
func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	if n > 0 && b[0] == '0' {
		b[0] = byte('1' + r.IntN(9))
	}
	return string(b)
}

const alnumChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// alnum returns n random letters and digits, for short codes such as link ids.
func alnum(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnumChars[r.IntN(len(alnumChars))]
	}
	return string(b)
}

// base64URL returns the unpadded base64url text of n random bytes, the
// alphabet of FCM registration tokens and WhatsApp message ids.
func base64URL(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
