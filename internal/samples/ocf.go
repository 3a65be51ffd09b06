package samples

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/linkedin/goavro/v2"
)

// Compression codecs of an Avro object container file, as goavro names them.
const (
	CompressionNull    = goavro.CompressionNullLabel
	CompressionDeflate = goavro.CompressionDeflateLabel
	CompressionSnappy  = goavro.CompressionSnappyLabel
)

// defaultBlockSize is how many records go into one OCF block. Braze flushes a
// file at 15,000 events; smaller blocks make readers cross block boundaries
// even on test-sized files.
const defaultBlockSize = 1000

// OCFOption configures WriteOCF.
type OCFOption func(*ocfOptions)

type ocfOptions struct {
	compression string
	sync        *[16]byte
	blockSize   int
}

// WithCompression selects the block compression: CompressionNull (the
// default), CompressionDeflate or CompressionSnappy.
func WithCompression(name string) OCFOption {
	return func(o *ocfOptions) { o.compression = name }
}

// WithSyncMarker sets the file's 16-byte sync marker. Without it the marker
// is derived from the event type and the records' ids, so the same records
// always give the same bytes (goavro would draw a random one).
func WithSyncMarker(m [16]byte) OCFOption {
	return func(o *ocfOptions) { o.sync = &m }
}

// WithBlockSize sets how many records go into each block (default 1000).
func WithBlockSize(n int) OCFOption {
	return func(o *ocfOptions) { o.blockSize = n }
}

// WriteOCF writes records of eventType as one Avro object container file, the
// format of Braze's storage exports, with the type's schema from the contract.
// Records are plain values as Generator.Record makes them (or as JSON decodes
// them); they are converted with ToAvroNative, and the first one that does not
// fit the schema fails the call. The file is assembled in memory and written
// to w in one piece, and its bytes depend only on the arguments.
func WriteOCF(w io.Writer, eventType string, records []map[string]any, opts ...OCFOption) error {
	s, err := schemaOf(eventType)
	if err != nil {
		return err
	}
	codec, err := s.avroCodec()
	if err != nil {
		return err
	}
	o := ocfOptions{compression: CompressionNull, blockSize: defaultBlockSize}
	for _, opt := range opts {
		opt(&o)
	}
	switch o.compression {
	case CompressionNull, CompressionDeflate, CompressionSnappy:
	default:
		return fmt.Errorf("samples: unknown OCF compression %q (want null, deflate or snappy)", o.compression)
	}
	if o.blockSize < 1 {
		return fmt.Errorf("samples: OCF block size %d is not positive", o.blockSize)
	}
	sync := o.sync
	if sync == nil {
		sync = deriveSyncMarker(eventType, records)
	}

	var buf bytes.Buffer
	ow, err := goavro.NewOCFWriter(goavro.OCFConfig{
		W:               &buf,
		Codec:           codec,
		CompressionName: o.compression,
		SyncMarker:      *sync,
	})
	if err != nil {
		return fmt.Errorf("samples: %s: %w", eventType, err)
	}
	block := make([]any, 0, min(o.blockSize, len(records)))
	flush := func() error {
		if len(block) == 0 {
			return nil
		}
		if err := ow.Append(block); err != nil {
			return fmt.Errorf("samples: %s: %w", eventType, err)
		}
		block = block[:0]
		return nil
	}
	for i, rec := range records {
		n, err := s.toNative(rec)
		if err != nil {
			return fmt.Errorf("samples: %s record %d: %w", eventType, i, err)
		}
		block = append(block, n)
		if len(block) == o.blockSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	b := buf.Bytes()
	if err := canonicalizeHeader(b, codec.Schema(), o.compression, sync); err != nil {
		return fmt.Errorf("samples: %s: %w", eventType, err)
	}
	_, err = w.Write(b)
	return err
}

// deriveSyncMarker hashes the event type and the records' ids: distinct files
// get distinct markers, and the same file the same one.
func deriveSyncMarker(eventType string, records []map[string]any) *[16]byte {
	h := sha256.New()
	io.WriteString(h, eventType)
	for _, r := range records {
		h.Write([]byte{0})
		fmt.Fprint(h, r["id"])
	}
	var m [16]byte
	copy(m[:], h.Sum(nil))
	return &m
}

// canonicalizeHeader rewrites, in place, the metadata of the OCF header goavro
// wrote, with its two entries in sorted order. goavro encodes the metadata
// from a Go map, whose order changes from run to run; sorting it is what makes
// a file reproducible. The rewritten header has the same entries and length,
// which is checked, so the blocks after it are untouched.
func canonicalizeHeader(b []byte, schema, compression string, sync *[16]byte) error {
	meta := map[string]string{"avro.schema": schema, "avro.codec": compression}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	h := []byte("Obj\x01")
	h = binary.AppendVarint(h, int64(len(keys))) // Avro longs are zig-zag varints, as Go's
	for _, k := range keys {
		h = binary.AppendVarint(h, int64(len(k)))
		h = append(h, k...)
		h = binary.AppendVarint(h, int64(len(meta[k])))
		h = append(h, meta[k]...)
	}
	h = binary.AppendVarint(h, 0)
	h = append(h, sync[:]...)

	if len(b) < len(h) || !bytes.Equal(b[:4], h[:4]) || !bytes.Equal(b[len(h)-16:len(h)], sync[:]) {
		return errors.New("unexpected OCF header layout from goavro")
	}
	copy(b, h)
	return nil
}

// ToAvroNative converts a plain record of eventType into the native form
// goavro encodes: int fields as int32, long fields as int64, a non-null value
// of a ["null", T] union wrapped as map[string]any{T: value}, and absent
// nullable fields as nil. Numbers may be any Go integer type, an integral
// float64 or a json.Number, so records decoded from JSON convert too. A missing
// required field, a value of the wrong type and a field the schema does not
// have are errors.
func ToAvroNative(eventType string, record map[string]any) (map[string]any, error) {
	s, err := schemaOf(eventType)
	if err != nil {
		return nil, err
	}
	return s.toNative(record)
}

func (s *eventSchema) toNative(record map[string]any) (map[string]any, error) {
	for k := range record {
		if _, ok := s.byName[k]; !ok {
			return nil, fmt.Errorf("field %q is not in the schema", k)
		}
	}
	out := make(map[string]any, len(s.fields))
	for _, f := range s.fields {
		v := record[f.name]
		if v == nil {
			if !f.nullable {
				return nil, fmt.Errorf("required field %q is missing", f.name)
			}
			out[f.name] = nil
			continue
		}
		n, err := nativeValue(f.kind, v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.name, err)
		}
		if f.nullable {
			n = map[string]any{avroTypeName(f.kind): n}
		}
		out[f.name] = n
	}
	return out, nil
}

