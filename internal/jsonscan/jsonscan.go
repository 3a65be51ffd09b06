// Package jsonscan validates and walks JSON in one pass without allocating.
// Values are handed out as sub-slices of the input, so a caller can copy them
// verbatim, look at a few fields, or decode only the strings it needs.
//
// It accepts exactly RFC 8259 JSON: strings must be valid UTF-8, white space
// is only space, tab, CR and LF, and nesting is bounded by MaxDepth.
//
// Scanners and iterators are values, not pointers: an iterator holds a copy
// of its scanner and nothing ever stores a pointer to one, so escape analysis
// keeps them all on the caller's stack. Keep it that way when adding to the
// package; a stored *Scanner costs an allocation per walk.
package jsonscan

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the type of a scanned JSON value.
type Kind uint8

const (
	KindInvalid Kind = iota
	KindNull
	KindString
	KindNumber
	KindBool
	KindObject
	KindArray
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBool:
		return "boolean"
	case KindObject:
		return "object"
	case KindArray:
		return "array"
	}
	return "invalid"
}

// MaxDepth bounds nesting so hostile input cannot exhaust the stack: an
// object or array opened at a depth above it is refused.
const MaxDepth = 64

// Scanner is a position in a JSON text.
type Scanner struct {
	b []byte
	i int
	// walking is set while a value skipValue refused is walked with the
	// iterators for its error, and copied with the scanner into every
	// nested iterator: the nested values are then walked too, not skipped
	// again, or a value nested n deep would be scanned n times over.
	walking bool
}

// NewScanner returns a scanner at the start of b.
func NewScanner(b []byte) Scanner { return Scanner{b: b} }

