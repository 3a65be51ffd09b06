package storageexport

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/currents-segment/currents-segment/internal/samples"
)

// exportFile is one generated object container file of n records of type t,
// and the records as plain JSON values.
func exportFile(t *testing.T, eventType string, n int, opts ...samples.OCFOption) ([]byte, []map[string]any) {
	t.Helper()
	g := samples.New(7)
	recs := make([]map[string]any, n)
	for i := range recs {
		recs[i] = g.Record(eventType)
	}
	var buf bytes.Buffer
	if err := samples.WriteOCF(&buf, eventType, recs, opts...); err != nil {
		t.Fatal(err)
	}
	want := make([]map[string]any, n)
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want[i]); err != nil {
			t.Fatal(err)
		}
		dropNulls(want[i])
	}
	return buf.Bytes(), want
}

// dropNulls removes the null fields: the generator leaves an unset optional
// field out, Avro writes it as null, and the mapper treats both alike. A
// value written as null where one was set still differs.
func dropNulls(m map[string]any) {
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
}

func readAll(t *testing.T, data []byte, o Object) ([]map[string]any, *RecordReader, error) {
	t.Helper()
	rr, err := NewRecordReader(bytes.NewReader(data), o)
	if err != nil {
		return nil, nil, err
	}
	var got []map[string]any
	for {
		b, err := rr.Next(nil)
		if errors.Is(err, io.EOF) {
			return got, rr, nil
		}
		if err != nil {
			return got, rr, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("record %d is not JSON: %v: %s", len(got)+1, err, b)
		}
		dropNulls(m)
		got = append(got, m)
	}
}

// Every type's records come out as the plain values that were written, with
// every codec Braze may use, across block boundaries.
func TestRecordReaderEveryType(t *testing.T) {
	for _, codec := range []string{samples.CompressionNull, samples.CompressionDeflate, samples.CompressionSnappy} {
		for _, et := range samples.Types(samples.ShapeStorage) {
			data, want := exportFile(t, et, 5, samples.WithCompression(codec), samples.WithBlockSize(2))
			got, rr, err := readAll(t, data, Object{Key: "k.avro"})
			if err != nil {
				t.Fatalf("%s (%s): %v", et, codec, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s (%s): records differ\n got %v\nwant %v", et, codec, got, want)
			}
			// Typed by the schema when the key names no type.
			if rr.EventType() != et {
				t.Errorf("%s: EventType() = %q from the schema", et, rr.EventType())
			}
			if rr.Records() != 5 || rr.BytesRead() != int64(len(data)) {
				t.Errorf("%s: Records() = %d, BytesRead() = %d of %d", et, rr.Records(), rr.BytesRead(), len(data))
			}
		}
	}
}

func TestRecordReaderKeyTypeWins(t *testing.T) {
	data, _ := exportFile(t, "users.messages.email.Send", 1)
	rr, err := NewRecordReader(bytes.NewReader(data), Object{Key: "k.avro", EventType: "users.messages.email.Open"})
	if err != nil {
		t.Fatal(err)
	}
	if rr.EventType() != "users.messages.email.Open" {
		t.Errorf("EventType() = %q, want the key's", rr.EventType())
	}
}

// A file cut short gives its good records, then a DamageError that counts
// them; one with no header is damaged from the start.
func TestRecordReaderDamage(t *testing.T) {
	data, want := exportFile(t, "users.messages.email.Send", 10, samples.WithBlockSize(4))
	cut := data[:len(data)-20]
	got, _, err := readAll(t, cut, Object{Key: "cut.avro"})
	var damage *DamageError
	if !errors.As(err, &damage) {
		t.Fatalf("a truncated file: err = %v, want a *DamageError", err)
	}
	if damage.Key != "cut.avro" || damage.Records != int64(len(got)) || len(got) != 8 {
		t.Errorf("damage = %+v after %d records, want 8 good records (two full blocks)", damage, len(got))
	}
	if !reflect.DeepEqual(got, want[:8]) {
		t.Error("the records before the damage differ from those written")
	}

	_, err = NewRecordReader(bytes.NewReader([]byte("not avro at all")), Object{Key: "junk.avro"})
	if !errors.As(err, &damage) || damage.Records != 0 {
		t.Errorf("junk: err = %v, want a *DamageError with no records", err)
	}
	_, err = NewRecordReader(bytes.NewReader(nil), Object{Key: "empty.avro"})
	if !errors.As(err, &damage) {
		t.Errorf("an empty object: err = %v, want a *DamageError", err)
	}
}

type failingReader struct {
	r     io.Reader
	after int
	err   error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, f.err
	}
	if len(p) > f.after {
		p = p[:f.after]
	}
	n, err := f.r.Read(p)
	f.after -= n
	return n, err
}

// A failure of the storage service is not damage: the object is read again.
func TestRecordReaderStorageFailure(t *testing.T) {
	data, _ := exportFile(t, "users.messages.email.Send", 10, samples.WithBlockSize(2))
	reset := errors.New("connection reset by peer")
	for _, after := range []int{0, 10, len(data) / 2} {
		rr, err := NewRecordReader(&failingReader{r: bytes.NewReader(data), after: after, err: reset}, Object{Key: "k.avro"})
		for err == nil {
			_, err = rr.Next(nil)
		}
		var re *ReadError
		if !errors.As(err, &re) || !errors.Is(err, reset) {
			t.Errorf("failing after %d bytes: err = %v, want a *ReadError wrapping the reset", after, err)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"plain", `q"uo\te`, "tab\tnl\nctl\x01", "é ü 日本", "bad\xffutf8", ""} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendString(%q) = %s is not JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("appendString(%q) reads back as %q, encoding/json's as %q", s, back, wantBack)
		}
	}
}
