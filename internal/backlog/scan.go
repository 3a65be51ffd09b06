package backlog

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// The page scan: every page of the file read in order, looking for records
// wherever a leaf page, or what is left of one, puts them, without trusting
// the tree. Salvage uses it when the tree cannot be walked to its end; Open
// uses it to find the records of a commit whose meta page was lost.
//
// A record is taken only if its checksum holds, so what the scan trusts in
// bbolt's page layout decides only how much it finds, never what it copies.
// It finds the records that survived wherever they are: through any intact
// element of a page (its header and other elements may be damaged); behind a
// damaged element, by the packing of a leaf (a record's key follows the
// previous record's value, the first follows the elements) and the search
// for the length at which its checksum holds; in pages freed by later
// commits, which also hold copies of records acknowledged since; and, in a
// last byte-by-byte pass for salvage, where nothing points to them any more.

// scanChunk is how much of the file the scan reads at a time.
const scanChunk = 1 << 20

// maxSearch bounds the search for the end of a record whose element is
// damaged and has no intact neighbour after it.
const maxSearch = 4 << 20

type scanner struct {
	pf       *pageFile
	chunk    []byte
	chunkOff int64
	found    func(seq uint64, off, size int64, confirmed bool)
	// largest is the largest record found so far: a search for a record's
	// end with nothing to bound it stops at twice that (one pipeline writes
	// records of similar sizes), so that each remnant of a record in a
	// reused page costs a bounded search rather than one to maxSearch.
	largest int64
}

// searchLimit bounds an open-ended search for a record's end.
func (s *scanner) searchLimit() int64 {
	if s.largest == 0 {
		return maxSearch
	}
	return min(maxSearch, max(2*s.largest, 64<<10))
}

