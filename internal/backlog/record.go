package backlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Record is one event held in the backlog: its bytes and its metadata.
type Record struct {
	// Body is the event as received.
	Body []byte
	// Meta is the metadata that travels with the event, in order.
	Meta []Meta
	// Written is when the record was committed to the backlog; Append sets it.
	Written time.Time
	// Damage is set, on a record handed out by Read, when its stored bytes
	// fail their checksum or do not decode; Body, Meta and Written are then
	// empty. The record stays in the lease like any other, so that
	// acknowledging the lease moves it out of the backlog once the caller
	// has put it somewhere safe (a dead letter), and the queue goes on.
	Damage *Damage
}

// Damage describes a record whose stored bytes fail their checksum or do not
// decode.
type Damage struct {
	// Seq is the record's sequence number in the file.
	Seq uint64
	// Err says what is wrong with the bytes.
	Err error
	// Bytes are the stored bytes as read, for whoever wants to look at them.
	Bytes []byte
	// Repeat is true when this Queue handed the record out damaged before
	// (its lease was released, not acknowledged).
	Repeat bool
}

// Meta is one metadata entry. Kind says how Value is encoded so that the
// value's type comes back (MetaOf and Decode, in metavalue.go); the queue
// stores both unchanged.
type Meta struct {
	Key   string
	Kind  byte
	Value []byte
}

// encodedCap bounds the length of the record's encoding.
func (r *Record) encodedCap() int {
	n := recordHeaderSize + binary.MaxVarintLen64
	for _, m := range r.Meta {
		n += 2*binary.MaxVarintLen64 + 1 + len(m.Key) + len(m.Value)
	}
	return n + len(r.Body)
}

const (
	recordVersion = 1
	// version(1) crc32c(4) written unix nanos(8)
	recordHeaderSize = 13
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadRecord marks a record whose bytes do not decode.
var errBadRecord = errors.New("bad record")

func encodeRecord(r *Record, written time.Time) []byte {
	buf := getRecordBuf(r.encodedCap())[:recordHeaderSize]
	buf[0] = recordVersion
	binary.BigEndian.PutUint64(buf[5:13], uint64(written.UnixNano()))
	buf = binary.AppendUvarint(buf, uint64(len(r.Meta)))
	for _, m := range r.Meta {
		buf = binary.AppendUvarint(buf, uint64(len(m.Key)))
		buf = append(buf, m.Key...)
		buf = append(buf, m.Kind)
		buf = binary.AppendUvarint(buf, uint64(len(m.Value)))
		buf = append(buf, m.Value...)
	}
	buf = append(buf, r.Body...)
	binary.BigEndian.PutUint32(buf[1:5], crc32.Checksum(buf[5:], castagnoli))
	return buf
}

// decodeRecord decodes an encoded record; the result shares no memory with
// b, so b may be a bbolt value that is only valid inside its transaction.
func decodeRecord(b []byte) (Record, error) {
	if len(b) < recordHeaderSize+1 {
		return Record{}, fmt.Errorf("%w: %d bytes is shorter than a record header", errBadRecord, len(b))
	}
	if b[0] != recordVersion {
		return Record{}, fmt.Errorf("%w: unknown record version %d", errBadRecord, b[0])
	}
	if got, want := crc32.Checksum(b[5:], castagnoli), binary.BigEndian.Uint32(b[1:5]); got != want {
		return Record{}, fmt.Errorf("%w: checksum %08x, stored %08x", errBadRecord, got, want)
	}
	r := Record{Written: time.Unix(0, int64(binary.BigEndian.Uint64(b[5:13])))}
	rest := b[recordHeaderSize:]
	n, rest, err := uvarint(rest)
	if err != nil {
		return Record{}, err
	}
	if n > uint64(len(rest)) {
		return Record{}, fmt.Errorf("%w: %d metadata entries in %d bytes", errBadRecord, n, len(rest))
	}
	if n > 0 {
		r.Meta = make([]Meta, n)
	}
	for i := range r.Meta {
		var kl, vl uint64
		if kl, rest, err = uvarint(rest); err != nil {
			return Record{}, err
		}
		if kl+1 > uint64(len(rest)) {
			return Record{}, fmt.Errorf("%w: metadata key overruns the record", errBadRecord)
		}
		r.Meta[i].Key = string(rest[:kl])
		r.Meta[i].Kind = rest[kl]
		rest = rest[kl+1:]
		if vl, rest, err = uvarint(rest); err != nil {
			return Record{}, err
		}
		if vl > uint64(len(rest)) {
			return Record{}, fmt.Errorf("%w: metadata value overruns the record", errBadRecord)
		}
		r.Meta[i].Value = append([]byte(nil), rest[:vl]...)
		rest = rest[vl:]
	}
	r.Body = append([]byte(nil), rest...)
	return r, nil
}

// recordWritten reads only the write time of an encoded record, if its
// checksum holds: a damaged record's time is noise.
func recordWritten(b []byte) (time.Time, bool) {
	if len(b) < recordHeaderSize+1 || b[0] != recordVersion || crc32.Checksum(b[5:], castagnoli) != binary.BigEndian.Uint32(b[1:5]) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[5:13]))), true
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: bad length prefix", errBadRecord)
	}
	return v, b[n:], nil
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func keySeq(k []byte) uint64 { return binary.BigEndian.Uint64(k) }
