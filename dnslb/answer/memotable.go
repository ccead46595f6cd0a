package answer

import (
	"hash/maphash"
	"unsafe"
)

// fastTable is fastCache's index: open addressing with linear probing,
// at most half full. A slot holds the key's hash beside the entry, so a
// lookup reads one slot (16 bytes, four to a cache line) and then only
// the entry it is after; Go's map read a control word, the slot, and
// the key's bytes elsewhere (three cache misses, a tenth of the whole
// server's time under the static bench).
type fastTable struct {
	slots  []fastSlot // a power of two; nil until the first insert
	n      int
	seed   maphash.Seed
	seeded bool
}

type fastSlot struct {
	h uint64 // the key's hash with the low bit set; 0: empty
	e *fastReply
}

func (t *fastTable) hash(key []byte) uint64 { return maphash.Bytes(t.seed, key) | 1 }

// find returns the entry with key, or nil.
func (t *fastTable) find(key []byte) *fastReply { return t.findHash(key, 0) }

// findHash is find with key's hash, if h is not 0.
func (t *fastTable) findHash(key []byte, h uint64) *fastReply {
	if t.n == 0 {
		return nil
	}
	if h == 0 {
		h = t.hash(key)
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.h == 0 {
			return nil
		}
		if s.h == h && string(s.e.key()) == string(key) {
			return s.e
		}
	}
}

// insert adds e, or replaces the entry with its key.
func (t *fastTable) insert(e *fastReply) {
	if t.slots == nil {
		if !t.seeded {
			// One seed for the table's life: prefetch's hashes stay
			// good across a clear.
			t.seed, t.seeded = maphash.MakeSeed(), true
		}
		t.slots = make([]fastSlot, 1024)
	}
	if 2*(t.n+1) > len(t.slots) {
		t.rebuild(2*len(t.slots), nil)
	}
	t.put(t.hash(e.key()), e)
}

func (t *fastTable) put(h uint64, e *fastReply) {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.h == 0 {
			s.h, s.e = h, e
			t.n++
			return
		}
		if s.h == h && string(s.e.key()) == string(e.key()) {
			s.e = e
			return
		}
	}
}

// drop removes the entries gone says to, by putting the others back in
// a cleared table (linear probing has no cheap single delete).
func (t *fastTable) drop(gone func(*fastReply) bool) {
	if t.n > 0 {
		t.rebuild(len(t.slots), gone)
	}
}

// rebuild puts the entries, but those gone says to drop (if gone is not
// nil), in a new table of size slots.
func (t *fastTable) rebuild(size int, gone func(*fastReply) bool) {
	old := t.slots
	t.slots, t.n = make([]fastSlot, size), 0
	for _, s := range old {
		if s.h != 0 && (gone == nil || !gone(s.e)) {
			t.put(s.h, s.e)
		}
	}
}

func (t *fastTable) clear() {
	if len(t.slots) > 1<<16 {
		t.slots = nil // start small again
	} else {
		clear(t.slots)
	}
	t.n = 0
}

// fastBox puts a fastReply and its buffer in one allocation; D is a byte
// array, its capacity.
type fastBox[D any] struct {
	r fastReply
	d D
}

// newFastReply returns an entry whose buf has n bytes, right after the
// struct in memory when n is small enough for one of the boxes.
func newFastReply(n int) *fastReply {
	var r *fastReply
	switch {
	case n <= 64:
		r = boxed[[64]byte]()
	case n <= 128:
		r = boxed[[128]byte]()
	case n <= 256:
		r = boxed[[256]byte]()
	case n <= 384:
		r = boxed[[384]byte]()
	case n <= 512:
		r = boxed[[512]byte]()
	case n <= 1024:
		r = boxed[[1024]byte]()
	case n <= 2048:
		r = boxed[[2048]byte]()
	default:
		r = &fastReply{buf: make([]byte, n)}
	}
	r.buf = r.buf[:n]
	return r
}

// boxed returns the entry of a new fastBox, its buf the box's array.
func boxed[D any]() *fastReply {
	b := new(fastBox[D])
	b.r.buf = unsafe.Slice((*byte)(unsafe.Pointer(&b.d)), unsafe.Sizeof(b.d))
	return &b.r
}
