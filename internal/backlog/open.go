package backlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Report is what opening a backlog found in its file.
type Report struct {
	// Path is the backlog file.
	Path string
	// Existed is false when Open created the file.
	Existed bool
	// Checked is true when every page of the tree was walked first.
	Checked bool
	// Stats are the records waiting in the file once opened.
	Stats Stats
	// MetaDamage is set when one of the file's two meta pages was damaged.
	MetaDamage *MetaDamage
}

// MetaDamage reports a file opened with one of its two meta pages damaged.
// bbolt writes each commit's meta page after the pages it points to,
// alternating between two; when one fails its checksum bbolt opens the file
// at the commit the other records, silently. If the damaged page held the
// newer commit, that commit is undone: Open then looks through the file for
// the records it appended (they were written before their meta page) and
// appends again those that are intact, in their order and with their
// sequence numbers. The commit that follows rewrites the damaged page.
type MetaDamage struct {
	// Page is the damaged meta page (0 or 1) and Err what is wrong with it.
	Page int
	Err  error
	// TxID is the commit the file was opened at.
	TxID uint64
	// Restored records were appended after that commit and found intact.
	Restored int
	// Missing is how many sequence numbers among the restored ones had no
	// intact record: records of the lost commit that are lost. Records
	// after the last restored one cannot be counted.
	Missing int
	// Acknowledgements in a lost commit cannot be seen: the records they
	// deleted are in the file again and will be delivered again.
}

func (m *MetaDamage) String() string {
	s := fmt.Sprintf("meta page %d failed its check (%v), so the file was opened at the commit the other meta page records (transaction %d)", m.Page, m.Err, m.TxID)
	switch {
	case m.Restored == 0:
		return s + "; no record appended after that commit was found in the file, so if the damaged page held a newer commit it appended nothing: " +
			"only acknowledgements can have been undone, and those events will be delivered again (Segment deduplicates them on messageId)"
	case m.Missing == 0:
		s += fmt.Sprintf("; the last commit was lost: its %d records were found intact in the file and restored", m.Restored)
	default:
		s += fmt.Sprintf("; the last commit was lost: %d of its records were found intact in the file and restored, and %d are damaged and lost (more may be lost after the last one found)", m.Restored, m.Missing)
	}
	return s + "; acknowledgements in the lost commit, if any, were undone, so some events will be delivered again (Segment deduplicates them on messageId)"
}

// maxLostGap is the most consecutive sequence numbers of a lost commit
// that can be damaged and missing between two restored records.
const maxLostGap = maxOpsPerCommit

// maxRestoreBytes bounds what Open restores of a lost commit: one commit
// holds at most maxBytesPerCommit of records, and a file written before the
// sequence high-water mark was stored can hold more above its last record.
const maxRestoreBytes = 4 * maxBytesPerCommit

// Open opens the backlog in dir, creating dir and the file if missing. An
// existing file is checked first; a damaged one is refused with a
// *CorruptError and left as it is. A file the process may not write is
// refused with an *AccessError, one locked by another open Queue with a
// *LockedError.
func Open(dir string, opts Options) (*Queue, error) {
	q, err := openQueue(dir, opts)
	if err != nil {
		return nil, err
	}
	q.wg.Add(1)
	go q.commitLoop()
	return q, nil
}

// Prepare does what Open does to start (creates the directory and the file,
// checks an existing file, restores a lost last commit) and closes the file
// again: when it returns, no file, lock or goroutine is held. A component
// that must fail its construction on a damaged, locked or unwritable file,
// and may never be started, calls it there and opens the queue when first
// used, with SkipCheck set.
func Prepare(dir string, opts Options) (Report, error) {
	if err := opts.setDefaults(); err != nil {
		return Report{}, err
	}
	path, existed, restore, err := prepareFile(dir, opts)
	if err != nil {
		return Report{}, err
	}
	if !existed || restore != nil {
		// A file to create, or a lost commit to write back: as Open.
		q, err := openPrepared(path, dir, opts, existed, restore)
		if err != nil {
			return Report{}, err
		}
		return q.report, q.db.Close()
	}
	return inspect(path, dir, opts)
}

// Report says what Open found in the file.
func (q *Queue) Report() Report { return q.report }

