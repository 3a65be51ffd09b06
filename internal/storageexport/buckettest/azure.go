package buckettest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// AzuriteVersion is the azurite npm release this package is tested with;
// .ci/run installs exactly this one.
const AzuriteVersion = "3.37.0"

// The account and key every Azurite instance accepts; they are published in
// Azurite's documentation and grant nothing anywhere else.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// azuriteStartTimeout is generous because node's start-up on a loaded
// two-core CI machine can take several seconds.
const azuriteStartTimeout = 60 * time.Second

// azuriteListening is the line azurite-blob prints, even with --silent, once
// its socket is bound; with --blobPort 0 it is the only way to learn the port.
var azuriteListening = regexp.MustCompile(`successfully listens on (https?://\S+)`)

// Azurite starts Microsoft's storage emulator (blob service only) as a
// child process on 127.0.0.1 with in-memory persistence, creates a container
// with the Azure SDK using the emulator's well-known account, and sets
// AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY for gocloud's azureblob. The
// process is killed at t.Cleanup.
//
// The binary is AZURITE_BIN, else azurite-blob on PATH, else
// <module root>/.cache/azurite/node_modules/.bin/azurite-blob. When none
// exists the test is skipped, or fails if CURRENTS_SEGMENT_CI=1.
func Azurite(t testing.TB) Bucket {
	t.Helper()
	bin := findAzurite(t)
	endpoint := startAzurite(t, bin)
	setAzureEnv(t)

	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		t.Fatalf("buckettest: azurite credential: %v", err)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(endpoint+"/"+azuriteAccount+"/", cred, nil)
	if err != nil {
		t.Fatalf("buckettest: azurite client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := client.CreateContainer(ctx, bucketName, nil); err != nil {
		t.Fatalf("buckettest: create container on azurite %s: %v", endpoint, err)
	}

	host := strings.TrimPrefix(endpoint, "http://")
	// localemu puts the account in the path (http://host/account/container)
	// as Azurite expects; domain starting with 127.0.0.1 implies it too, but
	// saying so keeps the URL working if the host is ever renamed.
	return Bucket{
		URL:  "azblob://" + bucketName + "?protocol=http&domain=" + host + "&localemu=true",
		Name: bucketName,
	}
}

// setAzureEnv picks shared-key auth in gocloud's azureblob. The variables set
// empty would otherwise take over (a SAS token even forbids the URL's domain
// override) or leak a developer's real account into the test.
func setAzureEnv(t testing.TB) {
	t.Helper()
	for k, v := range map[string]string{
		"AZURE_STORAGE_ACCOUNT":              azuriteAccount,
		"AZURE_STORAGE_KEY":                  azuriteKey,
		"AZURE_STORAGE_SAS_TOKEN":            "",
		"AZURE_STORAGE_CONNECTION_STRING":    "",
		"AZURE_STORAGEBLOB_CONNECTIONSTRING": "",
		"AZURE_STORAGE_DOMAIN":               "",
		"AZURE_STORAGE_PROTOCOL":             "",
		"AZURE_STORAGE_IS_CDN":               "",
		"AZURE_STORAGE_IS_LOCAL_EMULATOR":    "",
	} {
		t.Setenv(k, v)
	}
}

func azuriteInstallHint() string {
	dir := filepath.Join("<module root>", ".cache", "azurite")
	if root, err := moduleRoot(); err == nil {
		dir = filepath.Join(root, ".cache", "azurite")
	}
	return fmt.Sprintf("npm install --prefix %s azurite@%s", dir, AzuriteVersion)
}

// findAzurite returns the azurite-blob executable or ends the test.
func findAzurite(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("AZURITE_BIN"); bin != "" {
		// An explicit setting that does not work is a broken setup, not a
		// missing optional tool.
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("buckettest: AZURITE_BIN=%s: %v; install with: %s", bin, err, azuriteInstallHint())
		}
		requireNode(t)
		return bin
	}
	candidates := []func() (string, error){
		func() (string, error) { return exec.LookPath("azurite-blob") },
		func() (string, error) {
			root, err := moduleRoot()
			if err != nil {
				return "", err
			}
			bin := filepath.Join(root, ".cache", "azurite", "node_modules", ".bin", "azurite-blob")
			_, err = os.Stat(bin)
			return bin, err
		},
	}
	for _, c := range candidates {
		if bin, err := c(); err == nil {
			requireNode(t)
			return bin
		}
	}
	missing(t, "azurite-blob not found (AZURITE_BIN, PATH, .cache/azurite); install with: "+azuriteInstallHint())
	return ""
}

// requireNode checks for the interpreter named by azurite-blob's #! line,
// whose absence would otherwise surface as a confusing exec error.
func requireNode(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "azurite-blob needs node on PATH (Node.js 20 or newer; apt-get install nodejs npm)")
	}
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CURRENTS_SEGMENT_CI") == "1" {
		t.Fatal("buckettest: " + msg)
	}
	t.Skip("buckettest: " + msg)
}

// moduleRoot is the nearest directory at or above the working directory
// holding go.mod; go test runs in the package directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// startAzurite runs azurite-blob on an OS-chosen port and returns its base
// URL, http://127.0.0.1:PORT. Port 0 means no free-port guess that another
// process could take first.
func startAzurite(t testing.TB, bin string) string {
	t.Helper()
	cmd := exec.Command(bin,
		"--blobHost", "127.0.0.1",
		"--blobPort", "0",
		"--inMemoryPersistence",
		// Without a limit azurite reserves half the machine's memory.
		"--extentMemoryLimit", "256",
		"--skipApiVersionCheck",
		"--loose",
		"--disableTelemetry",
		"--silent",
	)
	// Nothing should be written with in-memory persistence, but anything
	// that is lands in a directory removed after the process is gone.
	cmd.Dir = t.TempDir()
	out := &tailBuffer{}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.WaitDelay = 5 * time.Second
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("buckettest: start %s: %v", bin, err)
	}

	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		exited <- err
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			line := sc.Text()
			out.add(line)
			if m := azuriteListening.FindStringSubmatch(line); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		// Keep draining so that azurite never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, pr)
	}()

	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("buckettest: azurite pid %d did not exit after kill", cmd.Process.Pid)
		}
	}
	t.Cleanup(stop)

	select {
	case endpoint := <-addr:
		return strings.TrimSuffix(endpoint, "/")
	case err := <-exited:
		stopped = true
		t.Fatalf("buckettest: azurite exited before listening (%v); output:\n%s", err, out)
	case <-time.After(azuriteStartTimeout):
		stop()
		t.Fatalf("buckettest: azurite did not report a port within %v; output:\n%s", azuriteStartTimeout, out)
	}
	return ""
}

// tailBuffer keeps the last lines of azurite's output for failure messages.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *tailBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	const keep = 50
	b.lines = append(b.lines, line)
	if len(b.lines) > keep {
		b.lines = b.lines[len(b.lines)-keep:]
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}