// scanRecords calls found for every intact record in the file that a leaf
// page, or what is left of one, points to; the same record can be found
// more than once (in stale pages). With loose set it then also reads the
// rest of the file byte by byte for records nothing points to any more (a
// page that lost its header and every element, and whose first record is
// damaged): slower, for salvage.
func scanRecords(pf *pageFile, loose bool, found func(seq uint64, off, size int64, confirmed bool)) error {
	var spans [][2]int64 // of the records found, key included
	var s *scanner
	s = &scanner{pf: pf, chunk: make([]byte, 0, scanChunk), found: func(seq uint64, off, size int64, confirmed bool) {
		s.largest = max(s.largest, size)
		if loose {
			spans = append(spans, [2]int64{off - 8, off + size})
		}
		found(seq, off, size, confirmed)
	}}
	for off := 2 * pf.pageSize; off+pageHeaderSize <= pf.size; off += pf.pageSize {
		if err := s.load(off, pf.pageSize); err != nil {
			return err
		}
		s.page(off)
	}
	if !loose {
		return nil
	}
	slices.SortFunc(spans, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	s.found = found
	return s.loose(spans)
}

// load makes the chunk hold the n bytes at off (or what the file has).
func (s *scanner) load(off, n int64) error {
	if off >= s.chunkOff && off+n <= s.chunkOff+int64(len(s.chunk)) {
		return nil
	}
	got, err := s.pf.f.ReadAt(s.chunk[:cap(s.chunk)], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading at offset %d: %w", off, err)
	}
	s.chunk, s.chunkOff = s.chunk[:got], off
	return nil
}

// loose looks at every byte of the file outside the spans of the records
// found for the start of a record (plausibleStart, then its checksum).
func (s *scanner) loose(spans [][2]int64) error {
	file := leafSrc{}
	const head = 8 + recordHeaderSize // a key and a record header
	next := 0
	for p := 2 * s.pf.pageSize; p+head < s.pf.size; {
		for next < len(spans) && spans[next][1] <= p {
			next++
		}
		if next < len(spans) && spans[next][0] <= p {
			p = spans[next][1]
			continue
		}
		if err := s.load(p, head); err != nil {
			return err
		}
		// Jump to the next byte that can be a record's version byte,
		// within the chunk and before the next record found.
		stop := s.chunkOff + int64(len(s.chunk)) - head
		if next < len(spans) {
			stop = min(stop, spans[next][0])
		}
		if stop > p {
			i := bytes.IndexByte(s.chunk[p-s.chunkOff+8:stop-s.chunkOff+8], recordVersion)
			if i < 0 {
				p = stop
				continue
			}
			p += int64(i)
		}
		if !s.plausibleStart(file, p) {
			p++
			continue
		}
		size, ok := s.searchEnd(file, p, s.searchLimit())
		if !ok {
			p++
			continue
		}
		s.found(s.key(file, p), p+8, size, false)
		p += 8 + size
	}
	return nil
}

// leafSrc is a leaf page: in the file at base, or in memory (an inline
// bucket's page), base then being its file offset.
type leafSrc struct {
	base int64
	mem  []byte
}

// at returns n bytes at off from the start of src.
func (s *scanner) at(src leafSrc, off, n int64) ([]byte, error) {
	if src.mem != nil {
		if off < 0 || n < 0 || off+n > int64(len(src.mem)) {
			return nil, errOutOfNode
		}
		return src.mem[off : off+n], nil
	}
	abs := src.base + off
	if off < 0 || n < 0 || abs+n > s.pf.size {
		return nil, errOutOfNode
	}
	if abs >= s.chunkOff && abs+n <= s.chunkOff+int64(len(s.chunk)) {
		return s.chunk[abs-s.chunkOff : abs-s.chunkOff+n], nil
	}
	b := make([]byte, n)
	if _, err := s.pf.f.ReadAt(b, abs); err != nil {
		return nil, err
	}
	return b, nil
}

// page looks for records in the page at file offset off, as a leaf page or
// what is left of one: any element slot may hold an intact element, so each
// is tried, and the records between those found are then looked for by
// their checksums.
func (s *scanner) page(off int64) {
	src := leafSrc{base: off}
	head, err := s.at(src, 0, pageHeaderSize)
	if err != nil {
		return
	}
	hdr := parsePageHeader(head)
	slots := int((s.pf.pageSize - pageHeaderSize) / elementSize)
	limit := min(s.pf.size-off, maxSearch)
	if hdr.flags == leafPageFlag && hdr.id == uint64(off/s.pf.pageSize) {
		s.leaf(src, slots, int(hdr.count), min(limit, int64(hdr.overflow+1)*s.pf.pageSize))
		return
	}
	s.leaf(src, slots, -1, limit)
}

// foundRec is a record found in a leaf page, at offsets from its start.
type foundRec struct {
	seq         uint64
	keyOff, end int64
	slot        int
}

// leaf looks for records in the leaf page src: in its first slots element
// slots, then in the gaps they leave. count is the element count its header
// gives, or -1 when the header is damaged; limit is how far from the page's
// start its data can reach.
func (s *scanner) leaf(src leafSrc, slots, count int, limit int64) {
	elems, err := s.at(src, pageHeaderSize, int64(slots)*elementSize)
	if err != nil {
		return
	}
	var recs []foundRec
	// Where records may start besides after those found: the offsets a
	// damaged record's element gives, whose own record fails, or whose
	// length is the damaged part.
	var points []int64
	lastSlot := -1
	for j := range slots {
		e := parseLeafElem(elems[j*elementSize:], int64(pageHeaderSize+j*elementSize))
		switch {
		case e.flags&bucketLeafFlag != 0:
			if count >= 0 && j < count && src.mem == nil {
				s.inlineBucket(src, e)
			}
		case e.flags != 0 || e.keyLen != 8 || e.valLen < recordHeaderSize+1 || e.keyOff < pageHeaderSize || e.keyOff >= limit:
		case e.valOff+e.valLen <= limit && s.intact(src, e.keyOff, e.valLen):
			recs = append(recs, foundRec{seq: s.key(src, e.keyOff), keyOff: e.keyOff, end: e.valOff + e.valLen, slot: j})
			lastSlot = j
		default:
			points = append(points, e.keyOff, e.valOff+e.valLen)
		}
	}
	slices.Sort(points)
	byOffset := func(a, b foundRec) int { return cmp.Compare(a.keyOff, b.keyOff) }
	slices.SortFunc(recs, byOffset)
	recs = slices.CompactFunc(recs, func(a, b foundRec) bool { return a.keyOff == b.keyOff })
	// Records are packed in element order right after the elements, so a
	// record whose element is damaged lies in a gap between those found,
	// or before the first: where the elements end.
	var gaps []foundRec
	first := limit
	if len(recs) > 0 {
		first = recs[0].keyOff
	}
	// The header's count holds if it covers every intact element.
	switch known := count > lastSlot; {
	case len(recs) > 0 && recs[0].slot == 0:
	case known:
		gaps = s.fill(src, int64(pageHeaderSize+count*elementSize), first, points)
	default:
		// The count is damaged too: try each place the data can start at,
		// until the records found from there end where the first intact
		// one starts (or, with none intact, look like records at all).
		for c := lastSlot + 1; c <= slots && int64(pageHeaderSize+c*elementSize) < first; c++ {
			at := int64(pageHeaderSize + c*elementSize)
			if len(recs) == 0 && !s.plausibleStart(src, at) {
				continue
			}
			if g := s.fill(src, at, first, nil); len(g) > 0 && (len(recs) == 0 || g[len(g)-1].end == first) {
				gaps = g
				break
			}
		}
	}
	if len(recs) == 0 {
		recs, gaps = gaps, nil
		if len(recs) == 0 {
			return
		}
	}
	for i := 1; i < len(recs); i++ {
		if recs[i-1].end < recs[i].keyOff {
			gaps = append(gaps, s.fill(src, recs[i-1].end, recs[i].keyOff, points)...)
		}
	}
	gaps = append(gaps, s.fill(src, recs[len(recs)-1].end, min(limit, recs[len(recs)-1].end+8+s.searchLimit()), points)...)
	recs = append(recs, gaps...)
	slices.SortFunc(recs, byOffset)
	recs = slices.CompactFunc(recs, func(a, b foundRec) bool { return a.keyOff == b.keyOff })
	for i, r := range recs {
		// A key is outside its record's checksum; one numbered next to a
		// neighbour's is confirmed by it.
		confirmed := i > 0 && recs[i-1].seq+1 == r.seq || i+1 < len(recs) && recs[i+1].seq == r.seq+1
		s.found(r.seq, src.base+r.keyOff+8, r.end-r.keyOff-8, confirmed)
	}
}

// plausibleStart reports whether a record may start at off: a key as
// sequence numbers are (below 2^40), the record version, and a write time
// between 2015 and 2100. Only the search for a page's first record with no
// element to go by needs it, to spare long checksum searches from garbage.
func (s *scanner) plausibleStart(src leafSrc, off int64) bool {
	b, err := s.at(src, off, 8+recordHeaderSize)
	if err != nil || b[0]|b[1]|b[2] != 0 || b[8] != recordVersion {
		return false
	}
	nanos := int64(binary.BigEndian.Uint64(b[13:21]))
	return nanos > 1420070400e9 && nanos < 4102444800e9
}

// fill finds the records in the gap [from, to) of a leaf page by their
// checksums: one after another from from, and from each of points (where a
// damaged element says a record starts or ends) past a damaged one.
func (s *scanner) fill(src leafSrc, from, to int64, points []int64) []foundRec {
	var out []foundRec
	for p := from; p+8+recordHeaderSize < to; {
		if size, ok := s.searchEnd(src, p, to-p-8); ok {
			out = append(out, foundRec{seq: s.key(src, p), keyOff: p, end: p + 8 + size, slot: -1})
			p += 8 + size
			continue
		}
		i, _ := slices.BinarySearch(points, p+1)
		if i == len(points) || points[i] >= to {
			break
		}
		p = points[i]
	}
	return out
}

// inlineBucket scans the page of an inline bucket (a records bucket small
// enough to live in the root page's value).
func (s *scanner) inlineBucket(src leafSrc, e leafElem) {
	v, err := s.at(src, e.valOff, e.valLen)
	if err != nil || len(v) < bucketHeaderSize+pageHeaderSize || binary.LittleEndian.Uint64(v[0:8]) != 0 {
		return
	}
	page := v[bucketHeaderSize:]
	hdr := parsePageHeader(page)
	if hdr.flags != leafPageFlag || pageHeaderSize+int(hdr.count)*elementSize > len(page) {
		return
	}
	s.leaf(leafSrc{base: src.base + e.valOff + bucketHeaderSize, mem: page}, int(hdr.count), int(hdr.count), int64(len(page)))
}

func (s *scanner) key(src leafSrc, keyOff int64) uint64 {
	k, _ := s.at(src, keyOff, 8)
	return keySeq(k)
}

// intact reports whether the value of size bytes after the 8-byte key at
// keyOff is a record whose checksum holds.
func (s *scanner) intact(src leafSrc, keyOff, size int64) bool {
	if size < recordHeaderSize+1 {
		return false
	}
	head, err := s.at(src, keyOff, 8+recordHeaderSize)
	if err != nil || head[8] != recordVersion {
		return false
	}
	want := binary.BigEndian.Uint32(head[9:13])
	crc := uint32(0)
	for off, left := keyOff+8+5, size-5; left > 0; {
		n := min(left, scanChunk)
		b, err := s.at(src, off, n)
		if err != nil {
			return false
		}
		crc = crc32.Update(crc, castagnoli, b)
		off, left = off+n, left-n
	}
	return crc == want
}

// searchEnd looks for a record whose key starts at keyOff, of unknown
// length up to limit bytes: the first length at which its checksum holds.
func (s *scanner) searchEnd(src leafSrc, keyOff, limit int64) (int64, bool) {
	head, err := s.at(src, keyOff, 8+recordHeaderSize)
	if err != nil || head[8] != recordVersion {
		return 0, false
	}
	// The checksum is tried at every length, so it is kept byte by byte
	// with the table (in its inverted running form, as crc32 computes it)
	// rather than through crc32.Update, whose call costs more than a byte.
	want := ^binary.BigEndian.Uint32(head[9:13])
	crc := ^crc32.Update(0, castagnoli, head[13:])
	if src.mem != nil {
		limit = min(limit, int64(len(src.mem))-keyOff-8)
	} else {
		limit = min(limit, s.pf.size-src.base-keyOff-8, maxSearch)
	}
	for size := int64(recordHeaderSize); size < limit; {
		n := min(limit-size, 64<<10)
		b, err := s.at(src, keyOff+8+size, n)
		if err != nil {
			return 0, false
		}
		for j, v := range b {
			crc = castagnoli[byte(crc)^v] ^ crc>>8
			if crc == want {
				if l := size + int64(j) + 1; s.intact(src, keyOff, l) {
					if v, err := s.at(src, keyOff+8, l); err == nil {
						if _, err := decodeRecord(v); err == nil {
							return l, true
						}
					}
				}
			}
		}
		size += n
	}
	return 0, false
}
