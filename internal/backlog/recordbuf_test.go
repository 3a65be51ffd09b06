package backlog

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
)

func TestRecordBufClass(t *testing.T) {
	for _, c := range []struct{ n, class, shift int }{
		{0, -1, 0}, {1, 0, 10}, {1024, 0, 10}, {1025, 1, 11}, {80_000, 7, 17},
		{1 << 22, 12, 22}, {1<<22 + 1, -1, 0},
	} {
		if class, shift := recordBufClass(c.n); class != c.class || shift != c.shift {
			t.Errorf("recordBufClass(%d) = %d, %d; want %d, %d", c.n, class, shift, c.class, c.shift)
		}
	}
	if b := getRecordBuf(80_000); len(b) != 0 || cap(b) != 1<<17 {
		t.Fatalf("getRecordBuf(80000): len %d cap %d", len(b), cap(b))
	}
	// A buffer of another capacity is not pooled: the next get of its class
	// must not hand out a slice shorter than the class promises.
	putRecordBuf(make([]byte, 0, 100_000))
	if b := getRecordBuf(130_000); cap(b) < 130_000 {
		t.Fatalf("getRecordBuf(130000) has cap %d", cap(b))
	}
}

// TestReusedRecordBuffersKeepStoredRecords appends records of request
// size, from several writers at once so that commits group them, each
// record encoded into a buffer earlier commits gave back. Every record must
// read back as written: a buffer reused while bbolt still held it would
// show as another record's bytes.
func TestReusedRecordBuffersKeepStoredRecords(t *testing.T) {
	q := open(t, t.TempDir(), Options{Sync: SyncNone, ReadRecords: 50})
	ctx := context.Background()
	const writers, perWriter = 4, 60
	body := func(w, i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("w%02d-r%03d;", w, i)), 8_000) // 72 KB, a Braze request's size
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if err := q.Append(ctx, []Record{{Body: body(w, i), Meta: []Meta{{Key: "w", Kind: 's', Value: []byte{byte(w)}}}}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	next := make([]int, writers)
	for read := 0; read < writers*perWriter; {
		l, err := q.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Records {
			w := int(r.Meta[0].Value[0])
			if want := body(w, next[w]); !bytes.Equal(r.Body, want) {
				t.Fatalf("writer %d record %d: read %.20q..., want %.20q...", w, next[w], r.Body, want)
			}
			next[w]++
			read++
		}
		if err := l.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
