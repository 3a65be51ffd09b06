package storageexport

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
)

const testIntegration = "currents/dataexport.prod-01.S3.integration.abc/"

// layoutBucket is a fileblob bucket holding two types over three hours in
// Braze's layout, with a schema folder for some, a file outside the layout
// and one that is not Avro.
func layoutBucket(t *testing.T) (*blob.Bucket, []string) {
	t.Helper()
	dir := t.TempDir()
	var keys []string
	for _, et := range []string{"users.messages.email.Send", "users.canvas.Entry"} {
		for _, h := range []string{"2026-11-28-12", "2026-11-28-13", "2026-11-28-14"} {
			keys = append(keys,
				testIntegration+"event_type="+et+"/date="+h+"/484/us-east-1/a.avro",
				testIntegration+"event_type="+et+"/date="+h+"/b.avro")
		}
	}
	keys = append(keys, "currents/renamed/2026/x.avro")
	for _, k := range append(slices.Clone(keys), testIntegration+"README.txt") {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	slices.Sort(keys)
	return b, keys
}

func listKeys(t *testing.T, l *Lister, hours []time.Time) (keys, prefixes []string) {
	t.Helper()
	l.Listed = func(p string) { prefixes = append(prefixes, p) }
	fn := func(o Object) error {
		if o.Size != int64(len(o.Key)) {
			t.Errorf("%s: Size %d, want %d", o.Key, o.Size, len(o.Key))
		}
		keys = append(keys, o.Key)
		return nil
	}
	var err error
	if hours == nil {
		err = l.List(context.Background(), fn)
	} else {
		err = l.ListHours(context.Background(), hours, fn)
	}
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys, prefixes
}

func hour(h int) time.Time { return time.Date(2026, 11, 28, h, 0, 0, 0, time.UTC) }

func TestListEverything(t *testing.T) {
	b, all := layoutBucket(t)
	got, _ := listKeys(t, &Lister{Bucket: b, Selection: Selection{Prefix: "currents"}, Shard: Shard{Count: 1}}, nil)
	if !slices.Equal(got, all) {
		t.Errorf("listed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(all, "\n"))
	}
}

// A type and an hour range cut the listing: the folders of other types and
// hours are never listed.
func TestListCutsByTypeAndHour(t *testing.T) {
	b, all := layoutBucket(t)
	sel := Selection{Prefix: "currents/", Types: []string{"users.canvas.Entry"}, Since: hour(13), Until: hour(13)}
	got, prefixes := listKeys(t, &Lister{Bucket: b, Selection: sel, Shard: Shard{Count: 1}}, nil)
	var want []string
	for _, k := range all {
		if strings.Contains(k, "event_type=users.canvas.Entry/date=2026-11-28-13/") || strings.Contains(k, "renamed") {
			want = append(want, k)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range prefixes {
		if strings.Contains(p, "email") || strings.Contains(p, "date=2026-11-28-12") || strings.Contains(p, "date=2026-11-28-14") {
			t.Errorf("listed the unselected folder %s", p)
		}
	}
}

// Follow mode lists the named hour partitions directly.
func TestListHours(t *testing.T) {
	b, all := layoutBucket(t)
	got, prefixes := listKeys(t, &Lister{Bucket: b, Selection: Selection{Prefix: testIntegration}, Shard: Shard{Count: 1}}, []time.Time{hour(13), hour(14)})
	var want []string
	for _, k := range all {
		if strings.Contains(k, "date=2026-11-28-13/") || strings.Contains(k, "date=2026-11-28-14/") {
			want = append(want, k)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range prefixes {
		if strings.HasSuffix(p, "/event_type=users.canvas.Entry/") {
			t.Errorf("listed every hour of a type: %s", p)
		}
	}
}

func TestListShardsPartition(t *testing.T) {
	b, all := layoutBucket(t)
	var union []string
	for i := range 3 {
		got, _ := listKeys(t, &Lister{Bucket: b, Selection: Selection{Prefix: "currents"}, Shard: Shard{Index: i, Count: 3}}, nil)
		if len(got) == 0 {
			t.Errorf("shard %d of 3 got nothing of %d objects", i, len(all))
		}
		union = append(union, got...)
	}
	slices.Sort(union)
	if !slices.Equal(union, all) {
		t.Errorf("the shards together listed %d objects (with repeats), want each of %d once", len(union), len(all))
	}
}
