package buckettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

const exportRoot = "currents/dataexport.prod-01.S3.integration.abc/"

var (
	sendHour13 = exportRoot + "event_type=users.messages.email.Send/date=2026-11-28-13/x.avro"
	sendHour14 = exportRoot + "event_type=users.messages.email.Send/date=2026-11-28-14/y.avro"
	customEvt  = exportRoot + "event_type=users.behaviors.CustomEvent/date=2026-11-28-13/z.avro"
)

var backends = []struct {
	name   string
	scheme string
	start  func(testing.TB) Bucket
}{
	{"s3", "s3", S3},
	{"gcs", "gs", GCS},
	{"azurite", "azblob", Azurite},
	{"file", "file", File},
}

// payload is distinct per key and long enough for a range strictly inside it.
func payload(key string) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 300; i++ {
		fmt.Fprintf(&b, "%s#%03d|", key, i)
	}
	return b.Bytes()
}

type entry struct {
	Key   string
	IsDir bool
	Size  int64
}

func list(t *testing.T, bkt *blob.Bucket, prefix, delim string) []entry {
	t.Helper()
	var got []entry
	it := bkt.List(&blob.ListOptions{Prefix: prefix, Delimiter: delim})
	for {
		obj, err := it.Next(t.Context())
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("list %q delimiter %q: %v", prefix, delim, err)
		}
		e := entry{Key: obj.Key, IsDir: obj.IsDir}
		if !obj.IsDir {
			e.Size = obj.Size
		}
		got = append(got, e)
	}
}

func assertEntries(t *testing.T, bkt *blob.Bucket, prefix, delim string, want []entry) {
	t.Helper()
	if got := list(t, bkt, prefix, delim); !slices.Equal(got, want) {
		t.Errorf("list %q delimiter %q:\n got %+v\nwant %+v", prefix, delim, got, want)
	}
}

func TestRoundTripByURL(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := be.start(t)
			if !strings.HasPrefix(b.URL, be.scheme+"://") {
				t.Fatalf("URL %q does not use scheme %q", b.URL, be.scheme)
			}
			keys := []string{sendHour13, sendHour14, customEvt}
			for _, k := range keys {
				b.Put(t, k, payload(k))
			}

			// Only the URL, as the input gets it from YAML.
			bkt, err := blob.OpenBucket(t.Context(), b.URL)
			if err != nil {
				t.Fatalf("OpenBucket(%q): %v", b.URL, err)
			}
			defer bkt.Close()

			size := int64(len(payload(sendHour13)))
			assertEntries(t, bkt, "", "/", []entry{{Key: "currents/", IsDir: true}})
			assertEntries(t, bkt, exportRoot, "/", []entry{
				{Key: exportRoot + "event_type=users.behaviors.CustomEvent/", IsDir: true},
				{Key: exportRoot + "event_type=users.messages.email.Send/", IsDir: true},
			})
			assertEntries(t, bkt, exportRoot+"event_type=users.messages.email.Send/", "/", []entry{
				{Key: exportRoot + "event_type=users.messages.email.Send/date=2026-11-28-13/", IsDir: true},
				{Key: exportRoot + "event_type=users.messages.email.Send/date=2026-11-28-14/", IsDir: true},
			})
			assertEntries(t, bkt, exportRoot+"event_type=users.messages.email.Send/date=2026-11-28-13/", "/", []entry{
				{Key: sendHour13, Size: size},
			})
			// A prefix that is not a whole path segment still matches by string.
			assertEntries(t, bkt, exportRoot+"event_type=users.messages.email.Send/date=2026-11-28-1", "/", []entry{
				{Key: exportRoot + "event_type=users.messages.email.Send/date=2026-11-28-13/", IsDir: true},
				{Key: exportRoot + "event_type=users.messages.email.Send/date=2026-11-28-14/", IsDir: true},
			})
			assertEntries(t, bkt, "currents/", "", []entry{
				{Key: customEvt, Size: int64(len(payload(customEvt)))},
				{Key: sendHour13, Size: size},
				{Key: sendHour14, Size: int64(len(payload(sendHour14)))},
			})

			for _, k := range keys {
				got, err := bkt.ReadAll(t.Context(), k)
				if err != nil {
					t.Fatalf("ReadAll(%q): %v", k, err)
				}
				if !bytes.Equal(got, payload(k)) {
					t.Errorf("ReadAll(%q) = %q, want %q", k, got, payload(k))
				}
			}

			const off, n = 37, 101
			r, err := bkt.NewRangeReader(t.Context(), sendHour14, off, n, nil)
			if err != nil {
				t.Fatalf("NewRangeReader: %v", err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatalf("read range: %v", err)
			}
			if want := payload(sendHour14)[off : off+n]; !bytes.Equal(got, want) {
				t.Errorf("range [%d,%d) = %q, want %q", off, off+n, got, want)
			}
			if r.Size() != int64(len(payload(sendHour14))) {
				t.Errorf("range reader Size() = %d, want the whole object's %d", r.Size(), len(payload(sendHour14)))
			}

			attrs, err := bkt.Attributes(t.Context(), sendHour13)
			if err != nil {
				t.Fatalf("Attributes: %v", err)
			}
			if attrs.Size != size || attrs.ModTime.IsZero() {
				t.Errorf("Attributes: size %d modtime %v, want size %d and a modtime", attrs.Size, attrs.ModTime, size)
			}
			t.Logf("URL %s ETag %q", b.URL, attrs.ETag)

			_, err = bkt.ReadAll(t.Context(), exportRoot+"missing.avro")
			if gcerrors.Code(err) != gcerrors.NotFound {
				t.Errorf("reading a missing key: got %v, want NotFound", err)
			}
		})
	}
}

