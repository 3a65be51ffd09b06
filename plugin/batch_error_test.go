package plugin

import (
	"errors"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func TestBatchErrorKeepsEachMessagesError(t *testing.T) {
	batch := service.MessageBatch{service.NewMessage([]byte("a")), service.NewMessage([]byte("b")), service.NewMessage([]byte("c"))}
	index := batch.Index()
	errB := errors.New("b refused")
	if batchError(batch, "headline", []error{nil, nil, nil}) != nil {
		t.Fatal("no failure must be nil")
	}
	err := batchError(batch, "headline", []error{nil, errB, nil})
	var bErr *service.BatchError
	if !errors.As(err, &bErr) || bErr.IndexedErrors() != 1 || err.Error() != "headline" {
		t.Fatalf("want a BatchError with one failed index, got %v", err)
	}
	var failed error
	bErr.WalkMessagesIndexedBy(index, func(i int, _ *service.Message, e error) bool {
		if e != nil {
			if i != 1 {
				t.Errorf("index %d failed", i)
			}
			failed = e
		}
		return true
	})
	// The message's error is its own, and still leads to the whole batch's:
	// that is what a fallback finds when Benthos acks a merged transaction
	// with this one error.
	if failed == nil || failed.Error() != "message 1: b refused" || !errors.Is(failed, errB) {
		t.Fatalf("message error: %v", failed)
	}
	var carried *service.BatchError
	if !errors.As(failed, &carried) || carried != bErr {
		t.Fatal("a message's error must carry the batch's BatchError")
	}
	if one := batchError(batch[:1], "headline", []error{errB}); one != errB {
		t.Fatalf("a one-message batch must fail with the message's own error, got %v", one)
	}
}
