package backlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// FileName is the name of the backlog file inside the directory given to Open.
const FileName = "backlog.db"

// formatVersion is stored in the meta bucket; Open refuses other versions.
// Version 2 stores a record of a page or more in a bucket of its own
// (store.go). This build reads version 1 files as they are and marks them 2
// when it opens them to write, so that a build from before, which would take
// those buckets for damage, refuses the file as a newer build's instead.
const (
	formatVersion       = 2
	formatVersionValues = 1 // every record a value of the records bucket
)

// readableFormat reports whether this build reads the stored format version v.
func readableFormat(v []byte) bool {
	return len(v) == 8 && (getU64(v) == formatVersion || getU64(v) == formatVersionValues)
}

// boltMeta is the part of a bbolt meta page we read ourselves, before bbolt
// maps the file: bbolt trusts the high-water mark, and a page past the end of
// a truncated file is a fault, not an error.
type boltMeta struct {
	pageSize uint32
	root     uint64 // root page of the root bucket
	pgid     uint64 // high-water mark: pages below it are in use or free
	txid     uint64
}

const (
	boltMagic      = 0xED0CDAED
	boltPageHeader = 16
	boltMetaSum    = 56 // bytes of the meta struct covered by its checksum
)

func parseBoltMeta(page []byte) (boltMeta, error) {
	if len(page) < boltPageHeader+boltMetaSum+8 {
		return boltMeta{}, errors.New("short meta page")
	}
	m := page[boltPageHeader:]
	le := binary.LittleEndian
	if le.Uint32(m[0:4]) != boltMagic {
		return boltMeta{}, errors.New("not a bbolt file (bad magic number)")
	}
	h := fnv.New64a()
	h.Write(m[:boltMetaSum])
	if h.Sum64() != le.Uint64(m[boltMetaSum:boltMetaSum+8]) {
		return boltMeta{}, errors.New("meta page checksum mismatch")
	}
	return boltMeta{pageSize: le.Uint32(m[8:12]), root: le.Uint64(m[16:24]), pgid: le.Uint64(m[40:48]), txid: le.Uint64(m[48:56])}, nil
}

// fileState is what the two meta pages of a file say.
type fileState struct {
	size     int64
	pageSize int64
	// meta is the meta page bbolt uses: the valid one with the higher
	// transaction id.
	meta boltMeta
	// damagedMeta is the meta page (0 or 1) that fails its check while the
	// other passes, or -1. bbolt then silently uses the other one: if the
	// damaged page held the newer commit, that commit is rolled back.
	damagedMeta int
	metaErr     error
}

// readFileState reads the meta pages of f. It fails only when neither is
// valid.
func readFileState(f *os.File) (fileState, error) {
	st := fileState{damagedMeta: -1}
	info, err := f.Stat()
	if err != nil {
		return st, err
	}
	st.size = info.Size()
	page := make([]byte, 4096)
	n, err := f.ReadAt(page, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return st, err
	}
	m0, err0 := parseBoltMeta(page[:n])
	st.pageSize = 4096
	if err0 == nil && m0.pageSize >= 512 && m0.pageSize <= 1<<16 {
		st.pageSize = int64(m0.pageSize)
	} else if err0 == nil {
		err0 = fmt.Errorf("page size %d is out of range", m0.pageSize)
	}
	page1 := make([]byte, boltPageHeader+boltMetaSum+8)
	n1, err := f.ReadAt(page1, st.pageSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return st, err
	}
	m1, err1 := parseBoltMeta(page1[:n1])
	if err1 == nil && int64(m1.pageSize) != st.pageSize {
		err1 = fmt.Errorf("page size %d differs from the other meta page's %d", m1.pageSize, st.pageSize)
	}
	switch {
	case err0 == nil && err1 == nil:
		st.meta = m0
		if m1.txid > m0.txid {
			st.meta = m1
		}
	case err0 == nil:
		st.meta, st.damagedMeta, st.metaErr = m0, 1, err1
	case err1 == nil:
		st.meta, st.damagedMeta, st.metaErr = m1, 0, err0
	default:
		st.pageSize = guessPageSize(f, st.size)
		return st, fmt.Errorf("neither of its two meta pages is valid (%v; %v)", err0, err1)
	}
	return st, nil
}

// guessPageSize finds the page size of a file whose meta pages are both
// damaged, for a page scan: the size at which the most of its first pages
// name themselves by their position, as bbolt's tree and free-list pages do.
func guessPageSize(f *os.File, size int64) int64 {
	best, bestScore := int64(4096), 0
	head := make([]byte, pageHeaderSize)
	for _, ps := range []int64{4096, 8192, 16384, 32768, 65536} {
		score := 0
		for id := int64(2); id < 64 && (id+1)*ps <= size; id++ {
			if _, err := f.ReadAt(head, id*ps); err != nil {
				break
			}
			h := parsePageHeader(head)
			if h.id == uint64(id) && (h.flags == branchPageFlag || h.flags == leafPageFlag || h.flags == 0x10) {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = ps, score
		}
	}
	return best
}

// truncated reports a file shorter than its last commit needs.
func (st fileState) truncated() bool { return st.size < int64(st.meta.pgid)*st.pageSize }

// preflight checks an existing file before bbolt opens it: a usable meta
// page, and a file at least as long as the last committed transaction says
// (what a truncation cost is then told by the tree walk, see openFile).
func preflight(path string) (fileState, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileState{}, err
	}
	defer f.Close()
	st, err := readFileState(f)
	if err != nil {
		if st.size == 0 {
			return st, &CorruptError{Path: path, Reason: "the file is empty (0 bytes), so it was truncated or never finished being created"}
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			return st, err
		}
		return st, &CorruptError{Path: path, Reason: err.Error()}
	}
	return st, nil
}
