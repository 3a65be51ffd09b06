package buckettest

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocloud.dev/blob"

	// Registered here so that a caller holding only Bucket.URL can open it
	// with blob.OpenBucket, exactly as the input does with its url field.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)

// opTimeout bounds each helper call so that a wedged emulator fails the test
// with a message instead of hanging until the go test deadline.
const opTimeout = 30 * time.Second

// bucketName is used for every backend; each constructor starts its own
// server, so names cannot collide.
const bucketName = "currents-export"

// Bucket is one bucket on a server started for a single test.
type Bucket struct {
	// URL is what a YAML author would put in the input's url field; it opens
	// with blob.OpenBucket once this package is imported.
	URL string
	// Name is the bucket (S3, GCS), container (Azure) or directory (file).
	Name string
}

// Open opens the bucket through gocloud by URL and closes it at t.Cleanup.
func (b Bucket) Open(t testing.TB) *blob.Bucket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	bkt, err := blob.OpenBucket(ctx, b.URL)
	if err != nil {
		t.Fatalf("buckettest: open %s: %v", b.URL, err)
	}
	t.Cleanup(func() {
		if err := bkt.Close(); err != nil {
			t.Errorf("buckettest: close %s: %v", b.URL, err)
		}
	})
	return bkt
}

// Put writes data under key.
func (b Bucket) Put(t testing.TB, key string, data []byte) {
	t.Helper()
	b.withBucket(t, func(ctx context.Context, bkt *blob.Bucket) {
		if err := bkt.WriteAll(ctx, key, data, nil); err != nil {
			t.Fatalf("buckettest: put %q in %s: %v", key, b.URL, err)
		}
	})
}

// UploadDir uploads every regular file below localDir as prefix plus the
// file's slash-separated path relative to localDir, and returns how many it
// uploaded. prefix is used verbatim, so pass "a/b/" rather than "a/b" for a
// directory-like layout. Symlinks and other special files are skipped.
func (b Bucket) UploadDir(t testing.TB, localDir, prefix string) int {
	t.Helper()
	n := 0
	b.withBucket(t, func(ctx context.Context, bkt *blob.Bucket) {
		err := filepath.WalkDir(localDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(localDir, path)
			if err != nil {
				return err
			}
			if err := upload(ctx, bkt, prefix+filepath.ToSlash(rel), path); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatalf("buckettest: upload %s to %s: %v", localDir, b.URL, err)
		}
	})
	return n
}

func upload(ctx context.Context, bkt *blob.Bucket, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := bkt.NewWriter(ctx, key, nil)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		// A plain Close would commit a truncated object; gocloud aborts the
		// write instead when the writer's context is already cancelled.
		cancel()
		_ = w.Close()
		return err
	}
	return w.Close()
}

// Delete removes key; it fails the test if key does not exist.
func (b Bucket) Delete(t testing.TB, key string) {
	t.Helper()
	b.withBucket(t, func(ctx context.Context, bkt *blob.Bucket) {
		if err := bkt.Delete(ctx, key); err != nil {
			t.Fatalf("buckettest: delete %q in %s: %v", key, b.URL, err)
		}
	})
}

// withBucket opens a short-lived handle rather than caching one so that
// Bucket stays a plain comparable value and every helper goes through the
// same URL path a caller would.
func (b Bucket) withBucket(t testing.TB, fn func(context.Context, *blob.Bucket)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	bkt, err := blob.OpenBucket(ctx, b.URL)
	if err != nil {
		t.Fatalf("buckettest: open %s: %v", b.URL, err)
	}
	defer bkt.Close()
	fn(ctx, bkt)
}
