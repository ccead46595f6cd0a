package answer

import (
	"fmt"
	"testing"
)

// TestFastTable checks the precomputed replies' index through growth,
// dropping part of it and clearing: every key kept is found, no key
// dropped or never put is.
func TestFastTable(t *testing.T) {
	var tab fastTable
	key := func(i int) []byte { return fmt.Appendf(nil, "\x05name%d\x07example\x00\x00\x01\x00\x01\x03", i) }
	const n = 5000
	for i := range n {
		k := key(i)
		e := newFastReply(len(k))
		copy(e.buf, k)
		e.klen, e.any = uint16(len(k)), i%3 == 0
		tab.insert(e)
	}
	if tab.n != n || 2*tab.n > len(tab.slots) {
		t.Fatalf("%d entries in %d slots", tab.n, len(tab.slots))
	}
	// Putting a key again replaces its entry.
	again := newFastReply(len(key(7)))
	copy(again.buf, key(7))
	again.klen = uint16(len(key(7)))
	tab.insert(again)
	if tab.n != n || tab.find(key(7)) != again {
		t.Fatalf("re-inserting a key: %d entries, found the old entry", tab.n)
	}
	tab.drop(func(e *fastReply) bool { return e.any })
	for i := range n + 100 {
		e := tab.find(key(i))
		switch {
		case i >= n || i%3 == 0:
			if e != nil {
				t.Fatalf("key %d found after it was dropped or never put", i)
			}
		case e == nil || string(e.buf[:e.klen]) != string(key(i)):
			t.Fatalf("key %d not found", i)
		}
	}
	tab.clear()
	if tab.n != 0 || tab.find(key(1)) != nil {
		t.Fatal("found after clear")
	}
	// Dropping from an empty table, then inserting again; a hash made
	// before a clear (as prefetch makes them) still finds the key.
	var empty fastTable
	empty.drop(func(*fastReply) bool { return true })
	h := tab.hash(key(3))
	for _, tb := range []*fastTable{&empty, &tab} {
		e := newFastReply(len(key(3)))
		copy(e.buf, key(3))
		e.klen = uint16(len(key(3)))
		tb.insert(e)
		if tb.find(key(3)) != e {
			t.Fatal("not found after drop or clear")
		}
	}
	if tab.findHash(key(3), h) == nil {
		t.Fatal("a hash made before clear finds nothing")
	}
}
