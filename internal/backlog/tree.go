package backlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// The walk of the file's B+tree from its meta page, reading every branch and
// leaf page it reaches with ReadAt (pages.go). Open runs it before handing
// the file to bbolt, so that damage bbolt would crash on is reported instead,
// with what it costs; Salvage runs it to find the live records. It checks
// what bbolt relies on: pages in use, named by their id, of the right type,
// referenced once, with elements inside them and keys in order.

// maxTreeDepth bounds the walk: a real tree of a few TB is a handful of
// levels deep; a deeper one loops through damaged page ids.
const maxTreeDepth = 64

// maxProblems is how many problems a walk keeps to report.
const maxProblems = 5

// seqRange is a range of sequence numbers [from, to]; to is MaxUint64 when
// the range is open-ended.
type seqRange struct{ from, to uint64 }

func (r seqRange) String() string {
	if r.to == math.MaxUint64 {
		return fmt.Sprintf("from %d on", r.from)
	}
	return fmt.Sprintf("%d to %d", r.from, r.to)
}

// treeInfo is what a walk found.
type treeInfo struct {
	metaBucket, recordsBucket bool
	format, count, bytes      uint64
	hasFormat, hasCount       bool
	lastSeq                   uint64 // the sequence high-water mark, if stored
	hasLastSeq                bool
	// records were found in intact pages, first and last being the lowest
	// and highest sequence numbers among them.
	records     int64
	first, last uint64
	// problems are the first few of nProblems; lost are the ranges of
	// sequence numbers in damaged parts of the records bucket.
	problems  []string
	nProblems int
	lost      []seqRange
}

func (ti *treeInfo) ok() bool { return ti.nProblems == 0 }

// summary says what is damaged and what that costs, for a CorruptError.
func (ti *treeInfo) summary() string {
	var b strings.Builder
	b.WriteString(strings.Join(ti.problems, "; "))
	if more := ti.nProblems - len(ti.problems); more > 0 {
		fmt.Fprintf(&b, "; and %d more problems", more)
	}
	switch {
	case ti.hasCount && int64(ti.count) > ti.records && ti.count-uint64(ti.records) == 1:
		fmt.Fprintf(&b, ". The file counts %d records; %d are in intact pages, so 1 is in a damaged one", ti.count, ti.records)
	case ti.hasCount && int64(ti.count) > ti.records:
		fmt.Fprintf(&b, ". The file counts %d records; %d are in intact pages, so %d are in damaged ones", ti.count, ti.records, int64(ti.count)-ti.records)
	case ti.hasCount:
		fmt.Fprintf(&b, ". The file counts %d records and all %d are in intact pages", ti.count, ti.records)
	default:
		fmt.Fprintf(&b, ". Its record count is in a damaged page; %d records are in intact pages", ti.records)
	}
	if len(ti.lost) > 0 {
		var rs []string
		for _, r := range ti.lost {
			rs = append(rs, r.String())
		}
		fmt.Fprintf(&b, " (sequence numbers %s)", strings.Join(rs, ", "))
	}
	return b.String()
}

type treeWalk struct {
	pf   *pageFile
	seen []uint64 // bit set of the pages reached
	info treeInfo
	// onRecord, if set, is called for every record in an intact page, in
	// key order, with the file offset and length of its value.
	onRecord func(seq uint64, off, size int64)
}

// walkTree walks the tree of the file described by st.
func walkTree(pf *pageFile, st fileState, onRecord func(seq uint64, off, size int64)) treeInfo {
	w := &treeWalk{pf: pf, seen: make([]uint64, (st.meta.pgid+63)/64), onRecord: onRecord}
	w.walk(st.meta.root, nil, nil, 0, "the root bucket", w.rootEntry)
	if w.info.nProblems > 0 && !w.info.metaBucket && !w.info.recordsBucket {
		// The root page itself is damaged: nothing is reachable.
		return w.info
	}
	if !w.info.metaBucket {
		w.problem("the meta bucket is missing")
	}
	if !w.info.recordsBucket {
		w.problem("the records bucket is missing")
	}
	if w.info.ok() && w.info.hasCount && int64(w.info.count) != w.info.records {
		w.problem(fmt.Sprintf("it counts %d records but its tree holds %d", w.info.count, w.info.records))
	}
	return w.info
}

func (w *treeWalk) problem(msg string) {
	w.info.nProblems++
	if len(w.info.problems) < maxProblems {
		w.info.problems = append(w.info.problems, msg)
	}
}