func openQueue(dir string, opts Options) (*Queue, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	path, existed, restore, err := prepareFile(dir, opts)
	if err != nil {
		return nil, err
	}
	return openPrepared(path, dir, opts, existed, restore)
}

// prepareFile creates dir if missing and checks the file in it if there is
// one (checkFile).
func prepareFile(dir string, opts Options) (path string, existed bool, restore *lostCommit, err error) {
	path = filepath.Join(dir, FileName)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		if aerr := accessError(dir, dir, err); aerr != nil {
			return path, false, nil, aerr
		}
		return path, false, nil, fmt.Errorf("backlog: creating directory %s: %w", dir, err)
	}
	switch _, err := os.Stat(path); {
	case err == nil:
		restore, err = checkFile(path, dir, opts)
		return path, true, restore, err
	case !errors.Is(err, os.ErrNotExist):
		if aerr := accessError(path, dir, err); aerr != nil {
			return path, false, nil, aerr
		}
		return path, false, nil, fmt.Errorf("backlog: %w", err)
	}
	return path, false, nil, nil
}

// openPrepared opens a file prepareFile checked with bbolt, and writes back
// the records of a lost commit.
func openPrepared(path, dir string, opts Options, existed bool, restore *lostCommit) (*Queue, error) {
	rep := Report{Path: path, Existed: existed, Checked: existed && !opts.SkipCheck}
	db, err := openBolt(path, opts, false)
	if err != nil {
		return nil, boltOpenError(path, dir, existed, err)
	}
	q := &Queue{path: path, dir: dir, db: db, opts: opts, stop: make(chan struct{}), wake: make(chan struct{}, 1),
		changed: make(chan struct{}), retryWait: newRetryWait(opts), damagedSeen: map[uint64]bool{},
		ownBucketFrom: db.Info().PageSize}
	if err := q.safely(func() error { return q.load(existed) }); err != nil {
		closeBolt(db)
		return nil, err
	}
	if restore != nil {
		if err := q.safely(func() error { return q.restore(restore) }); err != nil {
			closeBolt(db)
			return nil, err
		}
		rep.MetaDamage = restore.report
	}
	if rep.Stats, err = q.Stats(); err != nil {
		closeBolt(db)
		return nil, err
	}
	q.report = rep
	return q, nil
}

// inspect reads what a checked, healthy file holds through a read-only
// bbolt: its shared lock still fails while another process has the file
// open, and a read-only bbolt does not rebuild its free list, a walk of the
// whole tree that Open does again.
func inspect(path, dir string, opts Options) (Report, error) {
	rep := Report{Path: path, Existed: true, Checked: !opts.SkipCheck}
	db, err := openBolt(path, opts, true)
	if err != nil {
		return rep, boltOpenError(path, dir, true, err)
	}
	defer db.Close()
	q := &Queue{path: path, dir: dir, db: db, opts: opts}
	err = q.safely(func() error {
		return db.View(func(tx *bolt.Tx) error {
			mb, rb := tx.Bucket(bucketMeta), tx.Bucket(bucketRecords)
			switch {
			case mb == nil:
				return &CorruptError{Path: path, Reason: "the meta bucket is missing"}
			case rb == nil:
				return &CorruptError{Path: path, Reason: "the records bucket is missing"}
			}
			if v := mb.Get(keyFormat); !readableFormat(v) {
				return formatError(path, v)
			}
			q.count, q.bytes = int64(getU64(mb.Get(keyCount))), int64(getU64(mb.Get(keyBytes)))
			return nil
		})
	})
	if err != nil {
		return rep, err
	}
	rep.Stats, err = q.Stats()
	return rep, err
}

func formatError(path string, v []byte) error {
	return &CorruptError{Path: path, Reason: fmt.Sprintf("unknown format version %x (this build reads versions %d and %d); an older or newer build wrote it", v, formatVersionValues, formatVersion)}
}

// boltOpenError says why bbolt could not open path.
func boltOpenError(path, dir string, existed bool, err error) error {
	if aerr := accessError(path, dir, err); aerr != nil {
		return aerr
	}
	if errors.Is(err, bolterrors.ErrTimeout) {
		return &LockedError{Path: path, Err: err}
	}
	if existed {
		return &CorruptError{Path: path, Reason: "bbolt cannot open it", Err: err}
	}
	return fmt.Errorf("backlog: creating %s: %w", path, err)
}

