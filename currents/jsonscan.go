package currents

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// The decoder validates and walks JSON itself instead of unmarshalling into
// maps: values are kept as sub-slices of the input and copied verbatim into
// the Segment call, so an event costs one pass and almost no allocations.

type valueKind uint8

const (
	kindInvalid valueKind = iota
	kindNull
	kindString
	kindNumber
	kindBool
	kindObject
	kindArray
)

func (k valueKind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindBool:
		return "boolean"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	}
	return "invalid"
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

type scanner struct {
	b []byte
	i int
}

// syntaxError says where the JSON broke, as encoding/json does.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.offset, e.msg)
}

func (s *scanner) fail(msg string) error { return &syntaxError{offset: s.i, msg: msg} }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value validates the value starting at s.i (after white space) and leaves
// s.i just past it. For strings, esc reports backslash escapes; for numbers,
// esc reports a fraction or exponent.
func (s *scanner) value(depth int) (kind valueKind, esc bool, err error) {
	if s.i >= len(s.b) {
		return kindInvalid, false, s.fail("unexpected end of input")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		esc, err = s.str()
		return kindString, esc, err
	case c == '{':
		return kindObject, false, s.object(depth + 1)
	case c == '[':
		return kindArray, false, s.array(depth + 1)
	case c == 't':
		return kindBool, false, s.literal("true")
	case c == 'f':
		return kindBool, false, s.literal("false")
	case c == 'n':
		return kindNull, false, s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		esc, err = s.number()
		return kindNumber, esc, err
	default:
		return kindInvalid, false, s.fail(fmt.Sprintf("unexpected character %q", c))
	}
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// str scans a string starting at its opening quote.
func (s *scanner) str() (esc bool, err error) {
	start := s.i
	s.i++
	ascii := true
	for s.i < len(s.b) {
		// Skip eight plain bytes at a time: none a quote, a backslash or a
		// control character (non-ASCII bytes are only noted, for the UTF-8
		// check at the end).
		for s.i+8 <= len(s.b) {
			w := binary.LittleEndian.Uint64(s.b[s.i:])
			if m := hasLess(w, 0x20) | hasZero(w^(lsb*'"')) | hasZero(w^(lsb*'\\')); m != 0 {
				// The lowest flagged byte is exact: jump to it.
				n := bits.TrailingZeros64(m) / 8
				if w&(lsb*0x80)&(1<<(8*n)-1) != 0 {
					ascii = false
				}
				s.i += n
				break
			}
			if w&(lsb*0x80) != 0 {
				ascii = false
			}
			s.i += 8
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !ascii && !utf8.Valid(s.b[start:s.i]) {
				return esc, &syntaxError{offset: start, msg: "string is not valid UTF-8"}
			}
			return esc, nil
		case c == '\\':
			esc = true
			if s.i+1 >= len(s.b) {
				return esc, s.fail("unterminated escape")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return esc, s.fail("short unicode escape")
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return esc, s.fail("invalid unicode escape")
					}
				}
				s.i += 6
			default:
				return esc, s.fail("invalid escape")
			}
		case c < 0x20:
			return esc, s.fail("control character in string")
		default:
			if c >= 0x80 {
				ascii = false
			}
			s.i++
		}
	}
	return esc, &syntaxError{offset: start, msg: "unterminated string"}
}

// lsb has the low bit of every byte of a word set.
const lsb = 0x0101010101010101

// hasZero reports whether any byte of w is zero; hasLess whether any byte is
// below n (n <= 128). Both are exact about whether, not about which byte.
func hasZero(w uint64) uint64 { return (w - lsb) &^ w & (lsb * 0x80) }

