package geo

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"

	"github.com/oschwald/maxminddb-golang/v2"
)

// table is one file's networks of one address family compiled for lookup,
// as gdnsd does with its GeoIP data: the file's search tree walked once, at
// load, into sorted ranges that cover the whole address space. A lookup is
// then an index read and a short binary search over flat arrays, instead of
// a walk of 24 or more tree nodes spread over the file.
//
// Keys are the first 64 bits of an address: an IPv4 address a is a<<32, an
// IPv6 address its upper half. Each range keeps exactly what a lookup in
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
type table struct {
	starts []uint64 // the first key of each range, ascending; starts[0] == 0
	vals   []uint32 // per range: record index<<8 | the network's length; see direct
	// index[t] is the first range whose start has top 16 bits >= t, and
	// index[1<<16] == len(starts): a key's range is found between two of them.
	index []uint32
}

// direct marks a range where lookups go to the tree. Record index 0 is a
// network without data.
const direct = ^uint32(0)

// maxRanges bounds a table (16 bytes a range with its record): past it the
// file is looked up in its tree, as before compiling.
const maxRanges = 1 << 24

// find returns the value of the range holding key k.
func (t *table) find(k uint64) uint32 {
	top := k >> 48
	lo, hi := int(t.index[top]), int(t.index[top+1])
	// The range holding k is the last one starting at or before k: in
	// starts[lo:hi], or the one before lo (which starts in an earlier
	// /16 and runs into this one).
	j := lo + sort.Search(hi-lo, func(i int) bool { return t.starts[lo+i] > k })
	return t.vals[j-1]
}

// tableBuilder collects ranges in ascending order.
type tableBuilder struct {
	t     table
	recs  *[]recData
	byOff map[uintptr]uint32
}

func (b *tableBuilder) add(start uint64, val uint32) error {
	n := len(b.t.starts)
	if n > 0 && b.t.vals[n-1] == direct && val == direct {
		return nil // one direct range is as good as two
	}
	if n > 0 && start <= b.t.starts[n-1] {
		return fmt.Errorf("networks out of order at key %#x", start)
	}
	if n == maxRanges {
		return fmt.Errorf("more than %d networks", maxRanges)
	}
	b.t.starts = append(b.t.starts, start)
	b.t.vals = append(b.t.vals, val)
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

func (b *tableBuilder) done() *table {
	t := &b.t
	t.index = make([]uint32, 1<<16+1)
	j := 0
	for top := range 1 << 16 {
		for j < len(t.starts) && t.starts[j]>>48 < uint64(top) {
			j++
		}
		t.index[top] = uint32(j)
	}
	t.index[1<<16] = uint32(len(t.starts))
	t.starts = t.starts[:len(t.starts):len(t.starts)]
	t.vals = t.vals[:len(t.vals):len(t.vals)]
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
	var t6 *table
	if f.ipv6 {
		b6 := &tableBuilder{recs: &recs, byOff: byOff}
		if err := f.walk6(b6); err != nil {
			return err
		}
		t6 = b6.done()
	}
	if len(recs) >= 1<<24 {
		return fmt.Errorf("more than %d records", 1<<24)
	}
	f.t4, f.t6, f.recs = b4.done(), t6, recs[:len(recs):len(recs)]
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
