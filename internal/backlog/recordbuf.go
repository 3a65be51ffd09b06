package backlog

import (
	"math/bits"
	"sync"
)

// Buffers for encoded records, reused once their commit is done.
//
// Every appended record is encoded into a buffer of its own that bbolt
// holds (Put keeps the slice, not a copy) until the transaction ends. With
// braze_currents behind the buffer a record is a whole request, about
// 80 KB, and these buffers were an eighth of the bytes the HTTP path
// allocated (heap profile, alloc_space): each one a large allocation,
// zeroed, then garbage after the commit. They are pooled by size class
// (powers of two), so records of similar size reuse each other's buffers.

const (
	minRecordBufShift = 10 // 1 KiB: smaller records are cheap to allocate
	maxRecordBufShift = 22 // 4 MiB: larger ones are rare and not kept
)

var recordBufs [maxRecordBufShift - minRecordBufShift + 1]sync.Pool

// recordBufClass is the pool for buffers of capacity 1<<shift that hold n
// bytes, or -1 when n is outside the pooled sizes.
func recordBufClass(n int) (class int, shift int) {
	if n <= 0 {
		return -1, 0
	}
	shift = max(bits.Len(uint(n-1)), minRecordBufShift)
	if shift > maxRecordBufShift {
		return -1, 0
	}
	return shift - minRecordBufShift, shift
}

// getRecordBuf returns an empty buffer with room for n bytes.
func getRecordBuf(n int) []byte {
	class, shift := recordBufClass(n)
	if class < 0 {
		return make([]byte, 0, n)
	}
	if p, ok := recordBufs[class].Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 1<<shift)
}

// putRecordBuf gives buf back for reuse. Only a buffer getRecordBuf made
// (capacity exactly its class) is kept, and the caller must hold no other
// reference to it: the commit that stored it is over.
func putRecordBuf(buf []byte) {
	class, shift := recordBufClass(cap(buf))
	if class < 0 || cap(buf) != 1<<shift {
		return
	}
	buf = buf[:0]
	recordBufs[class].Put(&buf)
}
