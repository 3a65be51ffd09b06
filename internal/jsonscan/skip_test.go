package jsonscan

import (
	"strings"
	"testing"
)

// walk validates the value at s as value did before skipValue: containers
// with the iterators, which skipValue must agree with exactly.
func walk(s *Scanner, depth int) error {
	switch s.Peek() {
	case '{':
		return s.object(depth + 1)
	case '[':
		return s.array(depth + 1)
	}
	_, _, err := s.value(depth)
	return err
}

// skipSeeds are the texts of the scanner's own tests, valid and not, and
// the shapes where a loop with a bit set of containers could go wrong:
// closing the wrong kind, the deepest level, a member after a nested one.
func skipSeeds() []string {
	seeds := []string{
		`{}`, `[]`, `{"a":{}}`, `[[],{}]`, `{"a":[1,{"b":[]}],"c":2}`, `[{"a":1}]`, `{"a":[}`, `[{]`, `{"a":1]`,
		`[1}`, `{"a"}`, `{"a":}`, `[,]`, `[1,]`, `{,}`, `{"a":1,,"b":2}`, ` [ 1 , { "a" : [ ] } ] `,
		`{"a":"x\"y"}`, `["\u00e9\n"]`, "[\"\xff\"]", `[tru]`, `[nul]`, `[falsey]`, `[-]`, `[01]`, `[1.]`,
		`{"a":1}x`, `[1]]`, `{"a":[1,2,3]}}`, `"str"`, `12`, `true`, `null`,
		nest(MaxDepth), nest(MaxDepth + 1), nest(MaxDepth + 2),
		strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
		strings.Repeat(`[{"a":`, 40) + "1" + strings.Repeat("}]", 40),
	}
	for _, c := range scanErrorCases {
		seeds = append(seeds, c.in)
	}
	return append(seeds, scanValidCases...)
}

// FuzzSkipValue holds skipValue to the iterators: the same verdict on every
// value at every depth, and the same end when both accept. Its seeds run in
// every go test; fuzz with: go test ./internal/jsonscan -fuzz FuzzSkipValue
func FuzzSkipValue(f *testing.F) {
	for _, s := range skipSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, depth := range []int{-1, 0, MaxDepth - 3, MaxDepth} {
			s := NewScanner(data)
			s.SkipSpace()
			walked, skipped := s, s
			err := walk(&walked, depth)
			ok := skipped.skipValue(depth)
			if !ok && err == nil && depth == -1 && deeperThan64(data) {
				continue // refused by skipValue's bit set, accepted by the iterators: see skipValue
			}
			if ok != (err == nil) {
				t.Fatalf("%.80q at depth %d: skipValue says %v, the iterators %v", data, depth, ok, err)
			}
			if ok && skipped.i != walked.i {
				t.Fatalf("%.80q at depth %d: skipValue ends at %d, the iterators at %d", data, depth, skipped.i, walked.i)
			}
		}
	})
}

// deeperThan64 says whether data opens more than 64 containers at once,
// brackets in strings aside.
func deeperThan64(data []byte) bool {
	open, inString := 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if open++; open > 64 {
				return true
			}
		case c == '}' || c == ']':
			open--
		}
	}
	return false
}

// A value skipValue refuses is walked by the iterators once, however deep
// the fault: inside that walk nothing is skipped again, which made a value
// nested n deep cost n scans (quadratic in the nesting of hostile input).
func TestRefusedValueIsWalkedOnce(t *testing.T) {
	calls := 0
	skipValueHook = func() { calls++ }
	defer func() { skipValueHook = nil }()
	for _, in := range []string{
		`[` + nest(60) + `,` + strings.Repeat(`[`, 60) + `1,]` + strings.Repeat(`]`, 59) + `]`, // the fault 61 deep
		`{"a":{"b":{"c":{"d":[1,2,{"e":tru}]}}}}`,
	} {
		calls = 0
		s := NewScanner([]byte(in))
		if _, _, err := s.value(0); err == nil {
			t.Fatalf("%.60s: accepted", in)
		}
		if calls != 1 {
			t.Errorf("%.60s: skipValue ran %d times, want once", in, calls)
		}
		// The error is the iterators' own.
		w := NewScanner([]byte(in))
		werr := walk(&w, 0)
		s2 := NewScanner([]byte(in))
		if _, _, err := s2.value(0); err == nil || werr == nil || err.Error() != werr.Error() {
			t.Errorf("%.60s: value says %v, the iterators %v", in, err, werr)
		}
	}
}

// skipValue allocates nothing, valid or not.
func TestSkipAllocs(t *testing.T) {
	for _, in := range []string{`{"a":[1,"x",{"b":null}],"c":-1.5}`, `{"a":[1,"x",{"b":nul}]}`} {
		b := []byte(in)
		if n := testing.AllocsPerRun(100, func() { s := NewScanner(b); s.skipValue(0) }); n != 0 {
			t.Errorf("%s: %v allocations per skip", in, n)
		}
	}
}
