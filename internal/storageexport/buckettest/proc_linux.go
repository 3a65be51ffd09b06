package buckettest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill azurite if the test binary dies
// without running its cleanups (a panic or the -timeout alarm), so that no
// orphaned node process outlives go test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
