package geo

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// table is one file's networks of one address family compiled for lookup,
// as gdnsd does with its GeoIP data: the file's search tree walked once, at
// load, into sorted ranges that cover the whole address space. A lookup is
// then an index read and a short binary search over flat arrays, instead of
// a walk of 24 or more tree nodes spread over the file.
//
// Keys are IPv4 addresses, and the upper 64 bits of IPv6 addresses. Each range keeps exactly what a lookup in
// the tree reports for every address in it (the network's length and its
// record), so compiled and direct lookups agree to the bit, ECS scope
// included. Ranges are not merged across networks: that could widen the
// scope, but Location.Prefix is the database's network, and tests and
// resolvers see it.
//
// IPv6 networks longer than /64, and the regions where IPv6 databases alias
// the IPv4 tree (2001::/32 Teredo, 2002::/16 6to4), are direct ranges: the
// lookup falls back to the tree there. That keeps the table at about one
// range per network.
type table[K uint32 | uint64] struct {
	// ents are the ranges by first key, ascending; ents[0].start == 0.
	// A key and its value side by side: a lookup reads one cache line
	// where two arrays would cost two (the tables are megabytes, and
	// clients' addresses are spread over all of them).
	ents []entry[K]
	// index has an entry per block of keys (the top bits of a key, as
	// many as the table needs: see build): the first range starting in
	// the block or after it, and when one range covers the whole block,
	// its value (whole). The last entry ends the ranges. A lookup in a
	// whole block reads one cache line; any other, two or three.
	index []slot
	shift uint8 // a key's block is key >> shift
}

// slot is an index entry: lo is the first range starting at or after the
// block's first key, with the whole bit set when one range covers the
// block; val is that range's value.
type slot struct {
	lo, val uint32
}

const whole = 1 << 31

// entry is one range: its first key (an IPv4 address, the upper half of an
// IPv6 one) and its value: record index<<8 | the network's length; see
// direct.
type entry[K uint32 | uint64] struct {
	start K
	val   uint32
}

// direct marks a range where lookups go to the tree. Record index 0 is a
// network without data.
const direct = ^uint32(0)

// maxRanges bounds a table (8 or 16 bytes a range, and its record): past it
// the file is looked up in its tree, as before compiling.
const maxRanges = 1 << 24

// find returns the value of the range holding key k.
func (t *table[K]) find(k K) uint32 {
	top := k >> t.shift
	sl := t.index[top]
	if sl.lo&whole != 0 {
		return sl.val
	}
	lo, hi := int(sl.lo), int(t.index[top+1].lo&^whole)
	// The range holding k is the last one starting at or before k: in
	// ents[lo:hi], or the one before lo (which starts in an earlier block
	// and runs into this one). Search for the first start past k.
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.ents[m].start <= k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return t.ents[lo-1].val
}

// warm reads what find will read first for each of keys: the keys'
// index slots, all of them, then the first range of each split block. The
// loads of one pass do not depend on each other, so the processor has
// them all in flight at once. It returns a value made of what it read, so
// the reads are not optimised away; see Set.Warm.
func (t *table[K]) warm(keys []K) uint32 {
	var slots [maxWarm]*slot
	for i, k := range keys {
		slots[i] = &t.index[k>>t.shift]
	}
	var sum, split uint32
	for _, sl := range slots[:len(keys)] {
		sum += sl.lo
	}
	var ents [maxWarm]*entry[K]
	for _, sl := range slots[:len(keys)] {
		if sl.lo&whole == 0 {
			ents[split] = &t.ents[max(int(sl.lo), 1)-1]
			split++
		}
	}
	for _, e := range ents[:split] {
		sum += e.val
	}
	return sum
}

// maxWarm is the most addresses one Warm call reads ahead for.
const maxWarm = 64

// tableBuilder collects ranges in ascending order, keyed by the upper 64
// bits of the address (IPv4: a<<32).
type tableBuilder struct {
	starts []uint64
	vals   []uint32
	recs   *[]recData
	byOff  map[uintptr]uint32
}

func (b *tableBuilder) add(start uint64, val uint32) error {
	n := len(b.starts)
	if n > 0 && b.vals[n-1] == direct && val == direct {
		return nil // one direct range is as good as two
	}
	if n > 0 && start <= b.starts[n-1] {
		return fmt.Errorf("networks out of order at key %#x", start)
	}
	if n == maxRanges {
		return fmt.Errorf("more than %d networks", maxRanges)
	}
	b.starts = append(b.starts, start)
	b.vals = append(b.vals, val)
	return nil
}

// val is the range value of a lookup result whose network is bits long:
// its record decoded once per data offset.
func (b *tableBuilder) val(res maxminddb.Result, bits int) uint32 {
	if !res.Found() {
		return uint32(bits)
	}
	off := res.Offset()
	i, ok := b.byOff[off]
	if !ok {
		rec, decoded := decodeRecord(res)
		if decoded {
			*b.recs = append(*b.recs, rec)
			i = uint32(len(*b.recs) - 1)
		} // else 0: a record that does not decode is looked up as no data
		b.byOff[off] = i
	}
	return i<<8 | uint32(bits)
}

