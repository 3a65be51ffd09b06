package backlog

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sized is record i with a body of n bytes that starts with i's number.
func sized(i, n int) Record {
	body := fmt.Sprintf("%06d-event", i)
	return rec(body+strings.Repeat("e", max(0, n-len(body))), "i", strconv.Itoa(i))
}

// layout says, for each record of the file, whether it is a value of the
// records bucket ("value") or a bucket of its own holding it under its key
// ("bucket").
func layout(t *testing.T, path string) map[uint64]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[uint64]string{}
	err = db.View(func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRecords)
		return rb.ForEach(func(k, v []byte) error {
			if v != nil {
				out[keySeq(k)] = "value"
				return nil
			}
			b := rb.Bucket(k)
			n := 0
			_ = b.ForEach(func(kk, vv []byte) error {
				if string(kk) != string(k) || vv == nil {
					t.Errorf("the bucket of record %d holds key %x", keySeq(k), kk)
				}
				n++
				return nil
			})
			if n != 1 {
				t.Errorf("the bucket of record %d holds %d entries", keySeq(k), n)
			}
			out[keySeq(k)] = "bucket"
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func storedFormat(t *testing.T, path string) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v uint64
	_ = db.View(func(tx *bolt.Tx) error { v = getU64(tx.Bucket(bucketMeta).Get(keyFormat)); return nil })
	return v
}

// TestRecordsOfAPageOrMoreGetABucket: records shorter than a page are values
// of the records bucket, those of a page or more each a bucket of their
// own; both kinds come back in order with their metadata, pass Open's page
// check after a restart, are counted and sized alike, and leave nothing
// behind once acknowledged.
func TestRecordsOfAPageOrMoreGetABucket(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{ReadRecords: 1000, ReadBytes: 1 << 30})
	page := q.ownBucketFrom
	// Encoded sizes straddle the page: the body plus about 30 bytes of
	// header and metadata.
	sizes := []int{100, page - 60, page, 35000, 60000, 10, 3 * page}
	var batch []Record
	var want int64
	for i, n := range sizes {
		r := sized(i, n)
		want += int64(len(encodeRecord(&r, r.Written)))
		batch = append(batch, r)
	}
	if err := q.Append(ctxT(t), batch); err != nil {
		t.Fatal(err)
	}
	st, _ := q.Stats()
	if st.Records != int64(len(sizes)) || st.Bytes != want {
		t.Fatalf("stats %+v, want %d records of %d bytes", st, len(sizes), want)
	}
	q.Close()
	path := filepath.Join(dir, FileName)
	lay := layout(t, path)
	for i, n := range sizes {
		r := sized(i, n)
		wantKind := "value"
		if len(encodeRecord(&r, r.Written)) >= page {
			wantKind = "bucket"
		}
		if got := lay[uint64(i+1)]; got != wantKind {
			t.Errorf("record %d (%d-byte body) is stored as a %s, want a %s", i, n, got, wantKind)
		}
	}
	if storedFormat(t, path) != formatVersion {
		t.Fatalf("format %d, want %d", storedFormat(t, path), formatVersion)
	}

	q = open(t, dir, Options{ReadRecords: 1000, ReadBytes: 1 << 30}) // runs the page check
	if st, _ := q.Stats(); st.Records != int64(len(sizes)) || st.Bytes != want || st.Oldest.IsZero() {
		t.Fatalf("after a restart: %+v", st)
	}
	l, err := q.Read(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != len(sizes) {
		t.Fatalf("leased %d records, want %d", l.Len(), len(sizes))
	}
	for i, r := range l.Records {
		w := sized(i, sizes[i])
		if r.Damage != nil || string(r.Body) != string(w.Body) || len(r.Meta) != 1 || string(r.Meta[0].Value) != strconv.Itoa(i) {
			t.Fatalf("record %d came back as %d bytes, meta %+v, damage %v", i, len(r.Body), r.Meta, r.Damage)
		}
	}
	if err := l.Ack(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if st, _ := q.Stats(); st.Records != 0 || st.Bytes != 0 {
		t.Fatalf("after acknowledging everything: %+v", st)
	}
	q.Close()
	if lay := layout(t, path); len(lay) != 0 {
		t.Fatalf("left in the records bucket after acknowledging everything: %v", lay)
	}
}

// TestValueRecordsOfAnEarlierBuildStillRead: a file of format 1, where every
// record is a value however large, opens, reads in order alongside records
// appended since (in buckets), acknowledges both kinds, salvages, and is
// marked format 2 so that the earlier build refuses it rather than take the
// buckets for damage.
func TestValueRecordsOfAnEarlierBuildStillRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	q := open(t, dir, Options{})
	q.ownBucketFrom = 1 << 30 // as the earlier build stored records
	for i := 0; i < 20; i += 5 {
		if err := q.Append(ctxT(t), []Record{sized(i, 40000), sized(i+1, 100), sized(i+2, 9000), sized(i+3, 40000), sized(i+4, 5000)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyFormat, u64(formatVersionValues))
	}); err != nil {
		t.Fatal(err)
	}
	q.Close()
	for seq, kind := range layout(t, path) {
		if kind != "value" {
			t.Fatalf("record %d of the format-1 file is a %s", seq, kind)
		}
	}
	if _, got := salvageInto(t, path); len(got) != 20 {
		t.Fatalf("salvaged %d records of the format-1 file, want 20", len(got))
	}

	q = open(t, dir, Options{ReadRecords: 7, ReadBytes: 1 << 30})
	var f uint64
	_ = q.db.View(func(tx *bolt.Tx) error { f = getU64(tx.Bucket(bucketMeta).Get(keyFormat)); return nil })
	if f != formatVersion {
		t.Fatalf("format %d after opening to write, want %d", f, formatVersion)
	}
	for i := 20; i < 30; i++ {
		if err := q.Append(ctxT(t), []Record{sized(i, 20000)}); err != nil {
			t.Fatal(err)
		}
	}
	readAllInOrder(t, q, 30)
	if st, _ := q.Stats(); st.Records != 0 || st.Bytes != 0 {
		t.Fatalf("after acknowledging everything: %+v", st)
	}
}

// TestDamagedRecordBucketIsReported: a record's bucket holding anything but
// the one record under its key is damage Open names, with the sequence
// number it costs; salvage still copies every intact record.
func TestDamagedRecordBucketIsReported(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		spoil      func(b *bolt.Bucket, k []byte) error
	}{
		{"a second entry", "holds an entry with key", func(b *bolt.Bucket, k []byte) error { return b.Put(append(k[:8:8], 'x'), []byte("x")) }},
		{"no entry", "is empty", func(b *bolt.Bucket, k []byte) error { return b.Delete(k) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path := fillCommits(t, 10, 5, func(i int) Record { return sized(i, 20000) })
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				k := seqKey(4)
				return tc.spoil(tx.Bucket(bucketRecords).Bucket(k), k)
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(dir, Options{MaxBytes: 1 << 30})
			if !IsCorrupt(err) || !strings.Contains(err.Error(), "the bucket of record 4 "+tc.want) || !strings.Contains(err.Error(), "sequence numbers 4 to 4") {
				t.Fatalf("Open: %v", err)
			}
			rep, got := salvageInto(t, path)
			inOrder(t, got)
			want := 10
			if tc.name == "no entry" {
				want = 9 // its bytes are in a freed page the scan may or may not find
			}
			if len(got) < want {
				t.Fatalf("salvaged %d records, want at least %d (%+v)", len(got), want, rep)
			}
		})
	}
}
