package jsonscan

// skipValue moves past the value at the scanner (white space before it already
// skipped), accepting what a value read by an iterator at the given depth
// accepts. It is the fast path for a caller that only needs to know whether
// a value is valid, not why not: one loop with its open containers in a bit
// set, where the iterators copy a scanner for every nested value and return
// through every level. It reports only validity; after false, the scanner's
// position is meaningless and the caller scans the value again with the
// iterators for the error.
//
// The bit set holds 64 containers, so a value nested deeper than that
// below the scanner (only possible from depth -1, MaxDepth allowing 65) is
// refused here and left to the iterators, which accept it.
func (s *Scanner) skipValue(depth int) bool {
	if skipValueHook != nil {
		skipValueHook()
	}
	b, i := s.b, s.i
	// Bit k of objects is set when the k-th open container (from the
	// outermost) is an object.
	var objects uint64
	open := 0
	var ok bool
value:
	if i >= len(b) {
		return false
	}
	switch c := b[i]; {
	case c == '"':
		if i, ok = skipString(b, i); !ok {
			return false
		}
	case c == '{', c == '[':
		if depth+open+1 > MaxDepth || open == 64 {
			return false
		}
		i = skipSpace(b, i+1)
		if c == '{' {
			objects |= 1 << open
			open++
			if i < len(b) && b[i] == '}' {
				i++
				open--
				objects &^= 1 << open
				break
			}
			goto key
		}
		objects &^= 1 << open
		open++
		if i < len(b) && b[i] == ']' {
			i++
			open--
			break
		}
		goto value
	case c == 't':
		if len(b)-i < 4 || string(b[i:i+4]) != "true" {
			return false
		}
		i += 4
	case c == 'f':
		if len(b)-i < 5 || string(b[i:i+5]) != "false" {
			return false
		}
		i += 5
	case c == 'n':
		if len(b)-i < 4 || string(b[i:i+4]) != "null" {
			return false
		}
		i += 4
	case c == '-' || (c >= '0' && c <= '9'):
		t := Scanner{b: b, i: i}
		if _, err := t.number(); err != nil {
			return false
		}
		i = t.i
	default:
		return false
	}
	// Past a value: close containers until one goes on.
	for open > 0 {
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		inObject := objects&(1<<(open-1)) != 0
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			if inObject {
				goto key
			}
			goto value
		case '}':
			if !inObject {
				return false
			}
		case ']':
			if inObject {
				return false
			}
		default:
			return false
		}
		i++
		open--
		objects &^= 1 << open
	}
	s.i = i
	return true
key:
	if i >= len(b) || b[i] != '"' {
		return false
	}
	if i, ok = skipString(b, i); !ok {
		return false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return false
	}
	i = skipSpace(b, i+1)
	goto value
}

// skipValueHook, when set (by tests), is called at every skipValue.
var skipValueHook func()

// skipString moves past the string at b[i] with the scanner's own string
// check, so that the two paths cannot disagree about a string.
func skipString(b []byte, i int) (int, bool) {
	t := Scanner{b: b, i: i}
	_, err := t.str()
	return t.i, err == nil
}

// skipSpace returns where the white space at b[i] ends. Every white space
// byte is at most ' ': one comparison settles the usual case, a body
// without white space between its tokens.
func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
