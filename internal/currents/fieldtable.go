package currents

import "math/bits"

// fieldTable finds the id of a field name while an event is decoded, once per
// member of every event, which made it the mapper's most frequent lookup.
// A Go map hashes the whole key; this table hashes four bytes of it (length,
// first, middle, last), with a multiplier chosen when the catalog is built so
// that the known names spread out, then confirms the name. Unknown names
// cost the hash and usually one comparison.
type fieldTable struct {
	slots []fieldSlot
	mul   uint32
	shift uint8
}

type fieldSlot struct {
	name string // "" marks an empty slot; no field has an empty name
	id   int
}

func fieldHashInput(n int, first, mid, last byte) uint32 {
	return uint32(n) | uint32(first)<<8 | uint32(mid)<<16 | uint32(last)<<24
}

// newFieldTable builds the table for names, whose ids are their indexes.
func newFieldTable(names []string) fieldTable {
	size := 1 << bits.Len(uint(4*len(names)))
	shift := uint8(32 - bits.TrailingZeros(uint(size)))
	var best fieldTable
	bestCost := -1
	// A few odd multipliers from a fixed sequence: the choice is
	// deterministic, and the one with the fewest total probes wins.
	mul := uint32(0x9E3779B1)
	for try := 0; try < 64; try++ {
		t := fieldTable{slots: make([]fieldSlot, size), mul: mul, shift: shift}
		cost := 0
		for id, name := range names {
			i := t.home(name)
			for t.slots[i].name != "" {
				i = (i + 1) & (size - 1)
				cost++
			}
			t.slots[i] = fieldSlot{name: name, id: id}
		}
		if bestCost < 0 || cost < bestCost {
			best, bestCost = t, cost
		}
		if cost == 0 {
			break
		}
		mul = mul*0x2C1B3C6D + 0x297A2D39 | 1
	}
	return best
}

func (t *fieldTable) home(name string) int {
	n := len(name)
	return int(fieldHashInput(n, name[0], name[n>>1], name[n-1]) * t.mul >> t.shift)
}

// lookup returns the id of the field named key, or -1.
func (t *fieldTable) lookup(key []byte) int {
	n := len(key)
	if n == 0 {
		return -1
	}
	mask := len(t.slots) - 1
	for i := int(fieldHashInput(n, key[0], key[n>>1], key[n-1])*t.mul>>t.shift) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.name == "" {
			return -1
		}
		if s.name == string(key) {
			return s.id
		}
	}
}
