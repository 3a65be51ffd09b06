package storageexport

import (
	"fmt"
	"testing"
)

func TestShardsSplitEveryKeyOnce(t *testing.T) {
	const n = 3
	counts := make([]int, n)
	for i := range 3000 {
		key := fmt.Sprintf("currents/dataexport.p.S3.integration.a/event_type=t%d/date=2026-11-28-%02d/f%d.avro", i%96, i%24, i)
		owners := 0
		for s := range n {
			if (Shard{Index: s, Count: n}).Owns(key) {
				owners++
				counts[s]++
			}
		}
		if owners != 1 {
			t.Fatalf("key %q has %d owners of %d shards", key, owners, n)
		}
	}
	for s, c := range counts {
		// A hash that splits evenly: each shard within 10% of a third.
		if c < 900 || c > 1100 {
			t.Errorf("shard %d owns %d of 3000 keys", s, c)
		}
	}
}

func TestShardHashIsStable(t *testing.T) {
	// The split must not change between versions: instances of two versions
	// would otherwise read an object twice or never. FNV-1a 64 of this key is
	// 0x79380371f75aa96e; its residues modulo 2 to 7 pin the function.
	key := "currents/dataexport.prod-01.S3.integration.6470f1a3c2b9d8001f4e2a57/event_type=users.messages.email.Send/date=2026-11-28-13/a.avro"
	var got []int
	for n := 2; n <= 7; n++ {
		for i := range n {
			if (Shard{Index: i, Count: n}).Owns(key) {
				got = append(got, i)
			}
		}
	}
	want := fmt.Sprint([]int{0, 0, 2, 4, 0, 6})
	if fmt.Sprint(got) != want {
		t.Errorf("residues of the pinned key for 2..7 shards = %v, want %s", got, want)
	}
}

func TestShardValidate(t *testing.T) {
	for _, s := range []Shard{{0, 0}, {-1, 2}, {2, 2}} {
		if s.Validate() == nil {
			t.Errorf("shard %+v was accepted", s)
		}
	}
	if err := (Shard{1, 2}).Validate(); err != nil {
		t.Errorf("shard 1 of 2 refused: %v", err)
	}
}
