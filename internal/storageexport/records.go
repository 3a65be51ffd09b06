package storageexport

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/linkedin/goavro/v2"
)

// DamageError is an export object that cannot be read to its end: not an
// object container file, a header without a usable schema, or a block cut
// short or corrupt (Braze warns that Google Cloud Storage can leave incomplete
// files). Records is how many records were read before the damage; they are
// good and were handed on.
type DamageError struct {
	Key     string
	Records int64
	Err     error
}

func (e *DamageError) Error() string {
	if e.Records == 0 {
		return fmt.Sprintf("export object %q is damaged, no record could be read: %v", e.Key, e.Err)
	}
	return fmt.Sprintf("export object %q is damaged after record %d (those %d were read and sent): %v", e.Key, e.Records, e.Records, e.Err)
}

func (e *DamageError) Unwrap() error { return e.Err }

// ReadError is a failure of the storage service while an object was read (a
// reset connection, a timeout): the object is fine and is read again.
type ReadError struct {
	Key string
	Err error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("reading export object %q: %v", e.Key, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// RecordReader reads the records of one export object, each as the flat JSON
// object of Braze's storage shape (plain values: a union is written as the
// value it holds, null as null).
type RecordReader struct {
	key       string
	src       *countingReader
	ocf       *goavro.OCFReader
	schema    *schemaNode
	eventType string
	records   int64
}

// NewRecordReader reads the header of the object container file in r, the
// content of the export object o. A header that cannot be read is a
// *DamageError; a failure of r itself a *ReadError.
func NewRecordReader(r io.Reader, o Object) (*RecordReader, error) {
	src := &countingReader{r: r}
	rr := &RecordReader{key: o.Key, src: src}
	ocf, err := goavro.NewOCFReader(bufio.NewReaderSize(src, 64<<10))
	if err != nil {
		return nil, rr.classify(err)
	}
	rr.ocf = ocf
	s, err := parseSchema(ocf.Codec().Schema())
	if err != nil {
		return nil, &DamageError{Key: o.Key, Err: err}
	}
	if s.kind != "record" {
		return nil, &DamageError{Key: o.Key, Err: fmt.Errorf("the schema is a %s, not a record of Currents events", s.kind)}
	}
	rr.schema = s
	rr.eventType = o.EventType
	if rr.eventType == "" {
		rr.eventType = EventTypeOfSchema(s.recordName())
	}
	return rr, nil
}

// EventType is the Currents type of the object's records: the one its key
// names, else the one its schema names.
func (r *RecordReader) EventType() string { return r.eventType }

// SchemaName is the full name of the records' schema.
func (r *RecordReader) SchemaName() string { return r.schema.fullName }

// Records is how many records were read so far.
func (r *RecordReader) Records() int64 { return r.records }

// BytesRead is how many bytes of the object were read so far.
func (r *RecordReader) BytesRead() int64 { return r.src.n }

// Next appends the next record, as JSON, to dst. It returns io.EOF after the
// last one, a *DamageError when the rest of the file cannot be read, and a
// *ReadError when the storage service failed.
func (r *RecordReader) Next(dst []byte) ([]byte, error) {
	if !r.ocf.Scan() {
		if err := r.ocf.Err(); err != nil {
			return dst, r.classify(err)
		}
		if r.src.err != nil {
			return dst, &ReadError{Key: r.key, Err: r.src.err}
		}
		return dst, io.EOF
	}
	v, err := r.ocf.Read()
	if err != nil {
		return dst, r.classify(err)
	}
	out, err := appendValue(dst, v, r.schema)
	if err != nil {
		return dst, &DamageError{Key: r.key, Records: r.records, Err: fmt.Errorf("record %d does not fit its schema: %w", r.records+1, err)}
	}
	r.records++
	return out, nil
}

// classify tells a storage failure (the object is fine, read it again) from
// damage (the bytes themselves are wrong or end early).
func (r *RecordReader) classify(err error) error {
	if r.src.err != nil {
		return &ReadError{Key: r.key, Err: r.src.err}
	}
	return &DamageError{Key: r.key, Records: r.records, Err: err}
}

// countingReader counts the bytes read and keeps the first error of the
// storage service, io.EOF aside: an object that ends early is damage, not a
// failure to read it.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && c.err == nil {
		c.err = err
	}
	return n, err
}

// appendValue writes the goavro native value v of schema s as plain JSON.
func appendValue(b []byte, v any, s *schemaNode) ([]byte, error) {
	if s.kind == "union" {
		if v == nil {
			return append(b, "null"...), nil
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return b, fmt.Errorf("union value %T is not a one-branch wrapper", v)
		}
		for k, inner := range m {
			bs, ok := s.branches[k]
			if !ok {
				return b, fmt.Errorf("union value of branch %q, which the schema does not have", k)
			}
			return appendValue(b, inner, bs)
		}
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case []byte:
		// bytes and fixed: Avro's JSON encoding maps each byte to the code
		// point of the same value.
		return appendLatin1(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float32:
		return appendFloat(b, float64(x), 32), nil
	case float64:
		return appendFloat(b, x, 64), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e, s.items); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		if s.kind == "record" {
			b = append(b, '{')
			for i, f := range s.fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, f.name)
				b = append(b, ':')
				var err error
				if b, err = appendValue(b, x[f.name], f.node); err != nil {
					return b, fmt.Errorf("field %q: %w", f.name, err)
				}
			}
			return append(b, '}'), nil
		}
		b = append(b, '{')
		first := true
		for k, e := range x {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, e, s.items); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
	return b, fmt.Errorf("unexpected decoded value %T", v)
}

// appendFloat writes the shortest decimal that reads back as the same float
// of that size (so an Avro float 0.1 is 0.1, not 0.10000000149011612). JSON
// has no NaN or infinity: they become null.
func appendFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as
// encoding/json writes it.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendLatin1(b []byte, p []byte) []byte {
	r := make([]rune, len(p))
	for i, c := range p {
		r[i] = rune(c)
	}
	return appendString(b, string(r))
}
