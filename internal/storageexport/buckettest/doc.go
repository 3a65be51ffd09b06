// Package buckettest starts object-storage servers on 127.0.0.1 for tests,
// in the spirit of net/http/httptest, and returns each as a Bucket whose URL
// opens with gocloud.dev/blob.OpenBucket. Importing the package registers
// gocloud's s3blob, gcsblob, azureblob and fileblob drivers.
//
// The servers speak each cloud's real wire protocol and are reached through
// the same SDK the production driver uses, configured only by the URL and
// the environment, as a deployed input would be. That catches what an
// in-memory fake behind the driver cannot: URL query parameters, path-style
// addressing, credential lookup, delimiter listings and range requests as
// each service encodes them.
//
//   - S3: github.com/johannesboyne/gofakes3 with its in-memory backend on
//     an httptest server in the test process; the bucket is created with
//     the AWS SDK v2. URL:
//     s3://currents-export?region=us-east-1&endpoint=http://127.0.0.1:PORT&use_path_style=true
//     Sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
//     AWS_DEFAULT_REGION, AWS_EC2_METADATA_DISABLED=true,
//     AWS_CONFIG_FILE=/dev/null and AWS_SHARED_CREDENTIALS_FILE=/dev/null,
//     and empties AWS_SESSION_TOKEN, AWS_PROFILE, AWS_DEFAULT_PROFILE,
//     AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_CREDENTIALS_*
//     and AWS_ENDPOINT_URL(_S3), so the SDK never reads a profile or asks
//     an instance metadata service.
//   - GCS: github.com/fsouza/fake-gcs-server/fakestorage, in memory, over
//     plain HTTP in the test process. URL: gs://currents-export. Sets
//     STORAGE_EMULATOR_HOST=127.0.0.1:PORT, which makes gcsblob skip
//     credentials, and empties STORAGE_EMULATOR_HOST_GRPC. That variable
//     names a single server, so use one GCS bucket per test.
//   - Azure: Microsoft's Azurite emulator (npm package azurite, blob
//     service only) as a child process with in-memory persistence; the
//     container is created with the Azure SDK for Go under the emulator's
//     published devstoreaccount1 account. URL:
//     azblob://currents-export?protocol=http&domain=127.0.0.1:PORT&localemu=true
//     Sets AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY and empties the other
//     AZURE_STORAGE_* variables gocloud reads. Azurite is looked up as
//     AZURITE_BIN, azurite-blob on PATH, then
//     <module root>/.cache/azurite/node_modules/.bin/azurite-blob; when it
//     is missing the test is skipped, or fails under CURRENTS_SEGMENT_CI=1.
//     Install it with
//     npm install --prefix .cache/azurite azurite@3.37.0
//   - File: gocloud's fileblob over a t.TempDir. URL:
//     file:///abs/dir?metadata=skip, which writes no .attrs sidecar files.
//     Sets no environment.
//
// Every constructor except File uses t.Setenv, so tests that call them, and
// their parents, must not call t.Parallel (t.Setenv panics if they do); such
// tests run one at a time.
//
// gocloud's gcsblob and azureblob build their default client once per
// process, from the environment at the first OpenBucket of that scheme. The
// values set here are the same on every call, and the per-server parts are
// in the URL (azureblob) or read again on each open (gcsblob), but a test
// that opens gs:// or azblob:// URLs with other settings earlier in the same
// test binary can leave those clients behind.
package buckettest
