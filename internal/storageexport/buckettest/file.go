package buckettest

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// File returns a bucket in a fresh t.TempDir, served by gocloud's fileblob.
// metadata=skip stops fileblob writing a .attrs sidecar next to each object,
// so the directory holds exactly the objects, as an export synced to local
// disk would; fileblob hides sidecars from listings either way.
func File(t testing.TB) Bucket {
	t.Helper()
	dir, err := filepath.Abs(t.TempDir())
	if err != nil {
		t.Fatalf("buckettest: temp dir: %v", err)
	}
	path := filepath.ToSlash(dir)
	if !strings.HasPrefix(path, "/") {
		// fileblob drops this leading slash again on Windows (file:///C:/x).
		path = "/" + path
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: "metadata=skip"}
	return Bucket{URL: u.String(), Name: dir}
}
