//go:build !linux

package buckettest

import "os/exec"

// setDeathSignal has no portable equivalent off Linux; there azurite relies
// on t.Cleanup alone.
func setDeathSignal(*exec.Cmd) {}
