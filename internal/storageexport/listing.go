package storageexport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gocloud.dev/blob"
)

// Lister lists the objects of one selection and shard of an export.
type Lister struct {
	Bucket    *blob.Bucket
	Selection Selection
	Shard     Shard
	// Listed, when set, is called with the prefix of every listing request
	// made (one folder each), for a metric and the DEBUG log.
	Listed func(prefix string)
}

// List calls fn for every selected object of the shard, folder by folder in
// key order. It descends only into the event_type= and date= folders the
// selection takes, so a type or a time range cuts the listing itself: a
// backfill of one day of one type lists that day only. It stops at the first
// error of the storage service or of fn.
func (l *Lister) List(ctx context.Context, fn func(Object) error) error {
	return l.walk(ctx, l.Selection.Prefix, nil, fn)
}

// ListHours is List restricted to the hour partitions of hours in every
// event_type= folder: follow mode's poll of the current and previous hour,
// which Braze is still writing to. It lists each such partition by its name,
// never the folder of every hour an export has.
func (l *Lister) ListHours(ctx context.Context, hours []time.Time, fn func(Object) error) error {
	if len(hours) == 0 {
		return nil
	}
	return l.walk(ctx, l.Selection.Prefix, hours, fn)
}

func (l *Lister) walk(ctx context.Context, prefix string, hours []time.Time, fn func(Object) error) error {
	if l.Listed != nil {
		l.Listed(prefix)
	}
	it := l.Bucket.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		e, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing %q: %w", prefix, err)
		}
		if e.IsDir {
			if err := l.descend(ctx, e.Key, hours, fn); err != nil {
				return err
			}
			continue
		}
		if !IsExportObject(e.Key) {
			continue
		}
		o := ParseKey(e.Key)
		if o.EventType != "" && !l.Selection.typeSelected(o.EventType) {
			continue
		}
		if !o.Hour.IsZero() && !l.Selection.hourSelected(o.Hour) {
			continue
		}
		if !l.Shard.Owns(o.Key) {
			continue
		}
		o.Size, o.ModTime = e.Size, e.ModTime
		if err := fn(o); err != nil {
			return err
		}
	}
}

// descend lists the folder dir unless the selection leaves it out.
func (l *Lister) descend(ctx context.Context, dir string, hours []time.Time, fn func(Object) error) error {
	seg := dirSegment(dir)
	switch {
	case strings.HasPrefix(seg, typeSegment):
		if !l.Selection.typeSelected(seg[len(typeSegment):]) {
			return nil
		}
		if hours != nil {
			for _, h := range hours {
				if !l.Selection.hourSelected(h) {
					continue
				}
				if err := l.walk(ctx, dir+hourSegment+h.UTC().Format(HourLayout)+"/", nil, fn); err != nil {
					return err
				}
			}
			return nil
		}
	case strings.HasPrefix(seg, hourSegment):
		if h, ok := parsePartitionHour(seg); ok && !l.Selection.hourSelected(h) {
			return nil
		}
	}
	return l.walk(ctx, dir, hours, fn)
}