// damaged records a damaged subtree whose keys lie in [lo, hi).
func (w *treeWalk) damaged(where string, lo, hi []byte, err error) {
	w.problem(where + ": " + err.Error())
	if where != recordsWhere {
		return
	}
	r := seqRange{from: 1, to: math.MaxUint64}
	if len(lo) == 8 {
		r.from = keySeq(lo)
	}
	if len(hi) == 8 && keySeq(hi) > 0 {
		r.to = keySeq(hi) - 1
	}
	if n := len(w.info.lost); n > 0 {
		// Damage is found in key order: merge a range that touches the last.
		if last := &w.info.lost[n-1]; r.from >= last.from && (last.to == math.MaxUint64 || r.from <= last.to+1) {
			last.to = max(last.to, r.to)
			return
		}
	}
	if len(w.info.lost) < maxProblems {
		w.info.lost = append(w.info.lost, r)
	}
}

// markSeen marks a node's pages; false if one of them was reached before.
func (w *treeWalk) markSeen(id uint64, overflow uint32) bool {
	for p := id; p <= id+uint64(overflow); p++ {
		word, bit := p/64, uint64(1)<<(p%64)
		if w.seen[word]&bit != 0 {
			return false
		}
		w.seen[word] |= bit
	}
	return true
}

type leafFunc func(n *node, e leafElem, key []byte, where string)

// walk walks the subtree at page id, whose keys must lie in [lo, hi) (nil
// for no bound), calling leaf for each leaf element in key order. A damaged
// part is recorded and skipped; the walk goes on with the rest.
func (w *treeWalk) walk(id uint64, lo, hi []byte, depth int, where string, leaf leafFunc) {
	if depth > maxTreeDepth {
		w.damaged(where, lo, hi, fmt.Errorf("the tree is more than %d levels deep at page %d: its pages refer to each other in a loop", maxTreeDepth, id))
		return
	}
	n, err := w.pf.readNode(id)
	if err != nil {
		w.damaged(where, lo, hi, err)
		return
	}
	if !w.markSeen(id, n.hdr.overflow) {
		w.damaged(where, lo, hi, fmt.Errorf("page %d is reached twice", id))
		return
	}
	if n.hdr.flags == leafPageFlag {
		w.leaves(n, lo, hi, where, leaf)
		return
	}
	count := int(n.hdr.count)
	if count == 0 {
		w.damaged(where, lo, hi, fmt.Errorf("branch page %d is empty", id))
		return
	}
	// Read every key first: a child's range ends at the next readable key.
	keys := make([][]byte, count)
	children := make([]uint64, count)
	for i := range count {
		e, err := n.branchElem(i)
		if err == nil {
			keys[i], err = n.at(e.keyOff, e.keyLen)
		}
		if err != nil {
			keys[i] = nil
			w.problem(fmt.Sprintf("%s: branch page %d, element %d: %v", where, id, i, err))
			continue
		}
		children[i] = e.child
	}
	prev := lo
	for i := range count {
		next := hi
		for j := i + 1; j < count; j++ {
			if keys[j] != nil {
				next = keys[j]
				break
			}
		}
		switch key := keys[i]; {
		case key == nil:
			w.damaged(where, prev, next, fmt.Errorf("the pages under branch page %d, element %d, are unreachable", id, i))
		case prev != nil && bytes.Compare(key, prev) < 0 || i > 0 && prev != nil && bytes.Equal(key, prev) || hi != nil && bytes.Compare(key, hi) >= 0:
			w.damaged(where, prev, next, fmt.Errorf("branch page %d, element %d: key %x is out of order", id, i, key))
		default:
			w.walk(children[i], key, next, depth+1, where, leaf)
			prev = key
		}
	}
}

// leaves calls leaf for each element of a leaf node in key order.
func (w *treeWalk) leaves(n *node, lo, hi []byte, where string, leaf leafFunc) {
	prev, first := lo, true
	for i := range int(n.hdr.count) {
		e, err := n.leafElem(i)
		var key []byte
		if err == nil {
			key, err = n.at(e.keyOff, e.keyLen)
		}
		if err != nil {
			w.damaged(where, prev, hi, fmt.Errorf("leaf page %d, element %d: %w", n.hdr.id, i, err))
			continue
		}
		if prev != nil && (bytes.Compare(key, prev) < 0 || !first && bytes.Equal(key, prev)) || hi != nil && bytes.Compare(key, hi) >= 0 {
			w.damaged(where, prev, hi, fmt.Errorf("leaf page %d, element %d: key %x is out of order", n.hdr.id, i, key))
			continue
		}
		leaf(n, e, key, where)
		prev, first = key, false
	}
}

const recordsWhere = "the records bucket"