// checkFile checks an existing file before bbolt opens it: that the process
// may write it, its meta pages and length, and (unless opts.SkipCheck) its
// whole tree. When a meta page is damaged it also finds the records of the
// commit that may have been lost with it, for openQueue to restore.
func checkFile(path, dir string, opts Options) (*lostCommit, error) {
	// Write access first: a file the process may not write is no damage.
	rw, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if aerr := accessError(path, dir, err); aerr != nil {
			return nil, aerr
		}
		return nil, fmt.Errorf("backlog: %w", err)
	}
	rw.Close()
	st, err := preflight(path)
	if err != nil {
		return nil, err
	}
	if !st.truncated() && opts.SkipCheck && st.damagedMeta < 0 {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backlog: %w", err)
	}
	defer f.Close()
	pf := newPageFile(f, st)
	ti := walkTree(pf, st, nil)
	if st.truncated() {
		want := int64(st.meta.pgid) * st.pageSize
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("the file is truncated: it has %d bytes but its last committed transaction needs %d (its last %d pages are missing); %s",
			st.size, want, (want-st.size+st.pageSize-1)/st.pageSize, truncationCost(pf, ti))}
	}
	if !ti.ok() {
		return nil, &CorruptError{Path: path, Reason: "its page check failed: " + ti.summary()}
	}
	if !readableFormat(u64(ti.format)) {
		return nil, formatError(path, u64(ti.format))
	}
	if st.damagedMeta < 0 {
		return nil, nil
	}
	return findLostCommit(pf, st, ti)
}

// openBolt opens the file with bbolt. bbolt can panic, or fault on a mapped
// page, on a damaged file: both become errors, and a bbolt left half open
// is closed so that its lock is not held by a Queue that never was.
func openBolt(path string, opts Options, readOnly bool) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				closeBolt(db)
			}
			db, err = nil, fmt.Errorf("bbolt failed reading it: %v", r)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{
		ReadOnly:       readOnly,
		Timeout:        opts.LockTimeout,
		NoSync:         opts.Sync == SyncNone,
		NoGrowSync:     opts.Sync == SyncNone,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
}

