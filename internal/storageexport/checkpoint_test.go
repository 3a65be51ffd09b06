package storageexport

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckpointRemembersDoneObjects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "cp.db")
	s := Settings{URL: "s3://exports?region=eu-west-1", Prefix: "currents", Shard: Shard{Index: 1, Count: 3}}
	cp, err := OpenCheckpoint(path, s)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	if err := cp.MarkDone("a.avro", Done{Events: 7, Bytes: 100, At: at}); err != nil {
		t.Fatal(err)
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened with another region (the same bucket), it still holds a.avro.
	s.URL = "s3://exports?region=us-east-1&endpoint=http://127.0.0.1:9000"
	cp, err = OpenCheckpoint(path, s)
	if err != nil {
		t.Fatalf("the same bucket with other query parameters was refused: %v", err)
	}
	defer cp.Close()
	d, ok, err := cp.Lookup("a.avro")
	if err != nil || !ok || d.Events != 7 || d.Bytes != 100 || !d.At.Equal(at) {
		t.Errorf("Lookup(a.avro) = %+v, %v, %v", d, ok, err)
	}
	if done, _ := cp.IsDone("b.avro"); done {
		t.Error("b.avro is done without being marked")
	}
	if n, _ := cp.DoneCount(); n != 1 {
		t.Errorf("DoneCount = %d, want 1", n)
	}
}

func TestCheckpointRefusesAnotherRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.db")
	base := Settings{URL: "gs://exports", Prefix: "currents", Shard: Shard{Index: 0, Count: 2}}
	cp, err := OpenCheckpoint(path, base)
	if err != nil {
		t.Fatal(err)
	}
	cp.Close()
	for name, s := range map[string]Settings{
		"url":    {URL: "gs://other", Prefix: "currents", Shard: base.Shard},
		"prefix": {URL: "gs://exports", Prefix: "currents/eu", Shard: base.Shard},
		"shard":  {URL: "gs://exports", Prefix: "currents", Shard: Shard{Index: 1, Count: 2}},
	} {
		_, err := OpenCheckpoint(path, s)
		var mismatch *SettingsMismatchError
		if !errors.As(err, &mismatch) {
			t.Errorf("%s changed: err = %v, want a *SettingsMismatchError", name, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, name) || !strings.Contains(msg, path) || !strings.Contains(msg, "delete the file") {
			t.Errorf("%s changed: the error does not say what differs, where and what to do: %s", name, msg)
		}
	}
}

func TestCheckpointHeldByAnotherOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.db")
	s := Settings{URL: "file:///x"}
	cp, err := OpenCheckpoint(path, s)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	_, err = OpenCheckpoint(path, s)
	if err == nil || !strings.Contains(err.Error(), "held by another process") {
		t.Errorf("a second open: err = %v, want one naming the held file", err)
	}
}

func TestCheckpointNeedsAPath(t *testing.T) {
	if _, err := OpenCheckpoint("", Settings{}); err == nil {
		t.Error("an empty path was accepted")
	}
}
