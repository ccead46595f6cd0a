package zones

import (
	"hash/maphash"
	"iter"
)

// nodeBits sets the size of a chunk of nodes (1<<nodeBits).
const nodeBits = 10

// nodeTable is a zone's nodes, packed in chunks, and the index that finds
// them by name: open addressing over node numbers, 4 bytes a slot, where a
// map[string]*Node spent about 40 bytes a node (key, value, control bytes
// and the room it keeps to grow) on a zone of a million records. The
// first chunk grows (and moves) up to 1<<nodeBits nodes, so a small zone
// stays small; the later ones are full size. Because of that, a *Node
// that add returned is only valid until the next add: build adds nodes
// while it reads records, keeping none of their addresses, and takes
// lasting ones (Apex, wilds) only once every node is in.
type nodeTable struct {
	chunks [][]Node
	slots  []uint32 // node number + 1; 0 is empty
	// tags holds 8 bits of each slot's hash: a probe compares a name only
	// where they match. Up to 3/4 full, a search for a name that is not
	// there (every missing name a query asks, every new owner while
	// loading) passes several slots, and comparing each one's name was a
	// cache miss: a third of dnslb's own CPU under an NXDOMAIN flood.
	tags []uint8
	n    int
	seed maphash.Seed
}

func newNodeTable(hint int) nodeTable {
	t := nodeTable{seed: maphash.MakeSeed()}
	n := slotsFor(hint)
	t.slots, t.tags = make([]uint32, n), make([]uint8, n)
	return t
}

// slotsFor is the index size for n nodes: a power of two at most 3/4 full.
func slotsFor(n int) int {
	size := 8
	for size*3 < n*4 {
		size *= 2
	}
	return size
}

// at returns node number i.
func (t *nodeTable) at(i uint32) *Node {
	return &t.chunks[i>>nodeBits][i&(1<<nodeBits-1)]
}

// get returns the node named name (lower case, fully qualified), or nil.
func (t *nodeTable) get(name string) *Node {
	mask := uint64(len(t.slots) - 1)
	hash := maphash.String(t.seed, name)
	tag := uint8(hash >> 56)
	for h := hash & mask; ; h = (h + 1) & mask {
		s := t.slots[h]
		if s == 0 {
			return nil
		}
		if t.tags[h] != tag {
			continue
		}
		if n := t.at(s - 1); n.Name == name {
			return n
		}
	}
}

// add returns a new node named name, which must not be in the table yet.
// The pointer is valid until the next add.
func (t *nodeTable) add(name string) *Node {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	c := len(t.chunks) - 1
	switch {
	case c < 0:
		t.chunks = append(t.chunks, make([]Node, 0, 8))
		c = 0
	case len(t.chunks[c]) == 1<<nodeBits:
		t.chunks = append(t.chunks, make([]Node, 0, 1<<nodeBits))
		c++
	case len(t.chunks[c]) == cap(t.chunks[c]):
		// Only the first chunk is ever short of the full size.
		grown := make([]Node, len(t.chunks[c]), min(2*cap(t.chunks[c]), 1<<nodeBits))
		copy(grown, t.chunks[c])
		t.chunks[c] = grown
	}
	t.chunks[c] = append(t.chunks[c], Node{Name: name})
	i := uint32(t.n)
	t.n++
	t.put(name, i)
	return t.at(i)
}

// put records node number i under name in the index.
func (t *nodeTable) put(name string, i uint32) {
	mask := uint64(len(t.slots) - 1)
	hash := maphash.String(t.seed, name)
	h := hash & mask
	for t.slots[h] != 0 {
		h = (h + 1) & mask
	}
	t.slots[h], t.tags[h] = i+1, uint8(hash>>56)
}

// grow doubles the index.
func (t *nodeTable) grow() {
	t.slots, t.tags = make([]uint32, 2*len(t.slots)), make([]uint8, 2*len(t.slots))
	for i := range uint32(t.n) {
		t.put(t.at(i).Name, i)
	}
}

// all yields every node, in the order they were added.
func (t *nodeTable) all() iter.Seq[*Node] {
	return func(yield func(*Node) bool) {
		for _, c := range t.chunks {
			for i := range c {
				if !yield(&c[i]) {
					return
				}
			}
		}
	}
}

// clip gives back the first chunk's unused room (a zone of a few nodes
// would keep a chunk of up to twice its nodes). Call it before taking
// lasting pointers to nodes: it moves the first chunk.
func (t *nodeTable) clip() {
	if len(t.chunks) == 1 && len(t.chunks[0]) < cap(t.chunks[0]) {
		t.chunks[0] = append([]Node(nil), t.chunks[0]...)
	}
}
