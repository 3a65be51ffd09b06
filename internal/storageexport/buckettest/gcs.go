package buckettest

import (
	"net/url"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// GCS starts an in-process fake-gcs-server with in-memory storage on
// 127.0.0.1 over plain HTTP, creates a bucket and sets STORAGE_EMULATOR_HOST
// so that gocloud's gcsblob (and the storage client under it) talks to it
// without credentials. The server stops at t.Cleanup.
//
// STORAGE_EMULATOR_HOST names one server per process, so a second GCS call
// in the same test redirects the first Bucket's URL to the second server.
func GCS(t testing.TB) Bucket {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http",
		Host:   "127.0.0.1",
		// Port 0 lets httptest pick the port, so there is no window in
		// which another process can take it.
		Port: 0,
		// The storage client reads objects through the XML API at
		// http://$STORAGE_EMULATOR_HOST/<bucket>/<object>. fake-gcs-server
		// routes that path style only for its public host (a host without a
		// port matches any port); for any other Host header it takes the
		// host as the bucket name and every read is a 404.
		PublicHost: "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("buckettest: start fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)

	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatalf("buckettest: fake-gcs-server URL %q: %v", srv.URL(), err)
	}
	// gcsblob and cloud.google.com/go/storage both expect host:port here and
	// add the scheme themselves.
	t.Setenv("STORAGE_EMULATOR_HOST", u.Host)
	t.Setenv("STORAGE_EMULATOR_HOST_GRPC", "")
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucketName})
	return Bucket{URL: "gs://" + bucketName, Name: bucketName}
}
