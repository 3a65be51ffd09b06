package backlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SalvageReport says what Salvage copied.
type SalvageReport struct {
	// Copied records went into the target backlog, in their original order,
	// with their original write times.
	Copied int
	// Damaged records were found but failed their checksum and were skipped.
	Damaged int
	// Scanned is true when the file's tree could not be walked to its end and
	// its pages were scanned one by one instead. A scan can also find
	// records that were acknowledged before the damage (their pages were
	// freed but not yet overwritten), so some copied events may already have
	// been delivered; Segment deduplicates them on messageId.
	Scanned bool
}

// Salvage copies every readable record of the backlog file at path (which
// may be damaged, truncated or not even open-able by bbolt) into to, oldest
// first. The file itself is only read.
func Salvage(ctx context.Context, path string, to *Queue) (SalvageReport, error) {
	var rep SalvageReport
	copied := map[uint64]bool{}
	var batch []Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res := make(chan error, 1)
		if err := to.appendAsync(ctx, batch, true, func(err error) { res <- err }); err != nil {
			return err
		}
		if err := <-res; err != nil {
			return err
		}
		rep.Copied += len(batch)
		batch = batch[:0]
		return nil
	}
	add := func(seq uint64, v []byte) error {
		if copied[seq] {
			return nil
		}
		r, err := decodeRecord(v)
		if err != nil {
			rep.Damaged++
			return nil
		}
		copied[seq] = true
		batch = append(batch, r)
		if len(batch) == 100 {
			return flush()
		}
		return nil
	}

	walked := false
	if preflight(path) == nil {
		walked = walkTree(path, add) == nil
	}
	if err := flush(); err != nil {
		return rep, err
	}
	if walked {
		return rep, nil
	}
	rep.Scanned = true
	err := scanPages(path, add, flush)
	if err == nil {
		err = flush()
	}
	return rep, err
}

// walkTree reads the records through bbolt, read-only. It returns an error
// if bbolt cannot open the file or panics part way.
func walkTree(path string, add func(uint64, []byte) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bbolt: %v", r)
		}
	}()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRecords)
		if b == nil {
			return errors.New("no records bucket")
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return nil
			}
			return add(keySeq(k), v)
		})
	})
}

// bbolt page layout, as documented in its source: a 16-byte header (id,
// flags, count, overflow) then count 16-byte leaf elements (flags, pos,
// ksize, vsize), each key at pos bytes from its element.
const (
	leafPageFlag    = 0x02
	bucketLeafFlag  = 0x01
	leafElementSize = 16
	bucketHeader    = 16
)

// scanPages reads every page of the file and hands over every record-shaped
// leaf entry (8-byte key, value with a valid record header), in key order.
func scanPages(path string, add func(uint64, []byte) error, flush func() error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	pageSize := int64(4096)
	head := make([]byte, 4096)
	if n, _ := f.ReadAt(head, 0); n > 0 {
		if m, err := parseBoltMeta(head[:n]); err == nil && m.pageSize >= 512 && m.pageSize <= 1<<16 {
			pageSize = int64(m.pageSize)
		}
	}
	type loc struct {
		seq      uint64
		off      int64
		size     int
		overflow bool
	}
	// First pass: where the records are, so the second can copy them in
	// order without holding them all in memory.
	var locs []loc
	page := make([]byte, pageSize)
	var visit func(p []byte, base int64)
	visit = func(p []byte, base int64) {
		if len(p) < 16 || binary.LittleEndian.Uint16(p[8:10]) != leafPageFlag {
			return
		}
		count := int(binary.LittleEndian.Uint16(p[10:12]))
		for i := 0; i < count; i++ {
			e := 16 + i*leafElementSize
			if e+leafElementSize > len(p) {
				return
			}
			le := binary.LittleEndian
			flags, pos := le.Uint32(p[e:]), int(le.Uint32(p[e+4:]))
			ks, vs := int(le.Uint32(p[e+8:])), int(le.Uint32(p[e+12:]))
			k := e + pos
			if pos <= 0 || ks < 0 || vs < 0 || k+ks+vs > len(p) || k+ks+vs < k {
				continue
			}
			v := p[k+ks : k+ks+vs]
			if flags&bucketLeafFlag != 0 {
				if len(v) > bucketHeader && base >= 0 {
					visit(v[bucketHeader:], -1) // an inline bucket
				}
				continue
			}
			if ks == 8 && vs > recordHeaderSize && v[0] == recordVersion {
				l := loc{seq: keySeq(p[k : k+8]), size: vs}
				if base >= 0 {
					l.off = base + int64(k+ks)
				} else {
					// Inline bucket values are not addressable in the file
					// by offset alone; decode them now.
					_ = add(l.seq, v)
					continue
				}
				locs = append(locs, l)
			}
		}
	}
	for off := pageSize * 2; off+16 <= info.Size(); {
		n, err := f.ReadAt(page, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		p := page[:n]
		span := pageSize
		if len(p) >= 16 && binary.LittleEndian.Uint16(p[8:10]) == leafPageFlag {
			overflow := int64(binary.LittleEndian.Uint32(p[12:16]))
			if overflow > 0 && off+(overflow+1)*pageSize <= info.Size() && overflow < 1<<20 {
				big := make([]byte, (overflow+1)*pageSize)
				if _, err := f.ReadAt(big, off); err == nil {
					p = big
					span = int64(len(big))
				}
			}
			visit(p, off)
		}
		off += span
	}
	slices.SortFunc(locs, func(a, b loc) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	buf := []byte{}
	for _, l := range locs {
		if cap(buf) < l.size {
			buf = make([]byte, l.size)
		}
		buf = buf[:l.size]
		if _, err := f.ReadAt(buf, l.off); err != nil {
			continue
		}
		if err := add(l.seq, buf); err != nil {
			return err
		}
	}
	return nil
}
