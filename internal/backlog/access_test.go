package backlog

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// wantAccess checks that err reports a permission problem on path, with the
// fix, and not damage.
func wantAccess(t *testing.T, err error, path string, readOnly bool) {
	t.Helper()
	var ae *AccessError
	if !IsAccess(err) || IsCorrupt(err) {
		t.Fatalf("want an access error, got %v", err)
	}
	ae = err.(*AccessError)
	msg := err.Error()
	want := []string{"cannot write " + path, "or set path to a"}
	if readOnly {
		want = append(want, "read-only file system", "mounted read-only; mount it read-write")
	} else {
		want = append(want, "give the user running currents-segment")
		if !strings.Contains(msg, "permission denied") && !strings.Contains(msg, "operation not permitted") {
			t.Errorf("error does not give the system's reason: %s", msg)
		}
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q: %s", w, msg)
		}
	}
	for _, w := range []string{"damaged", "salvage"} {
		if strings.Contains(msg, w) {
			t.Errorf("an access error reads as damage (%q): %s", w, msg)
		}
	}
	if ae.ReadOnly != readOnly {
		t.Errorf("ReadOnly is %v", ae.ReadOnly)
	}
}

// asUnprivileged runs the named test again in a child process as uid and
// gid 65534 ("nobody"), for checks that root's privileges defeat (chmod
// does not stop root). It returns false in the child, which then runs the
// test's own checks.
func asUnprivileged(t *testing.T, name string) (parent bool) {
	t.Helper()
	if os.Getenv("BACKLOG_UNPRIVILEGED_CHILD") != "" {
		return false
	}
	if os.Geteuid() != 0 {
		return false // chmod bites: run the checks here
	}
	// The child must be able to execute the test binary: copy it where
	// anyone can.
	dir, err := os.MkdirTemp("", "backlog-test-bin")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "backlog.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(dst, src)
	src.Close()
	dst.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), "BACKLOG_UNPRIVILEGED_CHILD=1", "TMPDIR="+os.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "--- FAIL") {
		t.Skipf("running as root, and cannot run the checks as an unprivileged user (%v): chmod does not stop root, so permission errors cannot be tested here", err)
	}
	t.Logf("as uid 65534:\n%s", out)
	if err != nil {
		t.Fatal("the checks failed as an unprivileged user")
	}
	return true
}

// TestUnwritableBacklogIsNoDamage: a backlog file or directory the process
// may not write is reported as a permission problem, with the path and the
// fix, never as damage with a salvage runbook; the file is left as it was.
func TestUnwritableBacklogIsNoDamage(t *testing.T) {
	if asUnprivileged(t, "TestUnwritableBacklogIsNoDamage") {
		return
	}
	t.Run("file not writable", func(t *testing.T) {
		dir, path := filled(t, 10, 10)
		before, _ := os.ReadFile(path)
		os.Chmod(path, 0o400)
		defer os.Chmod(path, 0o600)
		_, err := Open(dir, Options{MaxBytes: 1 << 20})
		wantAccess(t, err, path, false)
		_, err = Prepare(dir, Options{MaxBytes: 1 << 20})
		wantAccess(t, err, path, false)
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Fatal("the file was changed")
		}
	})
	t.Run("directory not writable, no file yet", func(t *testing.T) {
		dir := t.TempDir()
		os.Chmod(dir, 0o500)
		defer os.Chmod(dir, 0o700)
		_, err := Open(dir, Options{MaxBytes: 1 << 20})
		wantAccess(t, err, filepath.Join(dir, FileName), false)
	})
	t.Run("directory cannot be created", func(t *testing.T) {
		parent := t.TempDir()
		os.Chmod(parent, 0o500)
		defer os.Chmod(parent, 0o700)
		dir := filepath.Join(parent, "buffer")
		_, err := Open(dir, Options{MaxBytes: 1 << 20})
		wantAccess(t, err, dir, false)
	})
	t.Run("directory not writable, file writable", func(t *testing.T) {
		// bbolt needs no other file: this works, and must.
		dir, _ := filled(t, 10, 10)
		os.Chmod(dir, 0o500)
		defer os.Chmod(dir, 0o700)
		q := open(t, dir, Options{})
		if st, _ := q.Stats(); st.Records != 10 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestAccessErrorClassification covers what the system tests cannot always
// reach: a read-only file system (EROFS) and EPERM (an immutable file).
func TestAccessErrorClassification(t *testing.T) {
	p := "/var/lib/cs/buffer/backlog.db"
	for _, tc := range []struct {
		err      error
		readOnly bool
	}{
		{&os.PathError{Op: "open", Path: p, Err: syscall.EROFS}, true},
		{&os.PathError{Op: "open", Path: p, Err: syscall.EACCES}, false},
		{&os.PathError{Op: "open", Path: p, Err: syscall.EPERM}, false},
	} {
		wantAccess(t, accessError(p, filepath.Dir(p), tc.err), p, tc.readOnly)
	}
	if accessError(p, filepath.Dir(p), &os.PathError{Op: "open", Path: p, Err: syscall.EIO}) != nil {
		t.Fatal("an I/O error is not an access error")
	}
}
