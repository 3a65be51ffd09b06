package backlog

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadOnlyFileSystemIsNoDamage opens a backlog on a read-only mount (a
// read-only bind mount of its directory, made in a mount namespace of a
// child process, so nothing outside the test sees it): it is reported as a
// read-only file system with the fix, not as damage.
func TestReadOnlyFileSystemIsNoDamage(t *testing.T) {
	if dir := os.Getenv("BACKLOG_READONLY_CHILD"); dir != "" {
		// In the child, in its own mount namespace.
		must := func(err error) {
			if err != nil {
				t.Skipf("cannot make a read-only mount here: %v", err)
			}
		}
		must(syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""))
		must(syscall.Mount(dir, dir, "", syscall.MS_BIND, ""))
		must(syscall.Mount("", dir, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""))
		_, err := Open(dir, Options{MaxBytes: 1 << 20})
		wantAccess(t, err, filepath.Join(dir, FileName), true)
		_, err = Open(filepath.Join(dir, "new"), Options{MaxBytes: 1 << 20})
		wantAccess(t, err, filepath.Join(dir, "new"), true)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("a read-only mount needs root (a mount namespace); TestAccessErrorClassification covers EROFS")
	}
	dir, _ := filled(t, 10, 10)
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadOnlyFileSystemIsNoDamage$", "-test.v")
	cmd.Env = append(os.Environ(), "BACKLOG_READONLY_CHILD="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil && !strings.Contains(string(out), "--- FAIL"):
		t.Skipf("cannot run a child in a mount namespace here (%v): TestAccessErrorClassification covers EROFS", err)
	case strings.Contains(string(out), "--- SKIP"):
		t.Skipf("no read-only mount in the child:\n%s", out)
	case err != nil:
		t.Fatalf("in a read-only mount:\n%s", out)
	}
	t.Logf("%s", out)
}
