package backlog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SalvageReport says what Salvage copied.
type SalvageReport struct {
	// Copied records went into the target backlog, in their original order,
	// with their original write times.
	Copied int
	// Damaged records were found but failed their checksum, with no intact
	// copy elsewhere in the file, and were skipped.
	Damaged int
	// Scanned is true when the file's tree could not be walked to its end and
	// its pages were scanned one by one instead. A scan can also find
	// records that were acknowledged before the damage (their pages were
	// freed but not yet overwritten), so some copied events may already have
	// been delivered; Segment deduplicates them on messageId.
	Scanned bool
	// Counted is how many records the file itself counts, or -1 when that
	// count is in a damaged page.
	Counted int64
	// Replaced damaged records were copied from an intact older copy that a
	// page scan found (a page freed by a later commit).
	Replaced int
	// Restored records belonged to a commit whose meta page is damaged, and
	// were found by a page scan.
	Restored int
}

// Summary says in a sentence what was copied from where to where.
func (r SalvageReport) Summary(from, to string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "copied %d events from %s into %s", r.Copied, from, to)
	if r.Counted >= 0 {
		fmt.Fprintf(&b, " (the damaged file counts %d)", r.Counted)
	}
	if r.Scanned {
		b.WriteString(" by scanning its pages (some of these events may have been delivered before; Segment deduplicates them on messageId)")
	} else {
		b.WriteString(" by walking its tree")
	}
	fmt.Fprintf(&b, "; %d damaged records skipped", r.Damaged)
	if r.Replaced > 0 {
		fmt.Fprintf(&b, ", %d damaged records replaced by an intact older copy", r.Replaced)
	}
	if r.Restored > 0 {
		fmt.Fprintf(&b, ", %d records of a commit lost with a damaged meta page restored", r.Restored)
	}
	return b.String()
}

// SalvageInto copies the readable records of the backlog file from (which
// must not be the file of dir: move it aside first) into the backlog in dir,
// created if missing, and closes it. It reports where the records went.
func SalvageInto(ctx context.Context, from, dir string, opts Options) (SalvageReport, string, error) {
	target := filepath.Join(dir, FileName)
	if a, b := filepath.Clean(from), filepath.Clean(target); a == b {
		return SalvageReport{Counted: -1}, target, fmt.Errorf("backlog: %s is the target's own file: move it aside first (mv %[1]s %[1]s.damaged) and salvage from there", from)
	}
	if _, err := os.Stat(from); err != nil {
		return SalvageReport{Counted: -1}, target, fmt.Errorf("reading the file to salvage: %w", err)
	}
	q, err := Open(dir, opts)
	if err != nil {
		var locked *LockedError
		if errors.As(err, &locked) {
			err = fmt.Errorf("%w (stop currents-segment before salvaging into its buffer)", err)
		}
		return SalvageReport{Counted: -1}, target, err
	}
	rep, err := Salvage(ctx, from, q)
	if cerr := q.Close(); err == nil {
		err = cerr
	}
	return rep, q.Path(), err
}

// recLoc is where a copy of a record is in the file; live copies are those
// the tree reaches.
type recLoc struct {
	seq       uint64
	off, size int64
	// live copies are those the tree reaches; confirmed ones sit next to a
	// record numbered next to them in their page.
	live, confirmed bool
	// head is the record's stored header and score how well its number is
	// attested (dropMisnumbered).
	head  [recordHeaderSize]byte
	score int
}

// Salvage copies every readable record of the backlog file at path (which
// may be damaged, truncated or not even open-able by bbolt) into to, oldest
// first. The file itself is only read, never through bbolt: a damaged page
// cannot crash the process.
func Salvage(ctx context.Context, path string, to *Queue) (SalvageReport, error) {
	rep := SalvageReport{Counted: -1}
	f, err := os.Open(path)
	if err != nil {
		return rep, err
	}
	defer f.Close()
	st, metaErr := readFileState(f)
	pf := newPageFile(f, st)

	var locs []recLoc
	walked := false
	var ti treeInfo
	if metaErr == nil {
		ti = walkTree(pf, st, func(seq uint64, off, size int64) {
			locs = append(locs, recLoc{seq: seq, off: off, size: size, live: true})
		})
		if ti.hasCount {
			rep.Counted = int64(ti.count)
		}
		walked = ti.ok() && !st.truncated()
	}
	c := &salvageCopier{f: f, to: to, ctx: ctx, rep: &rep}
	if walked && st.damagedMeta < 0 {
		// The tree is whole: its records are the live ones. Once one of
		// them is damaged, look for intact copies of it and of the rest in
		// pages later commits freed, and go on from there, in order.
		rest, err := c.copyLive(locs)
		if err != nil || len(rest) == 0 {
			return rep, err
		}
		live := make([]uint64, len(rest))
		for i, l := range rest {
			live[i] = l.seq
		}
		err = scanRecords(pf, true, func(seq uint64, off, size int64, confirmed bool) {
			if _, ok := slices.BinarySearch(live, seq); ok {
				rest = append(rest, recLoc{seq: seq, off: off, size: size, confirmed: confirmed})
			}
		})
		if err != nil {
			return rep, err
		}
		_, err = c.copyBest(rest)
		return rep, err
	}
	// The tree is damaged, or a meta page is: add what a page scan finds.
	// With the tree whole but a meta page damaged, that is the records of
	// the commit the damaged page may have held (numbered above the tree's)
	// and other copies of the tree's records.
	above := max(ti.last, ti.lastSeq)
	live := len(locs)
	restored := map[uint64]bool{}
	err = scanRecords(pf, true, func(seq uint64, off, size int64, confirmed bool) {
		if walked {
			if seq > above {
				restored[seq] = true
			} else if _, ok := slices.BinarySearchFunc(locs[:live], seq, func(l recLoc, s uint64) int { return cmp.Compare(l.seq, s) }); !ok {
				return // acknowledged before the damage
			}
		}
		locs = append(locs, recLoc{seq: seq, off: off, size: size, confirmed: confirmed})
	})
	if err != nil {
		return rep, err
	}
	rep.Scanned, rep.Restored = !walked, len(restored)
	_, err = c.copyBest(locs)
	return rep, err
}