// rootEntry handles an entry of the root bucket: the meta and records
// buckets, each walked in turn.
func (w *treeWalk) rootEntry(n *node, e leafElem, key []byte, where string) {
	if e.flags&bucketLeafFlag == 0 {
		return // not a bucket: bbolt ignores it, and so do we
	}
	var inner leafFunc
	name := "bucket " + string(key)
	switch string(key) {
	case string(bucketMeta):
		w.info.metaBucket, inner, name = true, w.metaEntry, "the meta bucket"
	case string(bucketRecords):
		w.info.recordsBucket, inner, name = true, w.recordEntry, recordsWhere
	default:
		inner = w.foreignEntry
	}
	v, err := n.at(e.valOff, e.valLen)
	if err == nil && len(v) < bucketHeaderSize {
		err = errors.New("its header is short")
	}
	if err != nil {
		w.damaged(name, nil, nil, err)
		return
	}
	root := binary.LittleEndian.Uint64(v[0:8])
	if root != 0 {
		w.walk(root, nil, nil, 0, name, inner)
		return
	}
	inl, err := inlineNode(v[bucketHeaderSize:], n.base+e.valOff+bucketHeaderSize)
	if err != nil {
		w.damaged(name, nil, nil, err)
		return
	}
	w.leaves(inl, nil, nil, name, inner)
}

func (w *treeWalk) recordEntry(n *node, e leafElem, key []byte, where string) {
	switch {
	case len(key) == 8 && e.flags == bucketLeafFlag:
		w.recordBucket(n, e, key, where)
		return
	case e.flags != 0 || len(key) != 8:
		w.damaged(where, key, nil, fmt.Errorf("page %d: an entry with key %x and flags %#x is not a record", n.hdr.id, key, e.flags))
		return
	}
	w.record(n, e, key)
}

// recordBucket walks the bucket of a record of its own (store.go): one
// entry, under the bucket's own key, that is a record.
func (w *treeWalk) recordBucket(n *node, e leafElem, key []byte, where string) {
	seq := keySeq(key)
	lo, hi := key, seqKey(seq+1)
	if seq == math.MaxUint64 {
		hi = nil
	}
	v, err := n.at(e.valOff, e.valLen)
	if err == nil && len(v) < bucketHeaderSize {
		err = errors.New("its header is short")
	}
	if err != nil {
		w.damaged(where, lo, hi, fmt.Errorf("page %d: the bucket of record %d: %w", n.hdr.id, seq, err))
		return
	}
	found := 0
	inner := func(n *node, e leafElem, k []byte, where string) {
		if e.flags != 0 || !bytes.Equal(k, key) || found > 0 {
			w.damaged(where, lo, hi, fmt.Errorf("page %d: the bucket of record %d holds an entry with key %x and flags %#x", n.hdr.id, seq, k, e.flags))
			return
		}
		found++
		w.record(n, e, k)
	}
	before := w.info.nProblems
	if root := binary.LittleEndian.Uint64(v[0:8]); root != 0 {
		// The walk's depth bound is per bucket: a loop back into the
		// records bucket's pages is caught as a page reached twice.
		w.walk(root, lo, hi, 0, where, inner)
	} else if inl, err := inlineNode(v[bucketHeaderSize:], n.base+e.valOff+bucketHeaderSize); err != nil {
		w.damaged(where, lo, hi, fmt.Errorf("page %d: the bucket of record %d: %w", n.hdr.id, seq, err))
		return
	} else {
		w.leaves(inl, lo, hi, where, inner)
	}
	if found == 0 && w.info.nProblems == before {
		w.damaged(where, lo, hi, fmt.Errorf("page %d: the bucket of record %d is empty", n.hdr.id, seq))
	}
}

// record counts an intact record entry and hands it to onRecord.
func (w *treeWalk) record(n *node, e leafElem, key []byte) {
	seq := keySeq(key)
	if w.info.records == 0 || seq < w.info.first {
		w.info.first = seq
	}
	w.info.last = max(w.info.last, seq)
	w.info.records++
	if w.onRecord != nil {
		w.onRecord(seq, n.base+e.valOff, e.valLen)
	}
}

func (w *treeWalk) metaEntry(n *node, e leafElem, key []byte, where string) {
	if e.flags != 0 {
		w.damaged(where, nil, nil, fmt.Errorf("an entry with key %q is flagged %#x", key, e.flags))
		return
	}
	v, err := n.at(e.valOff, e.valLen)
	if err != nil || len(v) != 8 {
		w.damaged(where, nil, nil, fmt.Errorf("the value of %q is unreadable or not 8 bytes", key))
		return
	}
	switch string(key) {
	case string(keyFormat):
		w.info.format, w.info.hasFormat = getU64(v), true
	case string(keyCount):
		w.info.count, w.info.hasCount = getU64(v), true
	case string(keyBytes):
		w.info.bytes = getU64(v)
	case string(keyLastSeq):
		w.info.lastSeq, w.info.hasLastSeq = getU64(v), true
	}
}

// foreignEntry walks a bucket this package never writes: bbolt walks it too.
func (w *treeWalk) foreignEntry(n *node, e leafElem, key []byte, where string) {
	if e.flags&bucketLeafFlag != 0 {
		w.rootEntry(n, e, key, where)
	}
}
