package backlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// bbolt's on-disk page layout, which this package reads itself (tree.go,
// scan.go) rather than through bbolt: bbolt maps the file and trusts every
// page id, offset and length in it, so a damaged page is a fault that kills
// the process, or a panic in a goroutine of bbolt's own that nothing can
// recover (its free-page walk at open panics there on keys out of order).
// Reading with ReadAt turns the same damage into an error.
//
// Every page starts with a 16-byte header: id (uint64), flags (uint16),
// count (uint16), overflow (uint32), little-endian. A node spans its page
// and the overflow pages after it. After the header come count elements of
// 16 bytes, then the keys and values they point to, in element order:
//   - branch element: pos (uint32), key size (uint32), child page id (uint64)
//   - leaf element: flags (uint32), pos (uint32), key size, value size (uint32)
//
// pos counts from the element itself. A leaf element flagged as a bucket
// has a value of 16 bytes (root page id, sequence), followed, when the root
// is 0, by the bucket's only page inline.
const (
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	bucketLeafFlag   = 0x01
	pageHeaderSize   = 16
	elementSize      = 16
	bucketHeaderSize = 16
)

type pageHeader struct {
	id       uint64
	flags    uint16
	count    uint16
	overflow uint32
}

func parsePageHeader(b []byte) pageHeader {
	le := binary.LittleEndian
	return pageHeader{id: le.Uint64(b[0:8]), flags: le.Uint16(b[8:10]), count: le.Uint16(b[10:12]), overflow: le.Uint32(b[12:16])}
}

// leafElem is a leaf element, with offsets from the start of its node.
type leafElem struct {
	flags          uint32
	keyOff, keyLen int64
	valOff, valLen int64
}

func parseLeafElem(b []byte, at int64) leafElem {
	le := binary.LittleEndian
	pos := int64(le.Uint32(b[4:8]))
	e := leafElem{flags: le.Uint32(b[0:4]), keyOff: at + pos, keyLen: int64(le.Uint32(b[8:12]))}
	e.valOff, e.valLen = e.keyOff+e.keyLen, int64(le.Uint32(b[12:16]))
	return e
}

type branchElem struct {
	keyOff, keyLen int64
	child          uint64
}

func parseBranchElem(b []byte, at int64) branchElem {
	le := binary.LittleEndian
	return branchElem{keyOff: at + int64(le.Uint32(b[0:4])), keyLen: int64(le.Uint32(b[4:8])), child: le.Uint64(b[8:16])}
}

var errOutOfNode = errors.New("an element points outside its page")

// pageFile reads the pages of a backlog file.
type pageFile struct {
	f        *os.File
	size     int64
	pageSize int64
	hwm      uint64 // the high-water mark: pages at or above it are not in use
}

func newPageFile(f *os.File, st fileState) *pageFile {
	return &pageFile{f: f, size: st.size, pageSize: st.pageSize, hwm: st.meta.pgid}
}

// node is a branch or leaf page with its overflow pages: the first bytes are
// in head, the rest is read when asked for.
type node struct {
	pf   *pageFile // nil for an inline page, which is all in head
	base int64     // file offset of the node's first byte
	span int64     // bytes the node covers
	head []byte
	hdr  pageHeader
}

// at returns size bytes at off from the node's start.
func (n *node) at(off, size int64) ([]byte, error) {
	if off < pageHeaderSize || size < 0 || off+size > n.span {
		return nil, errOutOfNode
	}
	if off+size <= int64(len(n.head)) {
		return n.head[off : off+size], nil
	}
	if n.pf == nil {
		return nil, errOutOfNode
	}
	buf := make([]byte, size)
	if _, err := n.pf.f.ReadAt(buf, n.base+off); err != nil {
		return nil, fmt.Errorf("reading %d bytes at offset %d: %w", size, n.base+off, err)
	}
	return buf, nil
}

// readNode reads the tree page id and checks what bbolt would trust: that
// it is in use (below the high-water mark, with its overflow), in the file,
// names itself id, and is a branch or leaf whose elements fit.
func (pf *pageFile) readNode(id uint64) (*node, error) {
	if id < 2 || id >= pf.hwm {
		return nil, fmt.Errorf("page %d is referenced but is not in use (the file has %d pages in use)", id, pf.hwm)
	}
	base := int64(id) * pf.pageSize
	if base+pf.pageSize > pf.size {
		return nil, fmt.Errorf("page %d is past the end of the file (%d bytes)", id, pf.size)
	}
	first := make([]byte, pf.pageSize)
	if _, err := pf.f.ReadAt(first, base); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading page %d: %w", id, err)
	}
	n := &node{pf: pf, base: base, head: first, hdr: parsePageHeader(first)}
	switch {
	case n.hdr.id != id:
		return nil, fmt.Errorf("page %d names itself %d", id, n.hdr.id)
	case n.hdr.flags != branchPageFlag && n.hdr.flags != leafPageFlag:
		return nil, fmt.Errorf("page %d has type %#x where a branch or leaf page belongs", id, n.hdr.flags)
	case id+uint64(n.hdr.overflow) >= pf.hwm:
		return nil, fmt.Errorf("page %d claims %d overflow pages, past the pages in use", id, n.hdr.overflow)
	}
	n.span = int64(n.hdr.overflow+1) * pf.pageSize
	if base+n.span > pf.size {
		return nil, fmt.Errorf("page %d and its %d overflow pages run past the end of the file", id, n.hdr.overflow)
	}
	elems := pageHeaderSize + int64(n.hdr.count)*elementSize
	if elems > n.span {
		return nil, fmt.Errorf("page %d counts %d elements, more than fit in it", id, n.hdr.count)
	}
	if elems > int64(len(n.head)) {
		head := make([]byte, elems)
		if _, err := pf.f.ReadAt(head, base); err != nil {
			return nil, fmt.Errorf("reading page %d: %w", id, err)
		}
		n.head = head
	}
	return n, nil
}

// inlineNode is the page of an inline bucket: the bytes after the bucket
// header in its value. base is their file offset.
func inlineNode(b []byte, base int64) (*node, error) {
	if len(b) < pageHeaderSize {
		return nil, errors.New("an inline bucket is shorter than a page header")
	}
	n := &node{base: base, span: int64(len(b)), head: b, hdr: parsePageHeader(b)}
	if n.hdr.flags != leafPageFlag {
		return nil, fmt.Errorf("an inline bucket's page has type %#x, not leaf", n.hdr.flags)
	}
	if pageHeaderSize+int64(n.hdr.count)*elementSize > n.span {
		return nil, fmt.Errorf("an inline bucket's page counts %d elements, more than fit in it", n.hdr.count)
	}
	return n, nil
}

func (n *node) leafElem(i int) (leafElem, error) {
	at := int64(pageHeaderSize + i*elementSize)
	e := parseLeafElem(n.head[at:at+elementSize], at)
	if e.keyOff < pageHeaderSize+int64(n.hdr.count)*elementSize || e.valOff+e.valLen > n.span {
		return e, errOutOfNode
	}
	return e, nil
}

func (n *node) branchElem(i int) (branchElem, error) {
	at := int64(pageHeaderSize + i*elementSize)
	e := parseBranchElem(n.head[at:at+elementSize], at)
	if e.keyOff < pageHeaderSize+int64(n.hdr.count)*elementSize || e.keyOff+e.keyLen > n.span {
		return e, errOutOfNode
	}
	return e, nil
}