type salvageCopier struct {
	f     *os.File
	to    *Queue
	ctx   context.Context
	rep   *SalvageReport
	batch []Record
	buf   []byte
}

// read decodes the copy of a record at l.
func (c *salvageCopier) read(l recLoc) (Record, bool) {
	if int64(cap(c.buf)) < l.size {
		c.buf = make([]byte, l.size)
	}
	b := c.buf[:l.size]
	if _, err := c.f.ReadAt(b, l.off); err != nil {
		return Record{}, false
	}
	r, err := decodeRecord(b)
	return r, err == nil
}

func (c *salvageCopier) add(r Record) error {
	c.batch = append(c.batch, r)
	if len(c.batch) < 100 {
		return nil
	}
	return c.flush()
}

func (c *salvageCopier) flush() error {
	if len(c.batch) == 0 {
		return nil
	}
	res := make(chan error, 1)
	if err := c.to.appendAsync(c.ctx, c.batch, true, func(err error) { res <- err }); err != nil {
		return err
	}
	if err := <-res; err != nil {
		return err
	}
	c.rep.Copied += len(c.batch)
	c.batch = c.batch[:0]
	return nil
}

// copyLive copies the tree's records, in order, up to the first damaged one,
// and returns those left from it on.
func (c *salvageCopier) copyLive(locs []recLoc) ([]recLoc, error) {
	for i, l := range locs {
		r, ok := c.read(l)
		if !ok {
			return locs[i:], c.flush()
		}
		if err := c.add(r); err != nil {
			return nil, err
		}
	}
	return nil, c.flush()
}

// copyBest copies one intact copy of every sequence number in locs, in
// order, and returns how many it copied; a number with no intact copy
// counts as damaged. Where different records claim one number (one of them
// under a damaged key), the best attested is copied, and all of them when
// nothing tells them apart.
func (c *salvageCopier) copyBest(locs []recLoc) (int, error) {
	locs = c.dropMisnumbered(locs)
	slices.SortStableFunc(locs, func(a, b recLoc) int {
		if a.seq != b.seq {
			return cmp.Compare(a.seq, b.seq)
		}
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		return cmp.Compare(btoi(b.live), btoi(a.live))
	})
	copied := 0
	for i := 0; i < len(locs); {
		j := i
		for j < len(locs) && locs[j].seq == locs[i].seq {
			j++
		}
		best, done := -1, map[[recordHeaderSize]byte]bool{}
		for _, l := range locs[i:j] {
			if best >= 0 && l.score < best || done[l.head] {
				continue
			}
			r, ok := c.read(l)
			if !ok {
				continue
			}
			if err := c.add(r); err != nil {
				return copied, err
			}
			best, done[l.head] = l.score, true
			copied++
			if locs[i].live && !l.live {
				c.rep.Replaced++ // the tree's copy is damaged
			}
		}
		if best < 0 {
			c.rep.Damaged++
		}
		i = j
	}
	return copied, c.flush()
}

// dropMisnumbered drops the copies of a record found under a number less
// attested than another, and scores the others. A record's key is outside
// its checksum: a damaged key files an intact record under a wrong number,
// while other copies (in pages freed by later commits) keep the right one.
// The same record is recognised by its stored checksum, write time and
// length. A number is best attested by a copy next to a neighbouring number
// in its page; failing that, by a copy the tree reaches (a damaged last key
// of a leaf can still be in order), then by how many copies carry it.
// Equally attested numbers are all kept: a batch can hold identical records,
// whose numbers are all confirmed by their neighbours.
func (c *salvageCopier) dropMisnumbered(locs []recLoc) []recLoc {
	type content struct {
		head [recordHeaderSize]byte
		size int64
	}
	type attest struct{ confirmed, live, copies int }
	attests := map[content]map[uint64]*attest{}
	keys := make([]content, len(locs))
	for i, l := range locs {
		k := content{size: l.size}
		if _, err := c.f.ReadAt(k.head[:], l.off); err != nil {
			continue
		}
		keys[i] = k
		locs[i].head = k.head
		m := attests[k]
		if m == nil {
			m = map[uint64]*attest{}
			attests[k] = m
		}
		a := m[l.seq]
		if a == nil {
			a = &attest{}
			m[l.seq] = a
		}
		a.confirmed, a.live, a.copies = max(a.confirmed, btoi(l.confirmed)), max(a.live, btoi(l.live)), a.copies+1
	}
	scores := map[content]map[uint64]int{}
	for k, m := range attests {
		scores[k] = map[uint64]int{}
		for seq, a := range m {
			n := 30 // a confirmed number needs nothing more
			if a.confirmed == 0 {
				n = 10*(1+a.live) + min(a.copies, 9)
			}
			scores[k][seq] = n
		}
	}
	out := locs[:0]
	for i, l := range locs {
		m := scores[keys[i]]
		top := 0
		for _, n := range m {
			top = max(top, n)
		}
		if m[l.seq] == top {
			l.score = top
			out = append(out, l)
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
