package plugin

import (
	"errors"
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// batchError turns the per-message errors of one write (nil for a message
// that was delivered) into the error WriteBatch returns, so that every
// failed message keeps its own error whatever Benthos did to the batch on
// its way to the output.
//
// A BatchError marking the failed indexes is all a fallback or switch output
// needs when the batch is one of its transactions. But a batch policy merges
// several upstream transactions into one batch, and Benthos then acks each
// transaction with the error of its first failed message alone
// (internal/transaction.Tracked): a fallback around the output would route
// the whole transaction, messages Segment accepted included, with that one
// message's reason. So each message's error also carries the whole
// BatchError. The components that route by message (fallback, switch, the
// inputs that replay nacks) look for a BatchError with errors.As, find it
// there, and again see exactly which messages failed, each with its reason.
func batchError(batch service.MessageBatch, headline string, errs []error) error {
	var failed []int
	for i, err := range errs {
		if err != nil {
			failed = append(failed, i)
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(batch) == 1:
		// A one-message batch's error is taken as it is: it must be the
		// message's own, not a BatchError's headline.
		return errs[0]
	}
	all := service.NewBatchError(batch, errors.New(headline))
	for _, i := range failed {
		all.Failed(i, &messageError{err: fmt.Errorf("message %d: %w", i, errs[i]), batch: all})
	}
	return all
}

// messageError is one message's error, carrying the BatchError of the batch
// it failed in.
type messageError struct {
	err   error
	batch *service.BatchError
}

func (e *messageError) Error() string   { return e.err.Error() }
func (e *messageError) Unwrap() []error { return []error{e.err, e.batch} }