func TestUploadDirAndDelete(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{
		"event_type=users.messages.email.Send/date=2026-11-28-13/a.avro": "a",
		"event_type=users.messages.email.Send/date=2026-11-28-13/b.avro": "bb",
		"top.avro": "ccc",
	}
	for rel, data := range files {
		p := filepath.Join(src, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not a regular file, so not uploaded.
	if err := os.Symlink("top.avro", filepath.Join(src, "link.avro")); err != nil {
		t.Fatal(err)
	}

	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := be.start(t)
			if n := b.UploadDir(t, src, exportRoot); n != len(files) {
				t.Errorf("UploadDir uploaded %d files, want %d", n, len(files))
			}
			bkt := b.Open(t)
			want := []entry{
				{Key: exportRoot + "event_type=users.messages.email.Send/date=2026-11-28-13/a.avro", Size: 1},
				{Key: exportRoot + "event_type=users.messages.email.Send/date=2026-11-28-13/b.avro", Size: 2},
				{Key: exportRoot + "top.avro", Size: 3},
			}
			assertEntries(t, bkt, "", "", want)
			// An object and a directory at one level, in key order.
			assertEntries(t, bkt, exportRoot, "/", []entry{
				{Key: exportRoot + "event_type=users.messages.email.Send/", IsDir: true},
				{Key: exportRoot + "top.avro", Size: 3},
			})

			b.Delete(t, want[0].Key)
			assertEntries(t, bkt, "", "", want[1:])
			if ok, err := bkt.Exists(t.Context(), want[0].Key); err != nil || ok {
				t.Errorf("Exists after Delete = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestFileWritesNoSidecars(t *testing.T) {
	b := File(t)
	b.Put(t, sendHour13, payload(sendHour13))
	var names []string
	err := filepath.WalkDir(b.Name, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(b.Name, path)
			names = append(names, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{sendHour13}) {
		t.Errorf("files in %s = %q, want only %q", b.Name, names, sendHour13)
	}
}

func TestCancelledWriteIsNotCommitted(t *testing.T) {
	// Guards the assumption in bucket.go that a cancelled writer context
	// aborts instead of committing: otherwise UploadDir could leave a
	// truncated object behind after a read error.
	b := File(t)
	bkt := b.Open(t)
	ctx, cancel := context.WithCancel(t.Context())
	w, err := bkt.NewWriter(ctx, "partial", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("half")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := w.Close(); err == nil {
		t.Error("Close after cancel succeeded, want an error")
	}
	if ok, err := bkt.Exists(t.Context(), "partial"); err != nil || ok {
		t.Errorf("Exists(partial) = %v, %v; want false, nil", ok, err)
	}
}
