package backlog

import bolt "go.etcd.io/bbolt"

// Where a record's bytes live in the records bucket. A record shorter than
// a page is a value of the records bucket under its sequence number. A
// record of a page or more is the only value of a bucket of its own, named by
// its sequence number and keyed by it again.
//
// Why the bucket: bbolt rewrites a whole leaf, values included, whenever
// anything in it changes, and it never splits a leaf below four entries. A
// record of a page or more sits in a leaf with up to three others, so each
// append rewrote the records before it and each acknowledgement the records
// after it: 2.08 bytes written per byte stored for requests of 60 KB
// (BenchmarkFlowLargeRecords). In a bucket of its own a record is written
// once, and the records bucket's leaves hold only the 16-byte bucket headers.
//
// The page scan (scan.go) needs nothing new: the record's own leaf is a leaf
// page whose one element is its 8-byte key and its bytes, as before. Records
// written as values by an earlier build read as they are.

// putRecord stores the record v under key k.
func putRecord(rb *bolt.Bucket, k, v []byte, ownBucketFrom int) error {
	if len(v) < ownBucketFrom {
		return rb.Put(k, v)
	}
	b, err := rb.CreateBucket(k)
	if err != nil {
		return err
	}
	b.FillPercent = 1.0
	return b.Put(k, v)
}

// recordAt returns the bytes of the record under k, given the value a cursor
// or Get found there (nil for a bucket); nil if there is none.
func recordAt(rb *bolt.Bucket, k, v []byte) []byte {
	if v != nil {
		return v
	}
	if b := rb.Bucket(k); b != nil {
		return b.Get(k)
	}
	return nil
}

// getRecord returns the bytes of the record under k, or nil.
func getRecord(rb *bolt.Bucket, k []byte) []byte { return recordAt(rb, k, rb.Get(k)) }

// deleteRecord deletes the record under k and returns its size; found is
// false if there was none.
func deleteRecord(rb *bolt.Bucket, k []byte) (size int, found bool, err error) {
	if v := rb.Get(k); v != nil {
		return len(v), true, rb.Delete(k)
	}
	b := rb.Bucket(k)
	if b == nil {
		return 0, false, nil
	}
	return len(b.Get(k)), true, rb.DeleteBucket(k)
}
