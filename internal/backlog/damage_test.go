package backlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// requestRecord is a record the size of what the braze_currents input
// stores per Braze request (about 100 events, 35 KB): it spans overflow
// pages.
func requestRecord(i int) Record {
	return rec(fmt.Sprintf("%06d", i)+strings.Repeat("e", 35000), "i", strconv.Itoa(i))
}

// fillCommits makes a closed backlog of n records appended in commits of
// per records each.
func fillCommits(t *testing.T, n, per int, mk func(int) Record) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	q, err := Open(dir, Options{MaxBytes: 1 << 32})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += per {
		batch := make([]Record, 0, per)
		for j := i; j < min(n, i+per); j++ {
			batch = append(batch, mk(j))
		}
		if err := q.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, FileName)
}

// recordSpans says where each live record's key and value are in a healthy
// file: [start, end) by sequence number.
func recordSpans(t *testing.T, path string) map[uint64][2]int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := db.Info().Data
	spans := map[uint64][2]int{}
	err = db.View(func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRecords)
		return rb.ForEach(func(k, v []byte) error {
			if v == nil { // a record in a bucket of its own (store.go)
				k, v = rb.Bucket(k).Cursor().First()
			}
			start := int(uintptr(unsafe.Pointer(&k[0])) - base)
			spans[keySeq(k)] = [2]int{start, start + len(k) + len(v)}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return spans
}

// readAll reads the whole backlog, lease after lease, acknowledging each, and
// returns the bodies' numbers and the damaged records.
func readAll(t *testing.T, q *Queue) (ids []int, damaged []*Damage) {
	t.Helper()
	q.CloseWrites()
	for {
		l, err := q.Read(ctxT(t))
		if errors.Is(err, ErrDrained) {
			return ids, damaged
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Records {
			if r.Damage != nil {
				damaged = append(damaged, r.Damage)
				continue
			}
			i, _ := strconv.Atoi(string(r.Body[:6]))
			ids = append(ids, i)
		}
		if err := l.Ack(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// readAllInOrder is readAll for a backlog that must hold records 0 to n-1,
// none damaged, and give them back in that order.
func readAllInOrder(t *testing.T, q *Queue, n int) {
	t.Helper()
	ids, damaged := readAll(t, q)
	if len(ids) != n || len(damaged) != 0 {
		t.Fatalf("read %d records and %d damaged, want all %d", len(ids), len(damaged), n)
	}
	for i, id := range ids {
		if id != i {
			t.Fatalf("record %d is %d", i, id)
		}
	}
}

// TestOneDamagedRecordDoesNotStallTheQueue: a backlog of 3,000 records, one
// of them with a byte flipped in its body, read in leases of 1,000 (the
// attack stalled after the first lease). The damaged record comes out in its
// place, as damaged; released (as a failed delivery to the dead letter
// would), it comes out again marked as a repeat and is counted once;
// acknowledged, it is gone. Every other record comes out once, in order, and
// appends go on throughout.
func TestOneDamagedRecordDoesNotStallTheQueue(t *testing.T) {
	for _, size := range []struct {
		name string
		mk   func(int) Record
	}{
		{"small records", func(i int) Record { return rec(fmt.Sprintf("%06d-event", i), "i", strconv.Itoa(i)) }},
		{"records in buckets of their own", func(i int) Record { return sized(i, 5000) }},
	} {
		t.Run(size.name, func(t *testing.T) { oneDamagedRecord(t, size.mk) })
	}
}

func oneDamagedRecord(t *testing.T, mk func(int) Record) {
	dir, path := fillCommits(t, 3000, 100, mk)
	b, _ := os.ReadFile(path)
	i := strings.Index(string(b), "001500-event")
	if i < 0 {
		t.Fatal("record not found in the file")
	}
	b[i+8] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	q := open(t, dir, Options{ReadRecords: 1000, ReadBytes: 1 << 30, RetryDelay: 1})
	ctx := ctxT(t)
	var ids []int
	var seen []*Damage
	for len(ids) < 2999 {
		l, err := q.Read(ctx)
		if err != nil {
			t.Fatalf("after %d records: %v", len(ids), err)
		}
		var lease []int
		release := false
		for _, r := range l.Records {
			if d := r.Damage; d != nil {
				seen = append(seen, d)
				release = len(seen) == 1
				continue
			}
			lease = append(lease, atoi(r.Body[:6]))
		}
		if err := q.Append(ctx, []Record{rec("999999-new")}); err != nil {
			t.Fatalf("append beside a damaged record: %v", err)
		}
		if release {
			l.Release()
			continue
		}
		ids = append(ids, lease...)
		if err := l.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 2 || seen[0].Seq != 1501 || seen[0].Repeat || !seen[1].Repeat || !strings.Contains(seen[0].Err.Error(), "checksum") {
		t.Fatalf("damaged record handed out as %+v", seen)
	}
	for j, id := range ids {
		if want := j + btoi(j >= 1500); id != want {
			t.Fatalf("record %d is %d", j, id)
		}
	}
	st, _ := q.Stats()
	if st.Damaged != 1 {
		t.Fatalf("%d damaged records counted, want 1 (a repeat counts once)", st.Damaged)
	}
	ids, damaged := readAll(t, q)
	if len(damaged) != 0 || len(ids) == 0 {
		t.Fatalf("after the acknowledgement: %d damaged, %d appended records", len(damaged), len(ids))
	}
}

func atoi(b []byte) int { i, _ := strconv.Atoi(string(b)); return i }

// TestSalvageRecoversEveryIntactRecord damages files as the attack did (64
// bytes flipped in a row, at one place or three, and 64 single bytes spread
// over the data pages), over records that span overflow pages and records
// packed many to a page, and checks that salvage copies every record whose
// key and value bytes are intact in the file. The attack's "10 of 30" was a
// file where 64 scattered flips left about that many records intact; before
// this fix salvage also lost intact records in leaf pages whose header was
// hit, and bbolt crashed the process outright on some (keys out of order,
// page ids past the mapping).
func TestSalvageRecoversEveryIntactRecord(t *testing.T) {
	rnd := rand.New(rand.NewSource(13))
	for _, tc := range []struct {
		name   string
		n, per int
		mk     func(int) Record
	}{
		{"35KB records spanning overflow pages", 30, 1, requestRecord},
		{"500-byte records many to a page", 600, 50, func(i int) Record { return rec(fmt.Sprintf("%06d", i)+strings.Repeat("x", 500), "i", strconv.Itoa(i)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			intactTotal, recovered, damagedTotal := 0, 0, 0
			for run := 0; run < 24; run++ {
				_, path := fillCommits(t, tc.n, tc.per, tc.mk)
				spans := recordSpans(t, path)
				b, _ := os.ReadFile(path)
				var flips []int
				const pageSize = 4096
				switch run % 3 {
				case 0, 1: // 64 bytes in a row, at 1 or 3 places in the data pages
					for k := 0; k < 1+2*(run%3); k++ {
						p := 2*pageSize + rnd.Intn(len(b)-2*pageSize-64)
						if run%6 == 0 {
							p = (p / pageSize) * pageSize // a page header and its elements
						}
						for i := p; i < p+64; i++ {
							flips = append(flips, i)
						}
					}
				case 2: // 64 single bytes spread over the data pages
					for k := 0; k < 64; k++ {
						flips = append(flips, 2*pageSize+rnd.Intn(len(b)-2*pageSize))
					}
				}
				for _, f := range flips {
					b[f] ^= 0xff
				}
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
				intact := map[int]bool{}
				for seq, sp := range spans {
					hit := false
					for _, f := range flips {
						hit = hit || f >= sp[0] && f < sp[1]
					}
					if !hit {
						intact[int(seq)-1] = true // record i has sequence number i+1
					}
				}
				rep, got := salvageInto(t, path)
				have := map[int]bool{}
				var intactOrder []int
				for _, i := range got {
					if have[i] {
						t.Errorf("run %d: record %d salvaged twice", run, i)
					}
					have[i] = true
					if intact[i] {
						intactOrder = append(intactOrder, i)
					}
				}
				inOrder(t, intactOrder) // a record with a damaged key may land out of place
				for i := range intact {
					if !have[i] {
						t.Errorf("run %d: record %d is intact in the file but was not salvaged (%+v)", run, i, rep)
					}
				}
				intactTotal += len(intact)
				damagedTotal += len(spans) - len(intact)
				recovered += len(got)
			}
			t.Logf("24 damaged files: %d records intact, all salvaged; %d copied in all (intact older copies of some of the %d records whose live bytes were hit among them)",
				intactTotal, recovered, damagedTotal)
		})
	}
}

// TestOpenReportsDamageBboltWouldCrashOn: damage that bbolt does not survive
// (a goroutine of its own panics on keys out of order when it rebuilds its
// free list at open; a branch pointing past the file faults) is reported by
// Open as damage, with what it costs, and leaves no lock behind.
func TestOpenReportsDamageBboltWouldCrashOn(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		damage     func(b []byte, spans map[uint64][2]int)
	}{
		{"key out of order", "out of order", func(b []byte, spans map[uint64][2]int) { b[spans[100][0]+6] ^= 0xff }},
		{"leaf header", "names itself", func(b []byte, spans map[uint64][2]int) {
			p := spans[150][0] / 4096 * 4096
			for i := p; i < p+8; i++ {
				b[i] ^= 0xff
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path := filled(t, 300, 100)
			spans := recordSpans(t, path)
			b, _ := os.ReadFile(path)
			tc.damage(b, spans)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, Options{MaxBytes: 1 << 30})
			if !IsCorrupt(err) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "The file counts 300 records") {
				t.Fatalf("Open: %v", err)
			}
			t.Log(err)
			// Nothing holds the file: a salvage can read it at once.
			rep, got := salvageInto(t, path)
			if len(got) < 299 {
				t.Fatalf("salvage copied %d of 300 records: %+v", len(got), rep)
			}
		})
	}
}

// TestDamagedNewestMetaPage: bbolt silently opens a file whose newest meta
// page is damaged at the commit before. Open says so, finds the lost
// commit's records in the file, restores them, and rewrites the meta page;
// a damaged older meta page costs nothing and is said to cost nothing.
func TestDamagedNewestMetaPage(t *testing.T) {
	newestMeta := func(t *testing.T, path string) (newest, older int) {
		f, _ := os.Open(path)
		defer f.Close()
		st, err := readFileState(f)
		if err != nil || st.damagedMeta >= 0 {
			t.Fatalf("meta pages: %v %+v", err, st)
		}
		page := make([]byte, 4096)
		f.ReadAt(page, 0)
		m0, _ := parseBoltMeta(page)
		if m0.txid == st.meta.txid {
			return 0, 1
		}
		return 1, 0
	}
	for _, which := range []string{"newest", "older", "newest, records in buckets of their own"} {
		t.Run(which, func(t *testing.T) {
			mk := func(i int) Record { return rec(fmt.Sprintf("%06d-event", i), "i", strconv.Itoa(i)) }
			if which != "older" && which != "newest" {
				which, mk = "newest", func(i int) Record { return sized(i, 5000) }
			}
			dir, path := fillCommits(t, 3000, 100, mk)
			newest, older := newestMeta(t, path)
			page := newest
			if which == "older" {
				page = older
			}
			b, _ := os.ReadFile(path)
			b[page*4096+16+40] ^= 0xff // inside the checksummed meta
			os.WriteFile(path, b, 0o600)

			// Salvage of the damaged file (before Open rewrites the page)
			// copies the lost commit too.
			srep, got := salvageInto(t, path)
			inOrder(t, got)
			if len(got) != 3000 || which == "newest" && srep.Restored != 100 || which == "older" && srep.Restored != 0 {
				t.Fatalf("salvage of a file with its %s meta page damaged: %d copied, %+v", which, len(got), srep)
			}

			q, err := Open(dir, Options{MaxBytes: 1 << 30, ReadRecords: 5000})
			if err != nil {
				t.Fatal(err)
			}
			md := q.Report().MetaDamage
			if md == nil || md.Page != page {
				t.Fatalf("report %+v", q.Report())
			}
			t.Log(md)
			switch which {
			case "newest":
				if md.Restored != 100 || md.Missing != 0 || !strings.Contains(md.String(), "the last commit was lost: its 100 records were found intact in the file and restored") {
					t.Fatalf("%+v: %s", md, md)
				}
			case "older":
				if md.Restored != 0 || !strings.Contains(md.String(), "no record appended after that commit was found") {
					t.Fatalf("%+v: %s", md, md)
				}
			}
			readAllInOrder(t, q, 3000) // after the restore
			q.Close()
			// The restore's commit rewrote the damaged meta page.
			q = open(t, dir, Options{})
			if md := q.Report().MetaDamage; md != nil {
				t.Fatalf("the damaged meta page was not rewritten: %s", md)
			}
			if st, _ := q.Stats(); st.Records != 0 {
				t.Fatalf("%d records after reading everything", st.Records)
			}
		})
	}
}

// TestTruncatedFileSaysWhatIsLeft: a truncation takes the root page (bbolt
// writes it last, at the end); Open says how many intact records remain,
// which is what salvage then copies.
func TestTruncatedFileSaysWhatIsLeft(t *testing.T) {
	dir, path := fillCommits(t, 3000, 100, func(i int) Record {
		return rec(fmt.Sprintf("%06d%s", i, strings.Repeat("t", 300)), "i", strconv.Itoa(i))
	})
	info, _ := os.Stat(path)
	os.Truncate(path, info.Size()/2)
	_, err := Open(dir, Options{MaxBytes: 1 << 30})
	if !IsCorrupt(err) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("Open: %v", err)
	}
	var n int
	msg := err.Error()
	if i := strings.Index(msg, "a page scan finds "); i < 0 {
		t.Fatalf("the error does not say what is left: %s", msg)
	} else {
		fmt.Sscanf(msg[i:], "a page scan finds %d intact records", &n)
	}
	rep, got := salvageInto(t, path)
	if n == 0 || len(got) < n {
		t.Fatalf("the error counts %d intact records; salvage copied %d (%+v)", n, len(got), rep)
	}
	t.Logf("truncated to half: %d of 3000 records intact and salvaged", n)
}

// TestSequenceNumbersAreNeverReused: once the backlog emptied, new records
// still get new numbers, so copies of old records in freed pages can never
// be taken for new ones.
func TestSequenceNumbersAreNeverReused(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	appendN(t, q, 0, 5)
	ids, _ := readAll(t, q)
	if len(ids) != 5 {
		t.Fatal(ids)
	}
	q.Close()
	q = open(t, dir, Options{})
	appendN(t, q, 5, 6)
	l, err := q.Read(ctxT(t))
	if err != nil || l.seqs[0] != 6 {
		t.Fatalf("the first record after emptying has sequence number %v (%v), want 6", l.seqs, err)
	}
}

// TestSalvageKeepsIdenticalRecords: a batch can hold identical events (the
// same bytes and write time); telling misnumbered copies apart by content
// must not fold them into one.
func TestSalvageKeepsIdenticalRecords(t *testing.T) {
	_, path := fillCommits(t, 3000, 100, func(int) Record { return rec(strings.Repeat("same", 100)) })
	b, _ := os.ReadFile(path)
	for i := len(b) / 2; i < len(b)/2+64; i++ {
		b[i] ^= 0xff
	}
	for i := 0; i < 8192; i++ { // both meta pages: a page scan, no tree to go by
		b[i] ^= 0xff
	}
	os.WriteFile(path, b, 0o600)
	f, _ := os.Open(path)
	defer f.Close()
	st, _ := readFileState(f)
	seqs := map[uint64]bool{}
	if err := scanRecords(newPageFile(f, st), true, func(seq uint64, _, _ int64, _ bool) { seqs[seq] = true }); err != nil {
		t.Fatal(err)
	}
	to := open(t, t.TempDir(), Options{})
	rep, err := Salvage(ctxT(t), path, to)
	if err != nil || rep.Copied != len(seqs) || rep.Copied < 2900 {
		t.Fatalf("%d numbered records found, %+v copied: %v", len(seqs), rep, err)
	}
}

// TestSalvageOtherPageSize: a file written with 16 KiB pages (bbolt takes
// the OS page size, 64 KiB on some arm64 kernels) opens and checks, and with
// both meta pages destroyed, salvage still finds its page size and records.
func TestSalvageOtherPageSize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: 16384, NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		mb, _ := tx.CreateBucket(bucketMeta)
		rb, _ := tx.CreateBucket(bucketRecords)
		var n int64
		for i := 0; i < 500; i++ {
			r := rec(fmt.Sprintf("%06d%s", i, strings.Repeat("p", 700)), "i", strconv.Itoa(i))
			v := encodeRecord(&r, time.Now())
			n += int64(len(v))
			if err := rb.Put(seqKey(uint64(i+1)), v); err != nil {
				return err
			}
		}
		return errors.Join(mb.Put(keyFormat, u64(formatVersion)), mb.Put(keyCount, u64(500)), mb.Put(keyBytes, u64(uint64(n))), mb.Put(keyLastSeq, u64(500)))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	q := open(t, dir, Options{})
	if st, _ := q.Stats(); st.Records != 500 {
		t.Fatalf("stats %+v", st)
	}
	q.Close()
	b, _ := os.ReadFile(path)
	for i := 0; i < 2*16384; i++ {
		b[i] ^= 0xff
	}
	os.WriteFile(path, b, 0o600)
	rep, got := salvageInto(t, path)
	inOrder(t, got)
	if !rep.Scanned || len(got) != 500 {
		t.Fatalf("salvaged %d of 500 from a file of 16 KiB pages: %+v", len(got), rep)
	}
}
