package jsonscan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// scanDoc validates a whole JSON text the way callers do: a top-level value
// at depth 0, then only white space.
func scanDoc(b []byte) error {
	s := NewScanner(b)
	s.SkipSpace()
	if _, _, err := s.value(-1); err != nil {
		return err
	}
	return s.End()
}

func nest(n int) string {
	return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
}

var scanValidCases = []string{
	`{}`, `[]`, ` {"a" : [ 1 , -0.5e+3 , true , false , null , "x" ] } `,
	`"plain"`, `0`, `-0`, `1E9`, `1e-9`, `12.5`,
	`"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"`,
	`"é – 日本 😀"`,
	`"` + strings.Repeat("abcdefgh", 10) + `é"`,
	"\t\r\n[ ]\n",
	nest(MaxDepth + 1), // top level is depth 0: 64 levels below it are allowed
	strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
}

func TestScanValid(t *testing.T) {
	for _, in := range scanValidCases {
		if err := scanDoc([]byte(in)); err != nil {
			t.Errorf("%.60q: %v", in, err)
		}
		if !json.Valid([]byte(in)) {
			t.Errorf("%.60q: the test case itself is not valid JSON", in)
		}
	}
}

// scanErrorCases are texts the scanner refuses, each with its error.
var scanErrorCases = []struct{ in, want string }{
	{``, "invalid JSON at byte 0: unexpected end of input"},
	{`{"a":1} x`, "invalid JSON at byte 8: unexpected data after the JSON value"},
	{`{"a":1,}`, "invalid JSON at byte 7: expected a string key"},
	{`{"a" 1}`, "invalid JSON at byte 5: expected ':' after key"},
	{`{"a":1 "b":2}`, "invalid JSON at byte 7: expected ',' or '}' in object"},
	{`{"a":1`, "invalid JSON at byte 6: unterminated object"},
	{`[1 2]`, "invalid JSON at byte 3: expected ',' or ']' in array"},
	{`[1,`, "invalid JSON at byte 3: unexpected end of input"},
	{`[`, "invalid JSON at byte 1: unterminated array"},
	{`{a:1}`, "invalid JSON at byte 1: expected a string key"},
	{`tru`, "invalid JSON at byte 0: invalid literal"},
	{`nul1`, "invalid JSON at byte 0: invalid literal"},
	{`'x'`, `invalid JSON at byte 0: unexpected character '\''`},
	{`-`, "invalid JSON at byte 1: truncated number"},
	{`-a`, "invalid JSON at byte 1: invalid number"},
	{`01`, "invalid JSON at byte 1: unexpected data after the JSON value"},
	{`1.`, "invalid JSON at byte 2: invalid number fraction"},
	{`1e+`, "invalid JSON at byte 3: invalid number exponent"},
	{`[ "abc`, "invalid JSON at byte 2: unterminated string"},
	{`"ab\`, "invalid JSON at byte 3: unterminated escape"},
	{`"ab\x"`, "invalid JSON at byte 3: invalid escape"},
	{`"\'"`, "invalid JSON at byte 1: invalid escape"},
	{`"\u12zz"`, "invalid JSON at byte 1: invalid unicode escape"},
	{`"\u12`, "invalid JSON at byte 1: short unicode escape"},
	{"\"a\tb\"", "invalid JSON at byte 2: control character in string"},
	// The control character is found past the eight-byte fast path.
	{"[\"abcdefghijklmn\x01\"]", "invalid JSON at byte 16: control character in string"},
	// A bad UTF-8 string is reported at its opening quote.
	{"[1, \"abc\xff\"]", "invalid JSON at byte 4: string is not valid UTF-8"},
	{"[\"abcdefgh\xc3\x28ijk\"]", "invalid JSON at byte 1: string is not valid UTF-8"},
	{"{\"k\xed\xa0\x80\":1}", "invalid JSON at byte 1: string is not valid UTF-8"}, // a UTF-8 encoded surrogate
	{"\v{}", `invalid JSON at byte 0: unexpected character '\v'`},
	{"{}\u00a0", "invalid JSON at byte 2: unexpected data after the JSON value"},
	{nest(MaxDepth + 2), "invalid JSON at byte 325: nested too deeply"},
	{strings.Repeat("[", MaxDepth+2), "invalid JSON at byte 65: nested too deeply"},
}

// Every error says what broke and where, and the texts are part of what
// callers show an operator.
func TestScanErrors(t *testing.T) {
	for _, c := range scanErrorCases {
		err := scanDoc([]byte(c.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%.40q: want a *SyntaxError, got %v", c.in, err)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%.40q:\n got %s\nwant %s", c.in, err, c.want)
		}
		if json.Valid([]byte(c.in)) && utf8.ValidString(c.in) && !strings.Contains(c.want, "nested") {
			t.Errorf("%.40q: the test case is valid JSON", c.in)
		}
	}
}

func TestObjectIter(t *testing.T) {
	in := []byte(` {"a":"x","b\n":{"c":[1,2]},"d":1.5,"e":null} `)
	s := NewScanner(in)
	s.SkipSpace()
	it := NewObjectIter(s, 0)
	if err := it.Open(); err != nil {
		t.Fatal(err)
	}
	type member struct {
		key, val string
		keyEsc   bool
		kind     Kind
		esc      bool
	}
	var got []member
	for {
		more, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
		got = append(got, member{string(it.Key), string(it.Val), it.KeyEsc, it.Kind, it.Esc})
	}
	want := []member{
		{"a", `"x"`, false, KindString, false},
		{`b\n`, `{"c":[1,2]}`, true, KindObject, false},
		{"d", "1.5", false, KindNumber, true},
		{"e", "null", false, KindNull, false},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("member %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	end := it.Scanner()
	if err := end.End(); err != nil {
		t.Fatal(err)
	}
}

// Nested and EndNested walk a nested object in the parent's pass and leave
// the parent as ReadValue would.
func TestObjectIterNested(t *testing.T) {
	in := []byte(`{"u":{"id":"1","n":[true]},"z":2}`)
	it := NewObjectIter(NewScanner(in), 0)
	if err := it.Open(); err != nil {
		t.Fatal(err)
	}
	if more, err := it.NextKey(); err != nil || !more || it.Peek() != '{' {
		t.Fatalf("NextKey: %v %v %q", more, err, it.Peek())
	}
	sub := it.Nested()
	if sub.Depth() != 1 {
		t.Fatalf("nested depth %d", sub.Depth())
	}
	if err := sub.Open(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for {
		more, err := sub.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
		keys = append(keys, string(sub.Key))
	}
	it.EndNested(&sub)
	if string(it.Val) != `{"id":"1","n":[true]}` || it.Kind != KindObject || strings.Join(keys, ",") != "id,n" {
		t.Fatalf("after EndNested: %s %v %v", it.Val, it.Kind, keys)
	}
	if more, err := it.Next(); err != nil || !more || string(it.Key) != "z" || string(it.Val) != "2" {
		t.Fatalf("next member: %v %v %s=%s", more, err, it.Key, it.Val)
	}
	if more, err := it.Next(); err != nil || more {
		t.Fatalf("end: %v %v", more, err)
	}
}

// NestedArray walks an array member in place, and ArrayIter's Nested walks
// its object elements in the same pass; each End leaves the parent as
// ReadValue would, and the depths are those a ReadValue scan uses.
func TestNestedArrayInPlace(t *testing.T) {
	in := []byte(`{"events":[{"a":1}, "x" ,{"b":{"c":[2]}}],"z":3}`)
	it := NewObjectIter(NewScanner(in), 0)
	if err := it.Open(); err != nil {
		t.Fatal(err)
	}
	if more, err := it.NextKey(); err != nil || !more || it.Peek() != '[' {
		t.Fatalf("NextKey: %v %v %q", more, err, it.Peek())
	}
	arr := it.NestedArray()
	if err := arr.Open(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		more, err := arr.NextElem()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
		if arr.Peek() != '{' {
			if err := arr.ReadValue(); err != nil {
				t.Fatal(err)
			}
			got = append(got, "value "+string(arr.Val))
			continue
		}
		el := arr.Nested()
		if el.Depth() != 2 {
			t.Fatalf("element depth %d, want 2", el.Depth())
		}
		if err := el.Open(); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for {
			more, err := el.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !more {
				break
			}
			keys = append(keys, string(el.Key)+"="+string(el.Val))
		}
		arr.EndNested(&el)
		got = append(got, "object "+string(arr.Val)+" "+strings.Join(keys, ","))
	}
	it.EndNestedArray(&arr)
	want := []string{`object {"a":1} a=1`, `value "x"`, `object {"b":{"c":[2]}} b={"c":[2]}`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("elements:\n got %q\nwant %q", got, want)
	}
	if string(it.Val) != `[{"a":1}, "x" ,{"b":{"c":[2]}}]` || it.Kind != KindArray {
		t.Fatalf("after EndNestedArray: %s %v", it.Val, it.Kind)
	}
	if more, err := it.Next(); err != nil || !more || string(it.Key) != "z" || string(it.Val) != "3" {
		t.Fatalf("next member: %v %v %s=%s", more, err, it.Key, it.Val)
	}
}

// A syntax error inside an element walked in place is reported at its
// offset in the whole text, as a ReadValue scan reports it.
func TestNestedArrayInPlaceError(t *testing.T) {
	in := []byte(`{"events":[{"a":1},{"b":}]}`)
	it := NewObjectIter(NewScanner(in), 0)
	_ = it.Open()
	_, _ = it.NextKey()
	arr := it.NestedArray()
	_ = arr.Open()
	var err error
	for err == nil {
		var more bool
		if more, err = arr.NextElem(); err != nil || !more {
			break
		}
		el := arr.Nested()
		err = el.skip()
		arr.EndNested(&el)
	}
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 24 {
		t.Fatalf("error %v, want a SyntaxError at byte 24", err)
	}
}

func TestArrayIter(t *testing.T) {
	it := NewArrayIter(NewScanner([]byte(`[ "a\"b" , [] ,{}, -1 ]`)), 0)
	if err := it.Open(); err != nil {
		t.Fatal(err)
	}
	var vals []string
	var kinds []Kind
	for {
		more, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
		vals, kinds = append(vals, string(it.Val)), append(kinds, it.Kind)
	}
	if strings.Join(vals, " ") != `"a\"b" [] {} -1` || kinds[0] != KindString || kinds[1] != KindArray || kinds[2] != KindObject || kinds[3] != KindNumber {
		t.Fatalf("got %q %v", vals, kinds)
	}
	if err := NewArrayIter(NewScanner([]byte(`{}`)), 0); err.Open() == nil {
		t.Fatal("an object is not an array")
	}
	if it := NewObjectIter(NewScanner([]byte(`[]`)), 0); it.Open() == nil {
		t.Fatal("an array is not an object")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindInvalid: "invalid", KindNull: "null", KindString: "string",
		KindNumber: "number", KindBool: "boolean", KindObject: "object", KindArray: "array"} {
		if k.String() != want {
			t.Errorf("%d: %s", k, k)
		}
	}
}

// Unescape must decode exactly as encoding/json does: currents re-encodes
// decoded keys, and the output must not depend on which decoder ran.
func TestUnescape(t *testing.T) {
	for _, in := range []string{
		`plain`, `a\"b\\c\/d\be\ff\ng\rh\ti`, `\u0041\u00e9\u65e5`, `\uD83D\uDE00x`,
		`\uD83D`, `\uD83Dx`, `\uD83D\u0041`, `\uDE00\uD83D`, `\uD83D\uD83D\uDE00`, `\uDFFF`,
		`\u0000`, `é\u00e9`, `\\u0041`, strings.Repeat(`\u00e9`, 40),
	} {
		var want string
		if err := json.Unmarshal([]byte(`"`+in+`"`), &want); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := Unescape([]byte(in)); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
		raw := []byte(`"` + in + `"`)
		if got := StringValue(raw, strings.Contains(in, `\`)); got != want {
			t.Errorf("StringValue(%q) = %q, want %q", raw, got, want)
		}
	}
}

// Walking a scanned object allocates nothing.
func TestScanAllocs(t *testing.T) {
	in := []byte(`{"a":"x\n","b":{"c":[1,2,{"d":null}]},"e":"` + strings.Repeat("é", 30) + `"}`)
	n := testing.AllocsPerRun(100, func() {
		it := NewObjectIter(NewScanner(in), 0)
		if err := it.Open(); err != nil {
			t.Fatal(err)
		}
		for {
			more, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !more {
				break
			}
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per walk", n)
	}
}

// FuzzScan checks the scanner against encoding/json: it accepts exactly
// what json.Valid does, except strings that are not valid UTF-8 (which
// encoding/json lets through) and nesting beyond MaxDepth. Decoded strings
// match encoding/json's. Run with: go test ./internal/jsonscan -fuzz FuzzScan
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"a":[1,"\u00e9\n",{"b":null}],"c":-1.5e3}`, `"\uD83D\uDE00\uD83D"`,
		`[true,false]`, "\"abc\xff\"", `{"a":1}}`, `1.`, nest(3)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := scanDoc(data)
		valid := json.Valid(data)
		if err == nil && !valid {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		deep := strings.Count(string(data), "[")+strings.Count(string(data), "{") > MaxDepth
		if err != nil && valid && utf8.Valid(data) && !deep {
			t.Fatalf("refused valid JSON %q: %v", data, err)
		}
		if err == nil && len(data) > 0 {
			s := NewScanner(data)
			s.SkipSpace()
			start := s.i
			if kind, esc, _ := s.value(-1); kind == KindString {
				var want string
				if json.Unmarshal(data, &want) == nil {
					if got := StringValue(data[start:s.i], esc); got != want {
						t.Fatalf("decoded %q as %q, encoding/json as %q", data, got, want)
					}
				}
			}
		}
	})
}
