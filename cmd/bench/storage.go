package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/samples"
)

// storageFixture is the Avro storage export the storage pipelines read at
// one size: exactly n events over every type with an Avro schema, in Braze's
// layout, in files of at most 15,000 events (Braze's own cap), deflate
// compressed.
type storageFixture struct {
	dir string
	// expected is how many calls the processor maps from it.
	expected int
	bytes    int64
}

const (
	storageBucket   = "bench-export"
	storageS3Key    = "bench"
	storageS3Secret = "bench-secret"
	storageS3Region = "us-east-1"
	// braze writes a file every 15,000 events (or five minutes).
	storageFileEvents = 15000
)

// writeStorageFixture writes the export of n events under dir.
func writeStorageFixture(dir string, n int, seed int64) (storageFixture, error) {
	fx := storageFixture{dir: dir}
	types := samples.Types(samples.ShapeStorage)
	g := samples.New(seed)
	m, err := currents.NewMapper(currents.DefaultCatalog(), currents.Options{AnonymousUsers: currents.AnonymousSend})
	if err != nil {
		return fx, err
	}
	for ti, t := range types {
		count := n / len(types)
		if ti < n%len(types) {
			count++
		}
		for file := 0; count > 0; file++ {
			k := min(count, storageFileEvents)
			count -= k
			recs := make([]map[string]any, k)
			for i := range recs {
				recs[i] = g.Record(t)
			}
			key := fmt.Sprintf("currents/dataexport.bench.S3.integration.%s/event_type=%s/date=2026-11-28-%02d/%d/us-east-1/%04d.avro",
				samples.IntegrationID, t, file%24, 100+ti, file)
			for _, r := range recs {
				line, err := json.Marshal(r)
				if err != nil {
					return fx, err
				}
				for _, res := range m.Map(line, &currents.Origin{Path: key}) {
					if res.Outcome == currents.Mapped {
						fx.expected++
					}
				}
			}
			var buf bytes.Buffer
			if err := samples.WriteOCF(&buf, t, recs, samples.WithCompression(samples.CompressionDeflate)); err != nil {
				return fx, err
			}
			p := filepath.Join(dir, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fx, err
			}
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				return fx, err
			}
			fx.bytes += int64(buf.Len())
		}
	}
	return fx, nil
}

// storageS3Env is the environment a child reading the S3 server needs:
// static credentials and nothing else for the AWS SDK to try.
func storageS3Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + storageS3Key, "AWS_SECRET_ACCESS_KEY=" + storageS3Secret,
		"AWS_REGION=" + storageS3Region, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}

// s3Proc is this harness run again with -serve-s3: an S3 server (gofakes3,
// in memory) holding one fixture, in a process of its own so that what it
// costs never mixes with the pipeline's figures or the harness's RSS.
type s3Proc struct {
	cmd *exec.Cmd
	url string
}

func startS3(dir string) (*s3Proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddress()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve-s3", dir, "-serve-s3-address", addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &s3Proc{cmd: cmd, url: "http://" + addr}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		// It listens only once the bucket holds the whole fixture.
		resp, err := http.Get(p.url + "/" + storageBucket + "?list-type=2&max-keys=1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("the S3 server did not answer within 2 minutes")
		}
	}
}

func (p *s3Proc) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// url is the braze_storage URL of the fixture on this server.
func (p *s3Proc) bucketURL() string {
	return "s3://" + storageBucket + "?region=" + storageS3Region + "&endpoint=" + p.url + "&use_path_style=true"
}

// serveS3 loads every file under dir into an in-memory bucket, then serves
// it on addr until killed.
func serveS3(dir, addr string) error {
	backend := s3mem.New()
	if err := backend.CreateBucket(storageBucket); err != nil {
		return err
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		_, err = backend.PutObject(storageBucket, filepath.ToSlash(rel), map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
		return err
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	return http.Serve(ln, faker.Server())
}

// storageInput is braze_storage as the storage pipelines configure it.
func storageInput(url, runDir string) string {
	return fmt.Sprintf("input:\n  braze_storage:\n    url: %q\n    prefix: currents\n    checkpoint: %q\n    progress_interval: 1h\n",
		url, filepath.Join(runDir, "checkpoint.db"))
}

// avroFileInput is what a Benthos user without this project runs over a
// local copy of the export: file with the avro-ocf codec.
func avroFileInput(dir string) string {
	return fmt.Sprintf("input:\n  file:\n    paths: [ %q ]\n    codec: avro-ocf:marshaler=json\n", filepath.Join(dir, "**", "*.avro"))
}
