package backlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

var (
	// ErrClosed is returned by calls on a closed Queue.
	ErrClosed = errors.New("backlog: closed")
	// ErrDrained is returned by Read once CloseWrites was called and every
	// record was acknowledged.
	ErrDrained = errors.New("backlog: drained")
)

// SalvageCommand is the command that copies the readable records of a
// damaged backlog file into a healthy backlog. It ships in the binary, so
// that recovering needs no Go toolchain; messages that send the user to
// salvage name it.
const SalvageCommand = "currents-segment backlog salvage"

// TooLargeError is returned by Append for a batch that exceeds MaxBytes on its
// own and so could never be stored.
type TooLargeError struct{ Bytes, MaxBytes int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("backlog: a batch of %d bytes can never fit in a backlog of at most %d bytes", e.Bytes, e.MaxBytes)
}

// CorruptError reports a backlog file that cannot be used safely. Open returns
// it without touching the file.
type CorruptError struct {
	// Path is the damaged file.
	Path string
	// Reason says what is wrong with it and, where the file still tells,
	// which records are in the damaged part.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("backlog file %s is damaged: %s", e.Path, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + "; it was left untouched and nothing was delivered from it"
}

// Runbook says how to go on, with nothing but the binary: move the file
// aside, start with an empty backlog, salvage the damaged file into it. It
// is not part of Error, which travels through wrappers and may be said
// again on every retry; the component that meets the error logs it once.
func (e *CorruptError) Runbook() string {
	return fmt.Sprintf("To go on: stop the process, move the file aside (mv %[1]s %[1]s.damaged) and start it again, which starts an empty backlog; "+
		"then, with the process stopped, copy the events the damaged file still holds into the new backlog with "+
		"`%[3]s -from %[1]s.damaged -to %[2]s` and start it again (docs/operations.md, \"Damaged buffer file\")",
		e.Path, filepath.Dir(e.Path), SalvageCommand)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// IsCorrupt reports whether err is a *CorruptError.
func IsCorrupt(err error) bool {
	var c *CorruptError
	return errors.As(err, &c)
}

// AccessError reports a backlog file or directory the process may not
// write: a permission problem or a read-only file system. The file is not
// damaged, and salvage would not help.
type AccessError struct {
	// Path is what could not be written: the backlog file or its directory.
	Path string
	// Dir is the backlog directory (the buffer's path).
	Dir string
	// ReadOnly is true when the file system is mounted read-only.
	ReadOnly bool
	// Err is the error of the system call.
	Err error
}

func (e *AccessError) Error() string {
	cause := e.Err
	var pe *fs.PathError
	if errors.As(e.Err, &pe) {
		cause = pe.Err // the path is already in the message
	}
	if e.ReadOnly {
		return fmt.Sprintf("cannot write %s: %v: the file system holding %s is mounted read-only; mount it read-write (a persistent, writable volume), or set path to a directory on a writable volume",
			e.Path, cause, e.Dir)
	}
	return fmt.Sprintf("cannot write %s: %v: give the user running currents-segment (uid %d) write access to %s and the files in it, or set path to a directory that user can write",
		e.Path, cause, os.Geteuid(), e.Dir)
}

func (e *AccessError) Unwrap() error { return e.Err }

// IsAccess reports whether err is an *AccessError.
func IsAccess(err error) bool {
	var a *AccessError
	return errors.As(err, &a)
}

// accessError returns err as an *AccessError when it is a permission or
// read-only file system error, and nil otherwise.
func accessError(path, dir string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EROFS):
		return &AccessError{Path: path, Dir: dir, ReadOnly: true, Err: err}
	case errors.Is(err, fs.ErrPermission):
		return &AccessError{Path: path, Dir: dir, Err: err}
	}
	return nil
}

// LockedError reports a backlog file locked by another open Queue: another
// process, or this one, still holds it.
type LockedError struct {
	Path string
	Err  error
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("backlog file %s is locked by another process: is another currents-segment using the same path? Each process needs its own directory", e.Path)
}

func (e *LockedError) Unwrap() error { return e.Err }
