package zones

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// RRset is the records of one owner name and type. Its records are shared by
// every query that reads the zone: nobody may change them after Load.
type RRset struct {
	Name string // owner, lower case, fully qualified
	Type uint16
	TTL  uint32
	RRs  []dns.RR

	// Additional holds the A and AAAA RRsets of this zone that RFC 1034
	// additional-section processing adds for NS, MX and SRV targets.
	Additional []*RRset

	// Rot numbers the RRsets that rotate (A and AAAA sets of two or
	// more records, and any other set of two or more: the server decides
	// what it rotates) within the zone, from 1; 0 for an RRset of one
	// record. The zone holds no serving state: a server keeps one
	// round-robin counter per number (Zone.Rotations of them), beside
	// the zone.
	Rot int
}

// Node is an owner name of the zone: a name with records, or an empty
// non-terminal (no records, but names below it).
type Node struct {
	Name  string
	Sets  []*RRset // sorted by type
	Cut   bool     // NS records below the apex: a delegation point
	Wild  *Node    // the "*" child, for wildcard synthesis (RFC 4592)
	cname *RRset
	dname *RRset
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
	nodes  map[string]*Node
	arena  *arena // while build runs

	// soaNeg is the SOA RRset with the negative-caching TTL of RFC 2308
	// section 3 (min of the SOA TTL and MINIMUM), for NXDOMAIN and NODATA.
	soaNeg *RRset
	count  int
	rots   int // RRsets numbered by RRset.Rot

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
func (z *Zone) Node(name string) *Node { return z.nodes[name] }

// Nodes calls f for every node, in no particular order.
func (z *Zone) Nodes(f func(*Node)) {
	for _, n := range z.nodes {
		f(n)
	}
}

// Records returns every record of the zone in canonical-ish order (by name,
// then type): for listing, not for the query path.
func (z *Zone) Records() []dns.RR {
	names := make([]string, 0, len(z.nodes))
	for k := range z.nodes {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []dns.RR
	for _, k := range names {
		for _, s := range z.nodes[k].Sets {
			out = append(out, s.RRs...)
		}
	}
	return out
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
func (z *Zone) NegativeSOA() []dns.RR { return z.soaNeg.RRs }
