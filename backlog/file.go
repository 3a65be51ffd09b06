package backlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
)

// FileName is the name of the backlog file inside the directory given to Open.
const FileName = "backlog.db"

// formatVersion is stored in the meta bucket; Open refuses other versions.
const formatVersion = 1

// CorruptError reports a backlog file that cannot be used safely. Open returns
// it without touching the file.
type CorruptError struct {
	// Path is the damaged file.
	Path string
	// Reason says what is wrong with it.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("backlog file %s is damaged: %s", e.Path, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + fmt.Sprintf(". It was left untouched and nothing was delivered from it. "+
		"To go on: stop the process, move the file aside (mv %[1]s %[1]s.damaged) and restart, which starts an empty backlog; "+
		"then copy the events it still holds into the new backlog with "+
		"`backlog-salvage -from %[1]s.damaged -to %[2]s` (go run ./cmd/backlog-salvage in a checkout of currents-segment) "+
		"while the process is stopped, and start it again (see docs/operations.md, \"Damaged buffer file\")", e.Path, filepath.Dir(e.Path))
}

func (e *CorruptError) Unwrap() error { return e.Err }

// IsCorrupt reports whether err is a *CorruptError.
func IsCorrupt(err error) bool {
	var c *CorruptError
	return errors.As(err, &c)
}

// boltMeta is the part of a bbolt meta page we check before bbolt maps the
// file: bbolt trusts the high-water mark, and touching a page past the end of
// a truncated file is a SIGBUS that no recover can catch.
type boltMeta struct {
	pageSize uint32
	pgid     uint64
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
	return boltMeta{pageSize: le.Uint32(m[8:12]), pgid: le.Uint64(m[40:48]), txid: le.Uint64(m[48:56])}, nil
}

// preflight checks an existing file before bbolt opens it: a usable meta page,
// and a file at least as long as the last committed transaction says.
func preflight(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	if size == 0 {
		return &CorruptError{Path: path, Reason: "the file is empty (0 bytes), so it was truncated or never finished being created"}
	}
	page := make([]byte, 4096)
	n, err := f.ReadAt(page, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	m0, err0 := parseBoltMeta(page[:n])
	pageSize := int64(4096)
	if err0 == nil {
		pageSize = int64(m0.pageSize)
	}
	page1 := make([]byte, boltPageHeader+boltMetaSum+8)
	n1, err := f.ReadAt(page1, pageSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	m1, err1 := parseBoltMeta(page1[:n1])
	var m boltMeta
	switch {
	case err0 == nil && err1 == nil:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case err0 == nil:
		m = m0
	case err1 == nil:
		m = m1
	default:
		return &CorruptError{Path: path, Reason: "neither of its two meta pages is valid (" + err0.Error() + "; " + err1.Error() + ")"}
	}
	if want := int64(m.pgid) * int64(m.pageSize); size < want {
		return &CorruptError{Path: path, Reason: fmt.Sprintf("the file is truncated: it has %d bytes but its last committed transaction needs %d", size, want)}
	}
	return nil
}