// build makes the table of b's ranges, keys shifted right by shift (32
// for IPv4, 0 for IPv6). The IPv4 index has about four blocks per range,
// at most 2^20 (8 MB) and at least 2^10: most blocks of a database whose
// networks are /20 or wider then lie in one network. IPv6 networks are
// almost all in 2000::/4, where blocks of the top bits do not tell them
// apart: there the index has at most 2^16 slots.
func build[K uint32 | uint64](b *tableBuilder, shift uint) *table[K] {
	n := len(b.starts)
	top := 20
	if shift == 0 {
		top = 16
	}
	ibits := uint(min(top, max(10, bits.Len(uint(n))+2)))
	t := &table[K]{ents: make([]entry[K], n), index: make([]slot, 1<<ibits+1)}
	t.shift = uint8(64 - shift - ibits)
	for i, s := range b.starts {
		t.ents[i] = entry[K]{start: K(s >> shift), val: b.vals[i]}
	}
	bshift := 64 - ibits // of a 64-bit key
	j := 0
	for top := range uint64(1) << ibits {
		first := top << bshift
		for j < n && b.starts[j] < first {
			j++
		}
		sl := slot{lo: uint32(j)}
		// The range holding the block's first key, and where the next
		// one starts: after the block, or the block is split.
		at := j - 1
		if j < n && b.starts[j] == first {
			at = j
		}
		if at+1 == n || b.starts[at+1]>>bshift > top {
			sl.lo |= whole
			sl.val = b.vals[at]
		}
		t.index[top] = sl
	}
	t.index[1<<ibits] = slot{lo: uint32(n)}
	return t
}

// compile walks f's tree into its tables: IPv4, and IPv6 when the file has
// it. The walk is a sequence of ordinary lookups, each at the first address
// past the network of the one before, so the tables hold what lookups in
// the tree answer, by construction. On an error (a corrupt tree, too many
// networks) f keeps no tables and is looked up in the tree.
func (f *geoFile) compile() error {
	byOff := map[uintptr]uint32{}
	recs := []recData{{}} // index 0: no data
	b4 := &tableBuilder{recs: &recs, byOff: byOff}
	if err := f.walk4(b4); err != nil {
		return err
	}
	var t6 *table[uint64]
	if f.ipv6 {
		b6 := &tableBuilder{recs: &recs, byOff: byOff}
		if err := f.walk6(b6); err != nil {
			return err
		}
		t6 = build[uint64](b6, 0)
	}
	if len(recs) >= 1<<24 {
		return fmt.Errorf("more than %d records", 1<<24)
	}
	f.t4, f.t6, f.recs = build[uint32](b4, 32), t6, recs[:len(recs):len(recs)]
	return nil
}

func (f *geoFile) walk4(b *tableBuilder) error {
	for a := uint64(0); a < 1<<32; {
		res := f.r.Lookup(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}))
		if err := res.Err(); err != nil {
			return err
		}
		p := res.Prefix()
		bits := p.Bits()
		if bits < 0 {
			return fmt.Errorf("lookup of %d gave no network", a)
		}
		bits = min(bits, 32) // as Set.Lookup counts it
		extent := bits
		if f.ipv6 && p.Addr().Is6() {
			// The tree ended above the IPv4 subtree (::/96): every
			// IPv4 address gets this answer.
			extent = 0
		}
		if err := b.add(a<<32, b.val(res, bits)); err != nil {
			return err
		}
		size := uint64(1) << (32 - extent)
		a = a&^(size-1) + size
	}
	return nil
}

// aliases are where IPv6 databases usually point into the IPv4 tree
// (::ffff:0:0/96 lies in ::/64, which holds the IPv4 tree at ::/96 and is
// a direct range anyway), as [first, last] keys.
var aliases = [][2]uint64{
	{0x2001_0000 << 32, 0x2001_0000<<32 | 1<<32 - 1}, // 2001::/32, Teredo
	{0x2002 << 48, 0x2002<<48 | 1<<48 - 1},           // 2002::/16, 6to4
}

func (f *geoFile) walk6(b *tableBuilder) error {
	var a16 [16]byte
	a := uint64(0)
	for {
		for _, al := range aliases {
			if a >= al[0] && a <= al[1] {
				if err := b.add(a, direct); err != nil {
					return err
				}
				a = al[1] + 1
			}
		}
		binary.BigEndian.PutUint64(a16[:8], a)
		res := f.r.Lookup(netip.AddrFrom16(a16))
		if err := res.Err(); err != nil {
			return err
		}
		bits := res.Prefix().Bits()
		if bits < 0 {
			return fmt.Errorf("lookup of %#x:: gave no network", a)
		}
		val, extent := b.val(res, bits), bits
		if bits > 64 {
			val, extent = direct, 64
		}
		if err := b.add(a, val); err != nil {
			return err
		}
		var next uint64
		if extent > 0 {
			size := uint64(1) << (64 - extent)
			next = a&^(size-1) + size
		}
		// The network may run into an alias region: stop the range there.
		for _, al := range aliases {
			if a < al[0] && (next > al[0] || next == 0) {
				next = al[0]
			}
		}
		if next == 0 {
			return nil // past the last address
		}
		a = next
	}
}