func avroTypeName(k kind) string {
	switch k {
	case kindInt:
		return "int"
	case kindLong:
		return "long"
	case kindBool:
		return "boolean"
	case kindFloat:
		return "float"
	case kindStringArray, kindNullableStringArray:
		return "array"
	}
	return "string"
}

func nativeValue(k kind, v any) (any, error) {
	switch k {
	case kindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case kindInt:
		n, err := toInt64(v)
		if err != nil {
			return nil, err
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("%d does not fit an Avro int", n)
		}
		return int32(n), nil
	case kindLong:
		return toInt64(v)
	case kindFloat:
		switch f := v.(type) {
		case float64:
			return float32(f), nil
		case float32:
			return f, nil
		case json.Number:
			x, err := f.Float64()
			return float32(x), err
		}
		if n, err := toInt64(v); err == nil {
			return float32(n), nil
		}
	case kindStringArray, kindNullableStringArray:
		var items []any
		switch a := v.(type) {
		case []any:
			items = a
		case []string:
			items = make([]any, len(a))
			for i, s := range a {
				items[i] = s
			}
		default:
			return nil, fmt.Errorf("want an array of strings, got %T", v)
		}
		out := make([]any, len(items))
		for i, it := range items {
			switch s := it.(type) {
			case string:
				if k == kindNullableStringArray {
					out[i] = map[string]any{"string": s}
				} else {
					out[i] = s
				}
			case nil:
				if k != kindNullableStringArray {
					return nil, fmt.Errorf("item %d is null in an array of non-null strings", i)
				}
			default:
				return nil, fmt.Errorf("item %d: want a string, got %T", i, it)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("want an Avro %s, got %T", avroTypeName(k), v)
}

func toInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int8:
		return int64(n), nil
	case int16:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int64:
		return n, nil
	case uint8:
		return int64(n), nil
	case uint16:
		return int64(n), nil
	case uint32:
		return int64(n), nil
	case uint:
		if uint64(n) <= math.MaxInt64 {
			return int64(n), nil
		}
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), nil
		}
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64 {
			return int64(n), nil
		}
	case json.Number:
		return n.Int64()
	default:
		return 0, fmt.Errorf("want an integer, got %T", v)
	}
	return 0, fmt.Errorf("%v is not an integer that fits an int64", v)
}

// FromAvroNative converts a record as goavro decodes it (from a binary row or
// an OCF file of eventType) back to plain values: unions unwrapped, int32 and
// int64 both as int64, arrays as []any of strings (nil for a null item). Every
// schema field is in the result, nil where null.
func FromAvroNative(eventType string, native map[string]any) (map[string]any, error) {
	s, err := schemaOf(eventType)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(s.fields))
	for _, f := range s.fields {
		v := native[f.name]
		if u, ok := v.(map[string]any); ok && f.nullable {
			v = u[avroTypeName(f.kind)]
		}
		switch x := v.(type) {
		case int32:
			v = int64(x)
		case float32:
			v = float64(x)
		case []any:
			items := make([]any, len(x))
			for i, it := range x {
				if u, ok := it.(map[string]any); ok {
					it = u["string"]
				}
				items[i] = it
			}
			v = items
		}
		out[f.name] = v
	}
	return out, nil
}
