package storageexport

import (
	"fmt"
	"hash/fnv"
)

// Shard is one of Count disjoint parts of an export: the objects whose key
// hashes to Index modulo Count. Instances given the same Count and each a
// different Index split an export between them with no shared state, and
// every object is read by exactly one of them.
type Shard struct {
	Index, Count int
}

// Validate says what is wrong with a shard a person wrote.
func (s Shard) Validate() error {
	if s.Count < 1 {
		return fmt.Errorf("shard count %d: want 1 or more", s.Count)
	}
	if s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard index %d of %d: want 0 to %d (a StatefulSet pod's ordinal)", s.Index, s.Count, s.Count-1)
	}
	return nil
}

// Owns reports whether the object key belongs to this shard. The hash is
// FNV-1a (64 bits) of the whole key: stable across versions, platforms and
// restarts, which the split depends on.
func (s Shard) Owns(key string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}