// SyntaxError says where the JSON broke, as encoding/json does.
type SyntaxError struct {
	Offset int // of the offending byte, or of the string it is in
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

func (s *Scanner) fail(msg string) error { return &SyntaxError{Offset: s.i, Msg: msg} }

// SkipSpace moves past JSON white space.
func (s *Scanner) SkipSpace() { s.i = skipSpace(s.b, s.i) }

// Peek returns the byte at the scanner, or 0 at the end of the input.
func (s *Scanner) Peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// End checks that only white space is left after a top-level value.
func (s *Scanner) End() error {
	s.SkipSpace()
	if s.i != len(s.b) {
		return s.fail("unexpected data after the JSON value")
	}
	return nil
}

// value validates the value starting at s.i (after white space) and leaves
// s.i just past it. For strings, esc reports backslash escapes; for numbers,
// esc reports a fraction or exponent.
func (s *Scanner) value(depth int) (kind Kind, esc bool, err error) {
	if s.i >= len(s.b) {
		return KindInvalid, false, s.fail("unexpected end of input")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		esc, err = s.str()
		return KindString, esc, err
	case c == '{', c == '[':
		// skipValue validates a nested value in one loop, cheaper than
		// walking it with iterators (a quarter fewer instructions for the
		// envelope pass over a Braze request); they run only when it
		// refuses the value, for the error and its offset.
		kind := KindObject
		if c == '[' {
			kind = KindArray
		}
		if !s.walking {
			if t := *s; t.skipValue(depth) {
				s.i = t.i
				return kind, false, nil
			}
		}
		t := *s
		t.walking = true
		if kind == KindArray {
			err = t.array(depth + 1)
		} else {
			err = t.object(depth + 1)
		}
		s.i = t.i
		return kind, false, err
	case c == 't':
		return KindBool, false, s.literal("true")
	case c == 'f':
		return KindBool, false, s.literal("false")
	case c == 'n':
		return KindNull, false, s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		esc, err = s.number()
		return KindNumber, esc, err
	default:
		return KindInvalid, false, s.fail(fmt.Sprintf("unexpected character %q", c))
	}
}

func (s *Scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// str scans a string starting at its opening quote.
func (s *Scanner) str() (esc bool, err error) {
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
				return esc, &SyntaxError{Offset: start, Msg: "string is not valid UTF-8"}
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
	return esc, &SyntaxError{Offset: start, Msg: "unterminated string"}
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
func (s *Scanner) number() (frac bool, err error) {
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
func (s *Scanner) object(depth int) error {
	it := NewObjectIter(*s, depth)
	err := it.skip()
	s.i = it.sc.i
	return err
}

func (s *Scanner) array(depth int) error {
	it := NewArrayIter(*s, depth)
	err := it.skip()
	s.i = it.sc.i
	return err
}

func (it *ObjectIter) skip() error {
	if err := it.Open(); err != nil {
		return err
	}
	for {
		ok, err := it.Next()
		if err != nil || !ok {
			return err
		}
	}
}

func (it *ArrayIter) skip() error {
	if err := it.Open(); err != nil {
		return err
	}
	for {
		ok, err := it.Next()
		if err != nil || !ok {
			return err
		}
	}
}

// cursor is what both iterators share: their position, the depth of the
// container they walk, and the value read last. A value is read whole
// (ReadValue) or, for an object or array, walked in the same pass by a
// nested iterator (Nested, NestedArray) that the matching End call then
// steps over.
type cursor struct {
	sc    Scanner
	depth int
	// After a successful read: the value, verbatim (quotes included for a
	// string), its kind, and Esc as for Scanner values: escapes in a
	// string, a fraction or exponent in a number.
	Val  []byte
	Kind Kind
	Esc  bool
}

// Depth is the nesting depth the iterator was made with.
func (c *cursor) Depth() int { return c.depth }

// Scanner returns the position reached: past the closing brace or bracket
// once Next reported the end.
func (c *cursor) Scanner() Scanner { return c.sc }

// Peek returns the first byte of the value the iterator stopped at.
func (c *cursor) Peek() byte { return c.sc.Peek() }

// open reads the container's opening byte.
func (c *cursor) open(b byte, what string) error {
	if c.depth > MaxDepth {
		return c.sc.fail("nested too deeply")
	}
	if c.sc.i >= len(c.sc.b) || c.sc.b[c.sc.i] != b {
		return c.sc.fail("expected " + what)
	}
	c.sc.i++
	return nil
}

// ReadValue reads the value the iterator stopped at into Val, Kind and Esc.
func (c *cursor) ReadValue() error {
	s := &c.sc
	vs := s.i
	var err error
	c.Kind, c.Esc, err = s.value(c.depth)
	if err != nil {
		return err
	}
	c.Val = s.b[vs:s.i]
	return nil
}

// Nested returns an iterator over the object value the iterator stopped at,
// one level deeper, so the caller can walk it in the same pass instead of
// reading it with ReadValue and scanning it again. Call Open on it, walk it,
// then hand it to EndNested.
func (c *cursor) Nested() ObjectIter {
	return ObjectIter{cursor: cursor{sc: c.sc, depth: c.depth + 1}}
}

// NestedArray is Nested for an array value; hand it to EndNestedArray.
func (c *cursor) NestedArray() ArrayIter {
	return ArrayIter{cursor: cursor{sc: c.sc, depth: c.depth + 1}}
}

// EndNested moves past the nested object sub walked, setting Val, Kind and
// Esc as ReadValue would have. It also moves past the part read when sub
// stopped at an error, so the error's offset stays meaningful.
func (c *cursor) EndNested(sub *ObjectIter) { c.end(&sub.cursor, KindObject) }

// EndNestedArray is EndNested for an array sub walked.
func (c *cursor) EndNestedArray(sub *ArrayIter) { c.end(&sub.cursor, KindArray) }

func (c *cursor) end(sub *cursor, k Kind) {
	vs := c.sc.i
	c.sc.i = sub.sc.i
	c.Val, c.Kind, c.Esc = c.sc.b[vs:c.sc.i], k, false
}

// ObjectIter walks the members of an object, one key and value per Next.
type ObjectIter struct {
	cursor
	first bool
	// After a successful Next or NextKey: the member's key (without quotes,
	// escaped form) and whether it has escapes; Val, Kind and Esc hold its
	// value after Next.
	Key    []byte
	KeyEsc bool
}

// NewObjectIter returns an iterator over the object at s, which is at the
// given nesting depth (0 for a top-level value). Call Open first.
func NewObjectIter(s Scanner, depth int) ObjectIter {
	return ObjectIter{cursor: cursor{sc: s, depth: depth}}
}

// Open reads the opening brace.
func (it *ObjectIter) Open() error {
	it.first = true
	return it.open('{', "an object")
}

// Next reads the next member; false at the closing brace.
func (it *ObjectIter) Next() (bool, error) {
	more, err := it.NextKey()
	if err != nil || !more {
		return more, err
	}
	return true, it.ReadValue()
}

// NextKey reads the next member up to its value, leaving the iterator at
// the value's first byte (see Peek); ReadValue, or Nested and EndNested,
// then read the value.
func (it *ObjectIter) NextKey() (bool, error) {
	s := &it.sc
	s.SkipSpace()
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
		s.SkipSpace()
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
	it.Key, it.KeyEsc = s.b[ks+1:s.i-1], esc
	s.SkipSpace()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return false, s.fail("expected ':' after key")
	}
	s.i++
	s.SkipSpace()
	return true, nil
}

// ArrayIter walks the elements of an array; Val, Kind and Esc hold the
// element after Next.
type ArrayIter struct {
	cursor
	first bool
}

// NewArrayIter returns an iterator over the array at s, which is at the
// given nesting depth. Call Open first.
func NewArrayIter(s Scanner, depth int) ArrayIter {
	return ArrayIter{cursor: cursor{sc: s, depth: depth}}
}

// Open reads the opening bracket.
func (it *ArrayIter) Open() error {
	it.first = true
	return it.open('[', "an array")
}

// Next reads the next element; false at the closing bracket.
func (it *ArrayIter) Next() (bool, error) {
	more, err := it.NextElem()
	if err != nil || !more {
		return more, err
	}
	return true, it.ReadValue()
}

// NextElem moves to the next element, leaving the iterator at its first
// byte (see Peek); ReadValue, or Nested and EndNested, then read it. False
// at the closing bracket.
func (it *ArrayIter) NextElem() (bool, error) {
	s := &it.sc
	s.SkipSpace()
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
		s.SkipSpace()
	}
	it.first = false
	return true, nil
}

// StringValue decodes a scanned string value (Val, with its quotes; esc as
// reported with it).
func StringValue(raw []byte, esc bool) string {
	if !esc {
		return string(raw[1 : len(raw)-1])
	}
	return Unescape(raw[1 : len(raw)-1])
}

// Unescape decodes the contents of a scanned JSON string (without its
// quotes).
func Unescape(content []byte) string {
	// Most escaped strings are short: decode them on the stack and allocate
	// only the result.
	var buf [64]byte
	return string(AppendUnescaped(buf[:0], content))
}

// AppendUnescaped appends the decoded contents of a scanned JSON string
// (without its quotes) to dst. It decodes exactly as encoding/json does,
// including its choice for unpaired UTF-16 surrogates (each becomes U+FFFD),
// so text decoded here and re-encoded is what encoding/json would produce.
// Content the scanner did not accept is never refused: a malformed escape is
// copied as is.
func AppendUnescaped(dst, content []byte) []byte {
	for i := 0; i < len(content); {
		c := content[i]
		if c != '\\' {
			// Copy the run up to the next backslash at once.
			j := i + 1
			for j < len(content) && content[j] != '\\' {
				j++
			}
			dst = append(dst, content[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(content) {
			return append(dst, c)
		}
		switch e := content[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(content[i+2:])
			if r < 0 {
				dst = append(dst, c)
				i++
				continue
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// A pair is consumed whole; an unpaired half becomes U+FFFD
				// and what follows it is decoded on its own.
				r2 := rune(-1)
				if i+1 < len(content) && content[i] == '\\' && content[i+1] == 'u' {
					r2 = hex4(content[i+2:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			dst = append(dst, c)
			i++
			continue
		}
		i += 2
	}
	return dst
}

// hex4 reads four hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
