package storageexport

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// checkpointFormat is the version of what a checkpoint file holds; a file of
// another version is refused rather than misread.
const checkpointFormat = 1

var (
	bucketRun   = []byte("run")
	bucketDone  = []byte("done")
	keySettings = []byte("settings")
)

// lockTimeout is how long opening waits for another process holding the file.
const lockTimeout = 2 * time.Second

// Settings are what a checkpoint belongs to: objects done in one export, prefix
// and shard are not done in another. Only the bucket's identity is kept of the
// URL (scheme, bucket and path, no query), so a changed region or endpoint
// parameter of the same bucket is not a different export, and nothing a query
// might carry is written to disk.
type Settings struct {
	URL    string
	Prefix string
	Shard  Shard
}

// storedSettings is Settings as a checkpoint file holds them.
type storedSettings struct {
	Format     int    `json:"format"`
	Bucket     string `json:"bucket"`
	Prefix     string `json:"prefix"`
	ShardIndex int    `json:"shard_index"`
	ShardCount int    `json:"shard_count"`
}

// BucketIdentity is the part of a bucket URL that names the bucket: scheme,
// host and path, without the query.
func BucketIdentity(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
}

// Done is what the checkpoint records of an object whose every event was
// acknowledged downstream.
type Done struct {
	Events int64     `json:"events"`
	Bytes  int64     `json:"bytes"`
	At     time.Time `json:"at"`
	// Damaged is set when the object could not be read to its end and its
	// rest went to the dead letter as one whole-file record.
	Damaged bool `json:"damaged,omitempty"`
}

// Checkpoint is the record of the objects done, in an embedded bbolt file.
// Marking an object done is one committed (fsynced) transaction, grouped with
// concurrent ones by bbolt's Batch, so what it says survives a crash.
type Checkpoint struct {
	db   *bolt.DB
	path string
}

// SettingsMismatchError is returned when a checkpoint file was written by a
// run over another export, prefix or shard.
type SettingsMismatchError struct {
	Path        string
	Differences []string
}

func (e *SettingsMismatchError) Error() string {
	return fmt.Sprintf("checkpoint %s belongs to another run (%s): its objects done are not this run's. Give this run a checkpoint path of its own, or delete the file to start this selection over", e.Path, strings.Join(e.Differences, "; "))
}

// OpenCheckpoint opens (or creates) the checkpoint at path for settings s.
// A file written with other settings is refused with a
// *SettingsMismatchError, and one held by another process fails after a
// short wait, naming the file.
func OpenCheckpoint(path string, s Settings) (*Checkpoint, error) {
	if path == "" {
		return nil, errors.New("checkpoint: no path: the input records the objects it finished in a local file, give it one (on a persistent volume)")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, NoFreelistSync: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("checkpoint %s is held by another process (a second instance with the same checkpoint path? each needs its own): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	want := storedSettings{
		Format: checkpointFormat, Bucket: BucketIdentity(s.URL), Prefix: s.Prefix,
		ShardIndex: s.Shard.Index, ShardCount: s.Shard.Count,
	}
	err = db.Update(func(tx *bolt.Tx) error {
		run, err := tx.CreateBucketIfNotExists(bucketRun)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketDone); err != nil {
			return err
		}
		raw := run.Get(keySettings)
		if raw == nil {
			b, err := json.Marshal(want)
			if err != nil {
				return err
			}
			return run.Put(keySettings, b)
		}
		var have storedSettings
		if err := json.Unmarshal(raw, &have); err != nil {
			return fmt.Errorf("its settings record is unreadable: %w", err)
		}
		if diffs := settingsDiff(have, want); len(diffs) > 0 {
			return &SettingsMismatchError{Path: path, Differences: diffs}
		}
		return nil
	})
	if err != nil {
		db.Close()
		var mismatch *SettingsMismatchError
		if errors.As(err, &mismatch) {
			return nil, err
		}
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return &Checkpoint{db: db, path: path}, nil
}

func settingsDiff(have, want storedSettings) []string {
	var d []string
	if have.Format != want.Format {
		d = append(d, fmt.Sprintf("format %d, this version reads %d", have.Format, want.Format))
	}
	if have.Bucket != want.Bucket {
		d = append(d, fmt.Sprintf("url %s, now %s", have.Bucket, want.Bucket))
	}
	if have.Prefix != want.Prefix {
		d = append(d, fmt.Sprintf("prefix %q, now %q", have.Prefix, want.Prefix))
	}
	if have.ShardIndex != want.ShardIndex || have.ShardCount != want.ShardCount {
		d = append(d, fmt.Sprintf("shard %d of %d, now %d of %d", have.ShardIndex, have.ShardCount, want.ShardIndex, want.ShardCount))
	}
	return d
}

// Path is the checkpoint's file.
func (c *Checkpoint) Path() string { return c.path }

// IsDone reports whether key was recorded done.
func (c *Checkpoint) IsDone(key string) (bool, error) {
	var done bool
	err := c.db.View(func(tx *bolt.Tx) error {
		done = tx.Bucket(bucketDone).Get([]byte(key)) != nil
		return nil
	})
	return done, err
}

// MarkDone records key done. It returns once the record is on disk.
func (c *Checkpoint) MarkDone(key string, d Done) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	err = c.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDone).Put([]byte(key), b)
	})
	if err != nil {
		return fmt.Errorf("checkpoint %s: recording %q done: %w", c.path, key, err)
	}
	return nil
}

// Lookup returns what was recorded of key, if it is done.
func (c *Checkpoint) Lookup(key string) (Done, bool, error) {
	var d Done
	var ok bool
	err := c.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketDone).Get([]byte(key))
		if raw == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(raw, &d)
	})
	return d, ok, err
}

// DoneCount is how many objects are recorded done.
func (c *Checkpoint) DoneCount() (int, error) {
	var n int
	err := c.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketDone).Stats().KeyN
		return nil
	})
	return n, err
}

// Close closes the file.
func (c *Checkpoint) Close() error { return c.db.Close() }
