package buckettest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const (
	s3Region    = "us-east-1"
	s3AccessKey = "buckettest"
	s3SecretKey = "buckettest-secret"
)

// S3 starts an in-process gofakes3 server with an in-memory backend on
// 127.0.0.1, creates a bucket in it with the AWS SDK v2 and points the AWS
// environment at static credentials. The server stops at t.Cleanup.
func S3(t testing.TB) Bucket {
	t.Helper()
	return S3Through(t, nil)
}

// S3Through is S3 with every request passing through wrap first (when not
// nil): a test's way to make the storage service fail mid-response.
func S3Through(t testing.TB, wrap func(http.Handler) http.Handler) Bucket {
	t.Helper()
	setS3Env(t)

	faker := gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	var h http.Handler = faker.Server()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = listenLoopback(t)
	srv.Start()
	t.Cleanup(srv.Close)

	client := s3.New(s3.Options{
		Region:       s3Region,
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s3AccessKey, s3SecretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucketName)}); err != nil {
		t.Fatalf("buckettest: create S3 bucket on %s: %v", srv.URL, err)
	}

	// Written out rather than url.Values.Encode()d so that it reads like
	// the YAML a person would write; ':' and '/' are legal in a query.
	// Path style because virtual-host addressing would put the bucket in
	// the hostname, which 127.0.0.1 cannot carry.
	return Bucket{
		URL:  "s3://" + bucketName + "?region=" + s3Region + "&endpoint=" + srv.URL + "&use_path_style=true",
		Name: bucketName,
	}
}

// setS3Env leaves the SDK's default chain exactly one source of credentials,
// the static environment pair, so that it never reads a developer's profile
// or waits on the EC2 metadata endpoint.
func setS3Env(t testing.TB) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                      s3AccessKey,
		"AWS_SECRET_ACCESS_KEY":                  s3SecretKey,
		"AWS_SESSION_TOKEN":                      "",
		"AWS_REGION":                             s3Region,
		"AWS_DEFAULT_REGION":                     s3Region,
		"AWS_PROFILE":                            "",
		"AWS_DEFAULT_PROFILE":                    "",
		"AWS_CONFIG_FILE":                        "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE":            "/dev/null",
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_ROLE_ARN":                           "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		// An endpoint from the environment would otherwise compete with
		// the one in the bucket URL.
		"AWS_ENDPOINT_URL":    "",
		"AWS_ENDPOINT_URL_S3": "",
	} {
		t.Setenv(k, v)
	}
}

// listenLoopback binds an IPv4 loopback port; httptest would fall back to
// [::1] on some hosts, and the URLs here promise 127.0.0.1.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("buckettest: listen on 127.0.0.1: %v", err)
	}
	return l
}