func hasLess(w uint64, n uint64) uint64 { return (w - lsb*n) &^ w & (lsb * 0x80) }

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans a JSON number; frac reports a fraction or exponent.
func (s *scanner) number() (frac bool, err error) {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return false, s.fail("truncated number")
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if isDigit(s.b[s.i]) {
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	} else {
		return false, s.fail("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		frac = true
		s.i++
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return frac, s.fail("invalid number fraction")
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		frac = true
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return frac, s.fail("invalid number exponent")
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	return frac, nil
}

// object and array validate a nested value. Their iterator works on a copy
// of the scanner, copied back, so no scanner pointer is stored anywhere and
// every scanner stays on the stack.
func (s *scanner) object(depth int) error {
	it := objectIter{sc: *s, depth: depth}
	err := it.skip()
	s.i = it.sc.i
	return err
}

func (s *scanner) array(depth int) error {
	it := arrayIter{sc: *s, depth: depth}
	err := it.skip()
	s.i = it.sc.i
	return err
}

func (it *objectIter) skip() error {
	if err := it.open(); err != nil {
		return err
	}
	for {
		ok, err := it.next()
		if err != nil || !ok {
			return err
		}
	}
}

func (it *arrayIter) skip() error {
	if err := it.open(); err != nil {
		return err
	}
	for {
		ok, err := it.next()
		if err != nil || !ok {
			return err
		}
	}
}

// objectIter walks the members of an object, one key and value per next.
type objectIter struct {
	sc    scanner
	depth int
	first bool
	// After a successful next: the member's key (without quotes, escaped
	// form), whether it has escapes, and its value.
	key    []byte
	keyEsc bool
	val    []byte
	kind   valueKind
	esc    bool
}

func (it *objectIter) open() error {
	if it.depth > maxDepth {
		return it.sc.fail("nested too deeply")
	}
	if it.sc.i >= len(it.sc.b) || it.sc.b[it.sc.i] != '{' {
		return it.sc.fail("expected an object")
	}
	it.sc.i++
	it.first = true
	return nil
}

func (it *objectIter) next() (bool, error) {
	more, err := it.nextKey()
	if err != nil || !more {
		return more, err
	}
	return true, it.readVal()
}

// nextKey reads the next member up to its value, leaving the scanner at the
// value's first byte; readVal then reads the value.
func (it *objectIter) nextKey() (bool, error) {
	s := &it.sc
	s.ws()
	if s.i >= len(s.b) {
		return false, s.fail("unterminated object")
	}
	if s.b[s.i] == '}' {
		s.i++
		return false, nil
	}
	if !it.first {
		if s.b[s.i] != ',' {
			return false, s.fail("expected ',' or '}' in object")
		}
		s.i++
		s.ws()
	}
	it.first = false
	if s.i >= len(s.b) {
		return false, s.fail("unexpected end of input")
	}
	if s.b[s.i] != '"' {
		return false, s.fail("expected a string key")
	}
	ks := s.i
	esc, err := s.str()
	if err != nil {
		return false, err
	}
	it.key, it.keyEsc = s.b[ks+1:s.i-1], esc
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return false, s.fail("expected ':' after key")
	}
	s.i++
	s.ws()
	return true, nil
}

func (it *objectIter) readVal() error {
	s := &it.sc
	vs := s.i
	var err error
	it.kind, it.esc, err = s.value(it.depth)
	if err != nil {
		return err
	}
	it.val = s.b[vs:s.i]
	return nil
}

// keyString returns the member's key decoded.
func (it *objectIter) keyString() string {
	if !it.keyEsc {
		return string(it.key)
	}
	return unescape(it.key)
}

// arrayIter walks the elements of an array.
type arrayIter struct {
	sc    scanner
	depth int
	first bool
	val   []byte
	kind  valueKind
	esc   bool
}

func (it *arrayIter) open() error {
	if it.depth > maxDepth {
		return it.sc.fail("nested too deeply")
	}
	if it.sc.i >= len(it.sc.b) || it.sc.b[it.sc.i] != '[' {
		return it.sc.fail("expected an array")
	}
	it.sc.i++
	it.first = true
	return nil
}

func (it *arrayIter) next() (bool, error) {
	s := &it.sc
	s.ws()
	if s.i >= len(s.b) {
		return false, s.fail("unterminated array")
	}
	if s.b[s.i] == ']' {
		s.i++
		return false, nil
	}
	if !it.first {
		if s.b[s.i] != ',' {
			return false, s.fail("expected ',' or ']' in array")
		}
		s.i++
		s.ws()
	}
	it.first = false
	vs := s.i
	var err error
	it.kind, it.esc, err = s.value(it.depth)
	if err != nil {
		return false, err
	}
	it.val = s.b[vs:s.i]
	return true, nil
}

// unescape decodes the contents of a JSON string (without its quotes). The
// content was validated by the scanner, so decoding cannot fail.
func unescape(content []byte) string {
	quoted := make([]byte, 0, len(content)+2)
	quoted = append(quoted, '"')
	quoted = append(quoted, content...)
	quoted = append(quoted, '"')
	var out string
	if err := json.Unmarshal(quoted, &out); err != nil {
		return string(content)
	}
	return out
}

// stringValue decodes a scanned JSON string value (with its quotes).
func stringValue(raw []byte, esc bool) string {
	if !esc {
		return string(raw[1 : len(raw)-1])
	}
	return unescape(raw[1 : len(raw)-1])
}

var errTrailing = errors.New("unexpected data after the JSON value")

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}
