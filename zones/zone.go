package zones

import (
	"iter"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// RRset is the records of one owner name and type. Its records are shared by
// every query that reads the zone: nobody may change them after Load.
//
// An A or AAAA RRset holds no records: its addresses are packed in addrs,
// 4 or 16 bytes each in file order, and records are made from them where
// they are needed (AppendRR, RRs). A zone loaded over the one it replaces
// (LoadShared) serves the address sets that did not change as they are,
// shared with it. Most records of a large zone are
// addresses, and a miekg/dns record is 56 bytes and an interface slot of
// 16 for 4 or 16 bytes of data, scanned by every garbage collection. The
// others keep the parser's records, which carry the owner name too.
type RRset struct {
	Type uint16
	TTL  uint32

	// Rot numbers the RRsets that rotate (A and AAAA sets of two or
	// more records, and any other set of two or more: the server decides
	// what it rotates) within the zone, from 1; 0 for an RRset of one
	// record. The zone holds no serving state: a server keeps one
	// round-robin counter per number (Zone.Rotations of them), beside
	// the zone.
	Rot int32

	// gen is the generation (Zone.gen) of the zone that built s: a
	// later zone (LoadShared) serves an unchanged address set of the
	// zone it replaces as it is, and never changes a set of an earlier
	// generation.
	gen uint32

	rrs   []dns.RR // the records (nil for an address set)
	addrs []byte   // an address set's addresses
	name  string   // the owner, lower case and fully qualified
}

// Name is the owner of s, lower case and fully qualified.
func (s *RRset) Name() string { return s.name }

// addrSize is the length of one address of an A or AAAA RRset, 0 for
// other types: the RRsets that keep addresses instead of records.
func addrSize(t uint16) int {
	switch t {
	case dns.TypeA:
		return net.IPv4len
	case dns.TypeAAAA:
		return net.IPv6len
	}
	return 0
}

// Len is the number of records of s.
func (s *RRset) Len() int {
	if n := addrSize(s.Type); n > 0 {
		return len(s.addrs) / n
	}
	return len(s.rrs)
}

// Addr returns the address of the i-th record of an A or AAAA RRset (the
// zero Addr for other types).
func (s *RRset) Addr(i int) netip.Addr {
	switch s.Type {
	case dns.TypeA:
		return netip.AddrFrom4([4]byte(s.addrs[4*i : 4*i+4]))
	case dns.TypeAAAA:
		return netip.AddrFrom16([16]byte(s.addrs[16*i : 16*i+16]))
	}
	return netip.Addr{}
}

// Index returns the index of the record of an A or AAAA RRset whose
// address is a, or -1.
func (s *RRset) Index(a netip.Addr) int {
	if addrSize(s.Type) == 0 {
		return -1
	}
	for i := range s.Len() {
		if s.Addr(i) == a {
			return i
		}
	}
	return -1
}

// RRs returns the records of s, in order. For an A or AAAA RRset they are
// made anew at each call: for listing, transfers, signing and tests; the
// query path appends them with AppendRR, which allocates nothing. The
// caller must not change the records of other types, which are the
// zone's own.
func (s *RRset) RRs() []dns.RR {
	if addrSize(s.Type) == 0 {
		return s.rrs
	}
	return s.AppendRRs(make([]dns.RR, 0, s.Len()), nil)
}

// AppendRR appends the i-th record of s to dst. An A or AAAA record is
// made in sc, when not nil (the records made there are good until
// sc.Reset), else allocated; its address is the zone's own bytes, which
// nobody may change. Other records are the zone's own.
func (s *RRset) AppendRR(dst []dns.RR, i int, sc *Scratch) []dns.RR {
	hdr := dns.RR_Header{Name: s.name, Rrtype: s.Type, Class: dns.ClassINET, Ttl: s.TTL}
	switch s.Type {
	case dns.TypeA:
		ip := net.IP(s.addrs[4*i : 4*i+4 : 4*i+4])
		if sc == nil {
			return append(dst, &dns.A{Hdr: hdr, A: ip})
		}
		sc.a = append(sc.a, dns.A{Hdr: hdr, A: ip})
		return append(dst, &sc.a[len(sc.a)-1])
	case dns.TypeAAAA:
		ip := net.IP(s.addrs[16*i : 16*i+16 : 16*i+16])
		if sc == nil {
			return append(dst, &dns.AAAA{Hdr: hdr, AAAA: ip})
		}
		sc.aaaa = append(sc.aaaa, dns.AAAA{Hdr: hdr, AAAA: ip})
		return append(dst, &sc.aaaa[len(sc.aaaa)-1])
	}
	return append(dst, s.rrs[i])
}

// AppendRRs appends every record of s to dst, in order, as AppendRR.
func (s *RRset) AppendRRs(dst []dns.RR, sc *Scratch) []dns.RR {
	if addrSize(s.Type) == 0 {
		return append(dst, s.rrs...)
	}
	for i := range s.Len() {
		dst = s.AppendRR(dst, i, sc)
	}
	return dst
}

// Scratch holds the A and AAAA records made for one reply (AppendRR).
// Reset lets them be made again: a record from before the reset may then
// change, so nothing may keep one past the reply it was made for.
type Scratch struct {
	a    []dns.A
	aaaa []dns.AAAA
}

// Reset empties sc, keeping its room.
func (sc *Scratch) Reset() {
	clear(sc.a)
	clear(sc.aaaa)
	sc.a, sc.aaaa = sc.a[:0], sc.aaaa[:0]
}

// Node is an owner name of the zone: a name with records, or an empty
// non-terminal (no records, but names below it).
type Node struct {
	Name  string
	Sets  []*RRset // sorted by type
	Cut   bool     // NS records below the apex: a delegation point
	flags uint8    // hasCNAME, hasDNAME, hasWild
}

// Node flags: the node has a CNAME or a DNAME RRset (looked for on every
// lookup step, so a bit saves a scan of the node's sets), or a "*" child
// (in Zone.wilds).
const (
	hasCNAME = 1 << iota
	hasDNAME
	hasWild
)

// cname returns the node's CNAME RRset, or nil.
func (n *Node) cname() *RRset {
	if n.flags&hasCNAME == 0 {
		return nil
	}
	return n.Set(dns.TypeCNAME)
}

// dname returns the node's DNAME RRset, or nil.
func (n *Node) dname() *RRset {
	if n.flags&hasDNAME == 0 {
		return nil
	}
	return n.Set(dns.TypeDNAME)
}

// Set returns the RRset of type t, or nil.
func (n *Node) Set(t uint16) *RRset {
	for _, s := range n.Sets {
		if s.Type == t {
			return s
		}
	}
	return nil
}

// Zone is one validated, immutable zone.
type Zone struct {
	Origin string // lower case, fully qualified
	File   string
	SOA    *dns.SOA
	Apex   *Node
	nodes  nodeTable
	arena  *arena // while build runs

	// adds holds the A and AAAA RRsets (and for SVCB and HTTPS their own
	// type) that RFC 1034 additional-section processing adds for the
	// targets of an NS, MX, SRV, SVCB or HTTPS RRset: few RRsets have
	// any, so they are kept here rather than in every RRset.
	// An RRset a wildcard gives for a target (RFC 4592) is the
	// wildcard's own, with the target as Item.Owner.
	adds map[*RRset][]Item
	// wilds holds each node's "*" child, for wildcard synthesis (RFC
	// 4592), for the few nodes that have one (hasWild).
	wilds map[*Node]*Node

	// soaNeg is the SOA RRset with the negative-caching TTL of RFC 2308
	// section 3 (min of the SOA TTL and MINIMUM), for NXDOMAIN and NODATA.
	soaNeg *RRset
	count  int
	rots   int    // RRsets numbered by RRset.Rot
	gen    uint32 // the zone's generation: one more than the zone it replaced (LoadShared)

	warnings ErrorList
}

// Warnings returns what is odd about the zone but does not stop it from
// loading (records of one RRset with different TTLs), in line order.
func (z *Zone) Warnings() ErrorList { return z.warnings }

// Rotations is how many RRsets of the zone have a number in RRset.Rot:
// the size of a table of round-robin counters indexed by Rot-1.
func (z *Zone) Rotations() int { return z.rots }

// Serial is the SOA serial.
func (z *Zone) Serial() uint32 { return z.SOA.Serial }

// Len is the number of records in the zone.
func (z *Zone) Len() int { return z.count }

// Node returns the node for a lower-case fully qualified name, or nil.
func (z *Zone) Node(name string) *Node { return z.nodes.get(name) }

// Nodes calls f for every node, in no particular order.
func (z *Zone) Nodes(f func(*Node)) {
	for n := range z.nodes.all() {
		f(n)
	}
}

// Wild returns the "*" child of n, for wildcard synthesis (RFC 4592), or
// nil.
func (z *Zone) Wild(n *Node) *Node {
	if n.flags&hasWild == 0 {
		return nil
	}
	return z.wilds[n]
}

// Additional returns the RRsets that additional-section processing adds
// to an answer or referral of s (RFC 1034 section 4.3.2, RFC 9460
// section 4.1); nil for most.
func (z *Zone) Additional(s *RRset) []Item {
	switch s.Type {
	case dns.TypeNS, dns.TypeMX, dns.TypeSRV, dns.TypeSVCB, dns.TypeHTTPS:
		return z.adds[s]
	}
	return nil
}

// Records returns every record of the zone in canonical-ish order (by name,
// then type): for listing and tests, not for the query path. A and AAAA
// records are made anew: a large zone's transfer walks Sets instead.
func (z *Zone) Records() []dns.RR {
	out := make([]dns.RR, 0, z.count)
	for s := range z.Sets() {
		out = s.AppendRRs(out, nil)
	}
	return out
}

// Sets yields every RRset of the zone by name, then type: the order of
// Records, without holding the records.
func (z *Zone) Sets() iter.Seq[*RRset] {
	return func(yield func(*RRset) bool) {
		nodes := make([]*Node, 0, z.nodes.n)
		for n := range z.nodes.all() {
			nodes = append(nodes, n)
		}
		slices.SortFunc(nodes, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
		for _, n := range nodes {
			for _, s := range n.Sets {
				if !yield(s) {
					return
				}
			}
		}
	}
}

// Lower returns s in lower case, without allocating when it already is.
// Zones keep names in lower case; look them up with Lower(name).
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// IsSubdomain reports whether child is parent or below it. Both are lower
// case and fully qualified.
func IsSubdomain(child, parent string) bool {
	if parent == "." {
		return true
	}
	if len(child) < len(parent) || child[len(child)-len(parent):] != parent {
		return false
	}
	return len(child) == len(parent) || child[len(child)-len(parent)-1] == '.' && !escaped(child, len(child)-len(parent)-1)
}

// escaped reports whether the byte at i is preceded by an odd number of
// backslashes (so a "." there is part of a label, not a separator).
func escaped(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// NegativeSOA is the SOA record for negative answers, its TTL the minimum
// of the SOA TTL and MINIMUM (RFC 2308 section 3).
func (z *Zone) NegativeSOA() []dns.RR { return z.soaNeg.rrs }
