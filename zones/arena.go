package zones

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

// arena is where build puts what a zone keeps of the records it reads, as
// it reads them: owner names, RRsets and the addresses of A and AAAA
// RRsets, each kind packed into chunks of its own (the nodes are in a
// table of their own, nodes.go). The zone parser leaves each record amid
// its garbage (tokens, keys); copied into chunks at once, the kept data
// fill pages of their own, which stay dense after the parse, while the
// pages of the garbage are freed whole. Chunks grow from a few entries to
// maxChunk, so a small zone stays small; they never move, so pointers into
// them stay valid.
type arena struct {
	names  strings.Builder
	sets   []RRset
	nNames int
	nSets  int

	// rrs and setPtrs are where the RRsets' record lists and the nodes'
	// lists of RRsets grow (appendIn), and moved counts the entries of
	// both that were left behind when a list moved (compact packs the
	// lists again when they are many).
	rrs            []dns.RR
	setPtrs        []*RRset
	nRRs, nSetPtrs int
	moved, listed  int
	// addrs is where the address sets' bytes grow, as the lists do
	// (appendIn, one address at a time); movedAddrs and addrBytes count
	// its bytes left behind and listed.
	addrs                         []byte
	nAddrs, movedAddrs, addrBytes int

	// prev is the zone this one replaces (LoadShared), nil for none, and
	// prevNode its node of the owner whose records build reads now.
	prev     *Zone
	prevNode *Node
}

// maxChunk is the most entries of a chunk, and maxChunk*64 the most bytes
// of a chunk of names or addresses.
const maxChunk = 1024

// next returns a new zero element of chunk, starting a chunk twice the
// size of the last one (*size) when it is full.
func next[T any](chunk *[]T, size *int) *T {
	if len(*chunk) == cap(*chunk) {
		*size = min(max(*size*2, 8), maxChunk)
		*chunk = make([]T, 0, *size)
	}
	var zero T
	*chunk = append(*chunk, zero)
	return &(*chunk)[len(*chunk)-1]
}

// maxInChunk is the longest list appendIn keeps in chunks: a longer one
// grows as any slice does, on its own. maxListChunk is the most entries
// of a chunk of lists: 32 KiB of RRset pointers, 64 KiB of records, so
// that full chunks are large objects (a smaller one with pointers carries
// a header word, and 16 KiB and the header take an 18 KiB size class:
// 12% more).
const maxInChunk, maxListChunk = maxChunk / 8, 4 * maxChunk

// appendIn returns list with vs appended, list being empty or a list
// that appendIn returned (its capacity its length). Lists live in the
// chunks of chunk, which grow as next's: a list at the end of the last
// chunk grows in place, any other moves to the end (the room it leaves is
// counted in *moved). The records of an RRset and the RRsets of a node
// mostly come together, so most lists grow in place, without the
// allocation per list and per doubling that append makes (two fifths of
// the allocations build made, on a zone of a million records).
func appendIn[T any](chunk *[]T, size *int, moved *int, list []T, vs ...T) []T {
	n, k := len(list), len(vs)
	if n+k > maxInChunk*k {
		return append(list, vs...)
	}
	c := *chunk
	if n > 0 && len(c) >= n && cap(c)-len(c) >= k && &c[len(c)-1] == &list[n-1] {
		c = append(c, vs...)
		*chunk = c
		return c[len(c)-n-k : len(c) : len(c)]
	}
	if cap(c)-len(c) < n+k {
		*size = max(min(max(*size*2, 8*k), maxListChunk*k), n+k)
		c = make([]T, 0, *size)
	}
	*moved += n
	c = append(c, list...)
	c = append(c, vs...)
	*chunk = c
	return c[len(c)-n-k : len(c) : len(c)]
}

// name returns a copy of s among the arena's names.
func (a *arena) name(s string) string {
	if a.names.Cap()-a.names.Len() < len(s) {
		a.nNames = min(max(a.nNames*2, 512), maxChunk*64)
		a.names = strings.Builder{}
		a.names.Grow(max(a.nNames, len(s)))
	}
	start := a.names.Len()
	a.names.WriteString(s)
	// Bytes a Builder has written never change: what String returned
	// stays valid as it grows within its capacity.
	return a.names.String()[start:]
}

// addAddr appends ip, the address of an A or AAAA record, to s's
// addresses: 4 bytes for A (the zone parser gives them in 16), 16 for
// AAAA.
func (a *arena) addAddr(s *RRset, ip net.IP) {
	if s.Type == dns.TypeA {
		ip = ip.To4()
	}
	s.addrs = appendIn(&a.addrs, &a.nAddrs, &a.movedAddrs, s.addrs, ip...)
	a.addrBytes += len(ip)
}

// unset gives back the room of s, an RRset that shareUnchanged replaced,
// and of its addresses, where they were the last allocated.
func (a *arena) unset(s *RRset) {
	if k := len(s.addrs); k > 0 && len(a.addrs) >= k && &a.addrs[len(a.addrs)-1] == &s.addrs[k-1] {
		a.addrs = a.addrs[:len(a.addrs)-k]
		a.addrBytes -= k
	}
	if k := len(a.sets); k > 0 && &a.sets[k-1] == s {
		a.sets[k-1] = RRset{}
		a.sets = a.sets[:k-1]
	}
}

// set returns a new RRset.
func (a *arena) set(s RRset) *RRset {
	p := next(&a.sets, &a.nSets)
	*p = s
	return p
}

// keep returns the record a zone keeps for rr (not an address record),
// the i-th of its RRset: the previous zone's own when it has the same
// record (shared), else rr itself.
func (a *arena) keep(rr dns.RR, i int) dns.RR {
	if a.prevNode != nil {
		if old := a.prevNode.Set(rr.Header().Rrtype); old != nil {
			if o := sameIn(old.rrs, rr, i); o != nil {
				return o
			}
		}
	}
	return rr
}

// sameIn returns the record of rrs that is rr (same TTL and data; the
// owner is the caller's), looking at rrs[i] first, where it is when the
// file did not change; nil when there is none, or only for types that
// cannot be told apart cheaply and exactly. Large RRsets are not scanned
// (a $GENERATE of 65536 records at one name would take quadratic time):
// a record that moved there is copied.
func sameIn(rrs []dns.RR, rr dns.RR, i int) dns.RR {
	if i < len(rrs) && same(rrs[i], rr) {
		return rrs[i]
	}
	if len(rrs) > dupScan {
		return nil
	}
	for _, o := range rrs {
		if same(o, rr) {
			return o
		}
	}
	return nil
}

// same reports whether o (a zone's record) and rr (a parsed one, its
// names in the zone's form: canonical, lowerRdataNames) have the same
// TTL and data, for the types a large zone is made of. Others are never
// the same: IsDuplicate ignores the case of names that lowerRdataNames
// leaves as written, and a record served must be the one in the file.
func same(o, rr dns.RR) bool {
	if o.Header().Ttl != rr.Header().Ttl || o.Header().Rrtype != rr.Header().Rrtype {
		return false
	}
	switch rr.(type) {
	case *dns.PTR, *dns.CNAME, *dns.NS, *dns.MX, *dns.SRV, *dns.TXT:
		return dns.IsDuplicate(o, rr)
	}
	return false
}
