// Package backlog is the on-disk backlog of events accepted from Braze and not
// yet taken by Segment: a durable FIFO queue in one file, with leases that are
// acknowledged (the records are deleted) or released (delivered again).
//
// It is plain Go with no Benthos import; plugin/buffer_disk.go adapts it to a
// Benthos buffer.
//
// # Storage
//
// The backlog is one bbolt file (go.etcd.io/bbolt), backlog.db, in the
// directory given to Open. bbolt is a copy-on-write B+tree whose transactions
// are committed with fsync and a checksummed meta page, so a crash (kill -9,
// power loss with SyncEveryCommit) leaves the file at the last committed
// transaction, never half-written. It was chosen over SQLite because it is pure
// Go (no cgo, so the binary stays static and cross-compiles), it is a single
// file, its keys are ordered byte strings (an 8-byte big-endian sequence
// number is a FIFO and a cursor Seek is the read position), and its
// single-writer model is exactly what a queue with one commit goroutine needs.
// We need no SQL, no secondary index and no concurrent writers.
//
// Layout: bucket "records" maps an 8-byte big-endian sequence number to an
// encoded Record (version, CRC-32C, write time, metadata, body); a record of
// a page or more is instead a bucket of its own under that number, holding
// the record under the same number, so that bbolt writes it once (store.go).
// Bucket "meta" holds the format version, the record count and byte total,
// and the highest sequence number ever assigned (numbers are never reused),
// updated in the same transactions as the records so they are always
// consistent.
//
// # Delivery contract
//
//   - Append returns (or calls its callback) only after the transaction holding
//     the records is committed, and, with SyncEveryCommit, fsync'd. Appends
//     handed over while a commit runs, from one caller or many, are
//     group-committed in the next: one fsync serves many batches
//     (Options.CommitDelay can hold a commit open to gather more).
//   - Append blocks while the backlog would exceed Options.MaxBytes; it never
//     drops or refuses records silently.
//   - Read leases the oldest records not leased yet. Ack deletes them in a
//     committed transaction before returning; Release (a nack) makes them
//     readable again, before newer records, after a short back-off.
//   - After a crash every record appended and not acknowledged is read again;
//     an acknowledged record is never read again.
//
// # Memory
//
// Nothing is indexed in memory: reads seek the B+tree from a position and load
// at most Options.ReadRecords records or Options.ReadBytes bytes, leased
// records are bounded by Options.MaxLeasedRecords, and the count, byte total and
// oldest record come from the file. The heap stays flat whatever the backlog;
// the file is memory-mapped, so the kernel's page cache (not the Go heap)
// holds recently used pages.
//
// # Damage
//
// bbolt trusts its file: a damaged page is a fault or a panic, some of them in
// goroutines of its own that nothing can recover. So this package reads the
// file itself (pages.go, with ReadAt) wherever damage can be: Open checks the
// meta pages, the length against the committed high-water mark and (unless
// Options.SkipCheck) walks every page of the tree as bbolt would read it
// (tree.go), before bbolt maps the file.
//
//   - Damage that bbolt cannot survive (pages, keys out of order, a truncated
//     file, both meta pages) makes Open refuse the file with a *CorruptError
//     saying what is lost where the file tells, and the salvage command. It
//     never empties, truncates or recreates a file that exists.
//   - One damaged meta page makes bbolt reopen the file at the commit before,
//     silently. Open says so in its Report and restores the records of the
//     lost commit still intact in the file (open.go).
//   - A record whose bytes fail their checksum is handed out by Read in its
//     place with Record.Damage set: the caller puts it somewhere safe and
//     acknowledges it like any other, and the queue goes on.
//   - A file the process may not write is an *AccessError, not damage.
//
// Salvage copies the readable records of a damaged file into a healthy
// backlog: the tree's records when it can be walked, otherwise every record
// a page scan finds intact (scan.go), never through bbolt. Prepare runs
// Open's checks and holds nothing after, for callers that must fail early
// but open late.
package backlog