// closeBolt closes db after a failure. A bbolt that panicked inside a
// transaction can hold its own lock forever: give up waiting after a
// second rather than hang the caller.
func closeBolt(db *bolt.DB) {
	done := make(chan struct{})
	go func() {
		_ = db.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

func (q *Queue) load(existed bool) error {
	corrupt := func(reason string, e error) error { return &CorruptError{Path: q.path, Reason: reason, Err: e} }
	err := q.db.Update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		rb := tx.Bucket(bucketRecords)
		if mb == nil {
			if rb != nil {
				return corrupt("it has records but no meta bucket", nil)
			}
			var err error
			if mb, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if _, err = tx.CreateBucket(bucketRecords); err != nil {
				return err
			}
			return errors.Join(mb.Put(keyFormat, u64(formatVersion)), mb.Put(keyCount, u64(0)), mb.Put(keyBytes, u64(0)), mb.Put(keyLastSeq, u64(0)))
		}
		if v := mb.Get(keyFormat); !readableFormat(v) {
			return formatError(q.path, v)
		} else if getU64(v) != formatVersion {
			if err := mb.Put(keyFormat, u64(formatVersion)); err != nil {
				return err
			}
		}
		if rb == nil {
			return corrupt("the records bucket is missing", nil)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return q.db.View(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		q.count, q.bytes = int64(getU64(mb.Get(keyCount))), int64(getU64(mb.Get(keyBytes)))
		// Sequence numbers never go back, even once the backlog emptied:
		// a record's number names it for good, in the file's stale pages
		// too, which is what lets a page scan tell records apart.
		q.seq = getU64(mb.Get(keyLastSeq))
		c := tx.Bucket(bucketRecords).Cursor()
		first, _ := c.First()
		last, _ := c.Last()
		if first == nil {
			if q.count != 0 {
				return corrupt(fmt.Sprintf("it counts %d records but holds none", q.count), nil)
			}
		} else {
			q.seq = max(q.seq, keySeq(last))
		}
		q.lastSeq, q.nextRead = q.seq, q.seq+1
		if first != nil {
			q.nextRead = keySeq(first)
		}
		return nil
	})
}

// lostCommit is what findLostCommit found: the records appended after the
// commit the file opens at, read into memory before bbolt, which counts
// their pages as free, can write over them.
type lostCommit struct {
	report *MetaDamage
	seqs   []uint64
	values [][]byte
}

// findLostCommit scans the file for intact records numbered above the last
// one of the commit it opens at (ti): they can only come from a later
// commit, whose meta page is the damaged one.
func findLostCommit(pf *pageFile, st fileState, ti treeInfo) (*lostCommit, error) {
	lc := &lostCommit{report: &MetaDamage{Page: st.damagedMeta, Err: st.metaErr, TxID: st.meta.txid}}
	above := max(ti.last, ti.lastSeq)
	type loc struct{ off, size int64 }
	found := map[uint64]loc{}
	err := scanRecords(pf, false, func(seq uint64, off, size int64, _ bool) {
		if seq > above {
			if _, dup := found[seq]; !dup {
				found[seq] = loc{off, size}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("backlog: looking for the records of the commit a damaged meta page lost: %w", err)
	}
	seqs := make([]uint64, 0, len(found))
	for s := range found {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	total, prev := int64(0), above
	for _, s := range seqs {
		// The lost commit's records follow on from the tree's, with gaps
		// only where one is damaged. A number far beyond is a damaged key;
		// in a file written before the high-water mark was stored, numbers
		// were reused after the backlog emptied, so only the run that
		// follows on counts there.
		if s-prev > maxLostGap || !ti.hasLastSeq && s != prev+1 {
			break
		}
		prev = s
		l := found[s]
		if total += l.size; total > maxRestoreBytes {
			break
		}
		v := make([]byte, l.size)
		if _, err := pf.f.ReadAt(v, l.off); err != nil {
			return nil, fmt.Errorf("backlog: reading a record of the lost commit: %w", err)
		}
		lc.seqs, lc.values = append(lc.seqs, s), append(lc.values, v)
	}
	if n := len(lc.seqs); n > 0 {
		lc.report.Restored = n
		lc.report.Missing = int(lc.seqs[n-1]-above) - n
	}
	return lc, nil
}

// restore appends the records of a lost commit under their own sequence
// numbers, in one commit, which also rewrites the damaged meta page.
func (q *Queue) restore(lc *lostCommit) error {
	var dCount, dBytes int64
	err := q.db.Update(func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRecords)
		rb.FillPercent = 1.0
		mb := tx.Bucket(bucketMeta)
		for i, s := range lc.seqs {
			if err := putRecord(rb, seqKey(s), lc.values[i], q.ownBucketFrom); err != nil {
				return err
			}
			dCount++
			dBytes += int64(len(lc.values[i]))
		}
		seq := q.seq
		if n := len(lc.seqs); n > 0 {
			seq = max(seq, lc.seqs[n-1])
		}
		return errors.Join(
			mb.Put(keyCount, u64(uint64(q.count+dCount))),
			mb.Put(keyBytes, u64(uint64(q.bytes+dBytes))),
			mb.Put(keyLastSeq, u64(seq)))
	})
	if err != nil {
		return fmt.Errorf("backlog: restoring the records of a lost commit: %w", err)
	}
	if n := len(lc.seqs); n > 0 {
		if q.count == 0 {
			q.nextRead = lc.seqs[0]
		}
		q.seq = max(q.seq, lc.seqs[n-1])
		q.lastSeq = q.seq
	}
	q.count += dCount
	q.bytes += dBytes
	return nil
}

// truncationCost says what is left of a truncated file: what the tree walk
// reached and, when the walk lost its way (the root page is written last, at
// the end of the file, so a truncation usually takes it), how many records a
// page scan of what remains finds intact, which is what salvage copies.
func truncationCost(pf *pageFile, ti treeInfo) string {
	if ti.records > 0 || ti.hasCount {
		return ti.summary()
	}
	found := map[uint64]bool{}
	if err := scanRecords(pf, false, func(seq uint64, _, _ int64, _ bool) { found[seq] = true }); err != nil {
		return ti.summary()
	}
	return fmt.Sprintf("%s. Its tree is unreadable, so how many records it held is unknown; a page scan finds %d intact records in what remains (salvage copies those and any more it finds byte by byte, with possibly some that were already delivered)",
		strings.Join(ti.problems, "; "), len(found))
}
