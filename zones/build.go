package zones

import (
	"bytes"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// maxTTL is the largest TTL RFC 2181 section 8 allows.
const maxTTL = 1<<31 - 1

// build groups records into nodes and RRsets and checks the rules a zone
// must meet. It returns every problem it finds. partial says that records
// with syntax errors were left out, so checks for missing records are
// skipped: they would only repeat those errors.
func build(origin, path string, rrs []located, partial func(rrtype uint16, owner string) bool) (*Zone, ErrorList) {
	return buildFrom(origin, path, slices.Values(rrs), len(rrs), partial, nil)
}

// buildFrom is build of the records rrs yields, about hint of them: a zone
// parser's records go in one at a time, never all held at once. Records
// and owner names that prev (nil: none) has already are taken from it
// (LoadShared).
func buildFrom(origin, path string, rrs iter.Seq[located], hint int, partial func(rrtype uint16, owner string) bool, prev *Zone) (*Zone, ErrorList) {
	if partial == nil {
		partial = func(uint16, string) bool { return false }
	}
	// A node per eight records to start with (or as many as the zone
	// this one replaces has): the index grows from there if it must.
	nodes, gen := hint/8+1, uint32(1)
	if prev == nil || prev.Origin != origin {
		prev = nil
	} else {
		nodes, gen = prev.nodes.n, prev.gen+1
	}
	z := &Zone{Origin: origin, File: path, nodes: newNodeTable(nodes), arena: &arena{prev: prev}, gen: gen}
	var errs ErrorList
	fail := func(l located, format string, args ...any) {
		errs = append(errs, &Error{File: l.file, Line: l.line, Msg: fmt.Sprintf(format, args...)})
	}
	// where remembers the first place each RRset was seen, and at the place
	// of each NS record, for errors found after grouping. Only the slow
	// path knows lines; the fast path's errors are reported again by it.
	where := make(map[*RRset]located)
	at := make(map[dns.RR]located)
	var soaAt located
	var dups dupIndex
	var last *Node
	// RFC 2181 section 5.2: the records of an RRset have one TTL. A
	// record whose TTL differs from the first one's is a warning, given
	// once the TTL served (the last, below) is known. s.TTL is the first
	// record's until the end of build; lastTTL holds the last TTL of the
	// sets whose TTLs differ.
	type mixed struct {
		l          located
		s          *RRset
		ttl, first uint32
	}
	var mixedTTL []mixed
	lastTTL := map[*RRset]uint32{}
	checkTTL := func(s *RRset, l located) {
		ttl := l.rr.Header().Ttl
		if _, ok := lastTTL[s]; ok || ttl != s.TTL {
			if ttl != s.TTL {
				mixedTTL = append(mixedTTL, mixed{l, s, ttl, s.TTL})
			}
			lastTTL[s] = ttl
		}
	}
	for l := range rrs {
		h := l.rr.Header()
		owner := canonical(h.Name)
		lowerRdataNames(l.rr)
		if h.Class != dns.ClassINET {
			fail(l, "%s %s: class %s is not supported, only IN", h.Name, dns.TypeToString[h.Rrtype], dns.ClassToString[h.Class])
			continue
		}
		if !IsSubdomain(owner, origin) {
			fail(l, "%s %s: name is outside the zone %s", h.Name, dns.TypeToString[h.Rrtype], origin)
			continue
		}
		if h.Ttl > maxTTL {
			fail(l, "%s %s: ttl %d out of range 0..%d", h.Name, dns.TypeToString[h.Rrtype], h.Ttl, maxTTL)
			continue
		}
		if noData(l.rr) {
			// The zone parser takes "www A" for an update-style record
			// with no data, which would be served as garbage.
			fail(l, "%s %s: record has no data", h.Name, dns.TypeToString[h.Rrtype])
			continue
		}
		zonetext.SortSvcParams(l.rr)
		// A name's records mostly come together: the last node found
		// saves the index a lookup (no node was added since).
		if last == nil || last.Name != owner {
			z.shareUnchanged(last, lastTTL, dups, where)
			last = z.node(owner)
			z.arena.prevNode = nil
			if p := z.arena.prev; p != nil {
				z.arena.prevNode = p.nodes.get(owner)
			}
		}
		n := last
		owner = n.Name // one copy of each name, in the arena
		h.Name = owner
		s := n.Set(h.Rrtype)
		if s != nil && s.gen != z.gen {
			// A set shared with the previous zone (shareUnchanged) gets
			// more records: the rest goes into a copy of its own.
			c := z.arena.set(*s)
			c.Rot, c.gen = 0, z.gen
			// Clipped: the next append copies the addresses into this
			// zone's arena, even where the shared slice has room left (a
			// large set grows by append, and another zone built over the
			// same one may have written there).
			c.addrs = slices.Clip(c.addrs)
			n.Sets[slices.Index(n.Sets, s)] = c
			where[c] = where[s]
			s = c
		}
		if s == nil {
			// Its records' list grows in the arena's chunks (appendIn),
			// as does the node's list of RRsets.
			s = z.arena.set(RRset{Type: h.Rrtype, TTL: h.Ttl, name: owner, gen: z.gen})
			a := z.arena
			n.Sets = appendIn(&a.setPtrs, &a.nSetPtrs, &a.moved, n.Sets, s)
			a.listed++
			if l.line > 0 {
				where[s] = l
			}
		}
		if dups.seen(s, l.rr) {
			// RFC 2181 section 5: an RRset has no duplicates. Its TTL
			// still counts, as the last in file order (as Knot).
			checkTTL(s, l)
			continue
		}
		switch h.Rrtype {
		case dns.TypeSOA:
			if owner != origin {
				fail(l, "%s SOA: SOA record not at the zone apex %s", h.Name, origin)
				continue
			}
			if len(s.rrs) > 0 {
				fail(l, "%s SOA: more than one SOA record at the apex (first at line %d)", h.Name, soaAt.line)
				continue
			}
			soaAt = l
		case dns.TypeCNAME, dns.TypeDNAME:
			if len(s.rrs) > 0 {
				fail(l, "%s %s: more than one %s record at one name", h.Name, dns.TypeToString[h.Rrtype], dns.TypeToString[h.Rrtype])
				continue
			}
		}
		checkTTL(s, l)
		a := z.arena
		switch r := l.rr.(type) {
		case *dns.A:
			a.addAddr(s, r.A)
		case *dns.AAAA:
			a.addAddr(s, r.AAAA)
		default:
			kept := a.keep(l.rr, len(s.rrs))
			s.rrs = appendIn(&a.rrs, &a.nRRs, &a.moved, s.rrs, kept)
			a.listed++
			if l.line > 0 && h.Rrtype == dns.TypeNS {
				at[kept] = l
			}
		}
		z.count++
	}
	z.shareUnchanged(last, lastTTL, dups, where)
	// No more nodes from here (but a missing apex's), so pointers to
	// them stay valid.
	z.nodes.clip()
	for n := range z.nodes.all() {
		slices.SortFunc(n.Sets, func(a, b *RRset) int { return int(a.Type) - int(b.Type) })
		n.Sets = slices.DeleteFunc(n.Sets, func(s *RRset) bool { return s.Len() == 0 })
		for _, s := range n.Sets {
			// RFC 2181 section 5.2: the records of an RRset have one TTL.
			// For a mixed set in the file, the last record's in file
			// order, as Knot DNS serves it (NSD keeps each record's
			// own, BIND the first's); build warns about it. A record
			// that changes is copied first: it may be prev's, which
			// still serves.
			if ttl, ok := lastTTL[s]; ok {
				s.TTL = ttl
			}
			for i, rr := range s.rrs {
				if rr.Header().Ttl != s.TTL {
					s.rrs[i] = dns.Copy(rr)
					s.rrs[i].Header().Ttl = s.TTL
				}
			}
		}
		if n.Set(dns.TypeCNAME) != nil {
			n.flags |= hasCNAME
		}
		if n.Set(dns.TypeDNAME) != nil {
			n.flags |= hasDNAME
		}
		n.Cut = n.Name != origin && n.Set(dns.TypeNS) != nil
		if c := n.cname(); c != nil {
			for _, s := range n.Sets {
				if s.Type != dns.TypeCNAME && s.Type != dns.TypeRRSIG && s.Type != dns.TypeNSEC {
					fail(where[c], "%s CNAME: a CNAME cannot share its name with other data (%s at line %d)", n.Name, dns.TypeToString[s.Type], where[s].line)
					break
				}
			}
		}
	}
	// RFC 6672 section 2.3: the names below a DNAME are never answered
	// from the zone (the DNAME rewrites them); NSD and Knot refuse such a
	// zone, and so does dnslb, at the first record of each such name.
	for n := range z.nodes.all() {
		if len(n.Sets) == 0 || n.Name == origin {
			continue
		}
		for p := parentName(n.Name); IsSubdomain(p, origin); p = parentName(p) {
			if a := z.nodes.get(p); a != nil && a.flags&hasDNAME != 0 {
				first := n.Sets[0]
				for _, s := range n.Sets {
					if where[s].line < where[first].line {
						first = s
					}
				}
				fail(where[first], "%s %s: name below the DNAME at %s, which rewrites every name under it (RFC 6672 section 2.3)",
					n.Name, dns.TypeToString[first.Type], p)
				break
			}
			if p == origin || p == "." {
				break
			}
		}
	}
	// Checks for records that are absent are skipped for the types that a
	// line which did not parse may have held (partial): they would only
	// report that mistake again.
	z.Apex = z.nodes.get(origin)
	if z.Apex == nil {
		z.Apex = z.node(origin)
	}
	if s := z.Apex.Set(dns.TypeSOA); s != nil {
		z.SOA = s.rrs[0].(*dns.SOA)
	} else if !partial(dns.TypeSOA, origin) {
		errs = append(errs, &Error{File: path, Msg: fmt.Sprintf("no SOA record at the zone apex %s", origin)})
	}
	if z.Apex.Set(dns.TypeNS) == nil && !partial(dns.TypeNS, origin) {
		errs = append(errs, &Error{File: soaAt.file, Line: soaAt.line, Msg: fmt.Sprintf("no NS records at the zone apex %s", origin)})
	}
	errs = append(errs, z.link(at, partial)...)
	if len(errs) > 0 || z.SOA == nil {
		return nil, errs
	}
	for _, m := range mixedTTL {
		z.warnings = append(z.warnings, &Error{File: m.l.file, Line: m.l.line,
			Msg: fmt.Sprintf("%s %s: TTL %d differs from %d of the first record; serving %d, the last record's, for the whole RRset",
				m.s.Name(), dns.TypeToString[m.s.Type], m.ttl, m.first, m.s.TTL)})
	}
	z.warnings.sort()
	z.compact()
	z.counters()
	neg := dns.Copy(z.SOA).(*dns.SOA)
	neg.Hdr.Ttl = min(neg.Hdr.Ttl, neg.Minttl)
	z.soaNeg = &RRset{Type: dns.TypeSOA, TTL: neg.Hdr.Ttl, rrs: []dns.RR{neg}, name: neg.Hdr.Name}
	return z, nil
}

// shareUnchanged replaces each address set of n, whose records build has
// read (the next record is another name's), that is the same as the
// previous zone's set at that name (arena.prevNode: same type, TTL and
// addresses in the same order) by that set itself, and gives back the
// room the new one took when it was the last thing allocated, as it is
// when a name's records come together in the file. A zone reloaded with
// few changes then holds little more than its nodes twice: the address
// sets are four fifths of a zone of addresses. A set with records of
// different TTLs is never shared (its TTL is settled at the end). n nil,
// or no previous node at n's name, shares nothing.
func (z *Zone) shareUnchanged(n *Node, mixed map[*RRset]uint32, dups dupIndex, where map[*RRset]located) {
	a := z.arena
	if n == nil || a.prevNode == nil {
		return
	}
	for i := len(n.Sets) - 1; i >= 0; i-- {
		s := n.Sets[i]
		if s.gen != z.gen || addrSize(s.Type) == 0 {
			continue
		}
		old := a.prevNode.Set(s.Type)
		if old == nil || old.TTL != s.TTL || !bytes.Equal(old.addrs, s.addrs) {
			continue
		}
		if _, ok := mixed[s]; ok {
			continue
		}
		n.Sets[i] = old
		if l, ok := where[s]; ok {
			where[old] = l
			delete(where, s)
		}
		delete(dups, s)
		a.unset(s)
	}
}

// node returns the node for owner, creating it and any empty
// non-terminals between it and the apex.
func (z *Zone) node(owner string) *Node {
	if n := z.nodes.get(owner); n != nil {
		return n
	}
	name := ""
	if p := z.arena.prev; p != nil {
		if pn := p.nodes.get(owner); pn != nil {
			name = pn.Name // prev's copy: shared, as its records are
		}
	}
	if name == "" {
		name = z.arena.name(owner)
	}
	owner = name
	// The parents' names are the ends of this one's.
	for name := owner; name != z.Origin; {
		i := NextLabel(name, 0)
		parent := name[i:]
		if parent == "" {
			parent = "."
		}
		if z.nodes.get(parent) != nil {
			break
		}
		z.nodes.add(parent)
		name = parent
	}
	return z.nodes.add(owner) // last: add moves the nodes before it
}

// NextLabel returns the index after the label of name that starts at i:
// where the parent name starts. Escaped dots ("a\.b") do not end a label.
func NextLabel(name string, i int) int {
	for ; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '.':
			return i + 1
		}
	}
	return len(name)
}

// link sets wildcard pointers, checks that NS targets inside the zone have
// addresses, and precomputes additional-section data.
// A name server whose address records may be on a line that did not
// parse (partial) is not reported.
func (z *Zone) link(at map[dns.RR]located, partial func(rrtype uint16, owner string) bool) ErrorList {
	var errs ErrorList
	z.wilds = map[*Node]*Node{}
	for n := range z.nodes.all() {
		if strings.HasPrefix(n.Name, "*.") {
			if p := z.nodes.get(n.Name[2:]); p != nil {
				z.wilds[p] = n
				p.flags |= hasWild
			}
		}
	}
	z.adds = map[*RRset][]Item{}
	for n := range z.nodes.all() {
		for _, s := range n.Sets {
			switch s.Type {
			case dns.TypeNS, dns.TypeMX, dns.TypeSRV, dns.TypeSVCB, dns.TypeHTTPS:
			default:
				continue
			}
			for _, rr := range s.rrs {
				target := Lower(additionalTarget(rr))
				if target == "" || !IsSubdomain(target, z.Origin) {
					continue
				}
				t, owner := z.nodes.get(target), "" // owner: the target, when a wildcard answers for it
				if t == nil && (s.Type == dns.TypeMX || s.Type == dns.TypeSRV) {
					// A wildcard may answer for the target (RFC 4592):
					// NSD and Knot add what it would answer. (For SVCB
					// and HTTPS NSD adds nothing, and Knot adds the
					// wildcard's records under its own "*" name.)
					if t = z.wildcardFor(target); t != nil {
						owner = target
					}
				}
				var sets []*RRset
				if t != nil {
					sets = appendNonNil(sets, t.Set(dns.TypeA), t.Set(dns.TypeAAAA))
					if s.Type == dns.TypeSVCB || s.Type == dns.TypeHTTPS {
						// RFC 9460 section 4.1: the target's own SVCB/HTTPS too
						// (as Knot does, even when the target is the owner).
						sets = appendNonNil(sets, t.Set(s.Type))
					}
				}
				if len(sets) == 0 && s.Type == dns.TypeNS {
					if partial(dns.TypeA, target) || partial(dns.TypeAAAA, target) {
						continue
					}
					l := at[rr]
					msg := "name server inside the zone has no A or AAAA record"
					if z.below(target) != nil {
						msg = "glue missing: name server below the delegation has no A or AAAA record"
					}
					errs = append(errs, &Error{File: l.file, Line: l.line,
						Msg: fmt.Sprintf("%s NS %s: %s", rr.Header().Name, target, msg)})
					continue
				}
				for _, a := range sets {
					if it := (Item{Set: a, Owner: owner}); !slices.Contains(z.adds[s], it) {
						z.adds[s] = append(z.adds[s], it)
					}
				}
			}
		}
	}
	// A referral's glue (addresses of name servers below a delegation)
	// goes before the addresses of name servers that are data of this
	// zone: when the reply must shrink, truncation keeps additional RRsets
	// in order while they fit, and NSD and Knot keep the glue.
	for n := range z.nodes.all() {
		if ns := n.Set(dns.TypeNS); n.Cut && ns != nil {
			slices.SortStableFunc(z.adds[ns], func(a, b Item) int {
				ga, gb := z.below(a.Name()) != nil, z.below(b.Name()) != nil
				switch {
				case ga && !gb:
					return -1
				case gb && !ga:
					return 1
				}
				return 0
			})
		}
	}
	return errs
}

// wildcardFor returns, for a name with no node of its own, the wildcard
// node that answers it; or nil when no wildcard matches (RFC 4592: the
// closest encloser's "*" child), or the name is below a delegation. Its
// RRsets keep the wildcard's name, by which health and policy (a
// [name."*.…"] table) know them; the answer serves them under name
// (Item.Owner).
func (z *Zone) wildcardFor(name string) *Node {
	if z.below(name) != nil {
		return nil
	}
	var w *Node
	for p := parentName(name); IsSubdomain(p, z.Origin); p = parentName(p) {
		if n := z.nodes.get(p); n != nil {
			w = z.Wild(n) // the closest encloser decides, wildcard or not
			break
		}
		if p == z.Origin || p == "." {
			break
		}
	}
	return w
}

// parentName is the name one label up: "." above a top-level name.
func parentName(name string) string {
	if p := name[NextLabel(name, 0):]; p != "" {
		return p
	}
	return "."
}

// below returns the delegation point at or above name, or nil.
func (z *Zone) below(name string) *Node {
	for name != z.Origin && len(name) > len(z.Origin) {
		if n := z.nodes.get(name); n != nil && n.Cut {
			return n
		}
		name = name[NextLabel(name, 0):]
	}
	return nil
}

func additionalTarget(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.NS:
		return canonical(r.Ns)
	case *dns.MX:
		return canonical(r.Mx)
	case *dns.SRV:
		return canonical(r.Target)
	case *dns.SVCB:
		return canonical(svcbTarget(r.Target, r.Hdr.Name))
	case *dns.HTTPS:
		return canonical(svcbTarget(r.Target, r.Hdr.Name))
	}
	return ""
}

// lowerRdataNames puts the domain names in rr's data in lower case (and
// in the form names read off the wire have, canonical), for the types
// whose names RFC 4034 section 6.2 lowers in canonical form: NSD and Knot
// serve them so, and names in one case compress against each other and
// the question (handle packs it in lower case) as theirs do.
func lowerRdataNames(rr dns.RR) {
	switch r := rr.(type) {
	case *dns.NS:
		r.Ns = canonical(r.Ns)
	case *dns.CNAME:
		r.Target = canonical(r.Target)
	case *dns.DNAME:
		r.Target = canonical(r.Target)
	case *dns.SOA:
		r.Ns, r.Mbox = canonical(r.Ns), canonical(r.Mbox)
	case *dns.PTR:
		r.Ptr = canonical(r.Ptr)
	case *dns.MX:
		r.Mx = canonical(r.Mx)
	case *dns.SRV:
		r.Target = canonical(r.Target)
	case *dns.NAPTR:
		r.Replacement = canonical(r.Replacement)
	case *dns.RP:
		r.Mbox, r.Txt = canonical(r.Mbox), canonical(r.Txt)
	case *dns.KX:
		r.Exchanger = canonical(r.Exchanger)
	case *dns.AFSDB:
		r.Hostname = canonical(r.Hostname)
	case *dns.MINFO:
		r.Rmail, r.Email = canonical(r.Rmail), canonical(r.Email)
	case *dns.RT:
		r.Host = canonical(r.Host)
	case *dns.PX:
		r.Map822, r.Mapx400 = canonical(r.Map822), canonical(r.Mapx400)
	}
}

// canonical is Lower for a name as written in a zone file, with escapes
// written the one way a name read off the wire has them: "\065BC" is
// "abc", "sp\032ace" is "sp\ ace", "dollar\$" is "dollar$". Zones keep
// owners and the targets that lookups follow in this form, so that a
// query, whose name comes off the wire, finds them however the file
// escaped them.
func canonical(name string) string { return Lower(unescaped(name)) }

// unescaped is name with its escapes written as a name read off the wire
// has them, its letter case kept.
func unescaped(name string) string {
	if !strings.Contains(name, "\\") {
		return name
	}
	var buf [256]byte
	off, err := dns.PackDomainName(name, buf[:], 0, nil, false)
	if err != nil {
		return name
	}
	s, _, err := dns.UnpackDomainName(buf[:off], 0)
	if err != nil {
		return name
	}
	return s
}

func appendNonNil(dst []*RRset, sets ...*RRset) []*RRset {
	for _, s := range sets {
		if s != nil {
			dst = append(dst, s)
		}
	}
	return dst
}

// svcbTarget is the name whose records an SVCB/HTTPS record adds to the
// additional section. A target of "." (the owner itself, RFC 9460 section
// 2.5) adds nothing, as in Knot: the client already has the owner's data.
func svcbTarget(target, owner string) string {
	if target == "." {
		return ""
	}
	return target
}

// dupIndex finds duplicate records in large RRsets without comparing each
// new record with all the others, which made a $GENERATE of 65536 records
// at one name take minutes. Small RRsets, the common case, are scanned.
type dupIndex map[*RRset]map[string][]int

// dupScan is the RRset size up to which a linear scan is cheaper.
const dupScan = 16

// seen reports whether s already holds a duplicate of rr (RFC 2181 section
// 5: same name, class, type and data, whatever the TTL). rr has the owner,
// class and type of s's records, as build makes them.
func (d *dupIndex) seen(s *RRset, rr dns.RR) bool {
	if n := addrSize(s.Type); n > 0 {
		// An address set: its bytes are the data.
		var ip []byte
		switch r := rr.(type) {
		case *dns.A:
			ip = r.A.To4()
		case *dns.AAAA:
			ip = r.AAAA
		}
		if s.Len() < dupScan {
			for i := 0; i+n <= len(s.addrs); i += n {
				if bytes.Equal(s.addrs[i:i+n], ip) {
					return true
				}
			}
			return false
		}
		return d.index(s, string(ip), func(i int) string { return string(s.addrs[i*n : i*n+n]) }, nil)
	}
	if len(s.rrs) < dupScan {
		return slices.ContainsFunc(s.rrs, func(o dns.RR) bool { return dns.IsDuplicate(o, rr) })
	}
	// The key folds case, as IsDuplicate does for names in the data, so
	// records with equal keys are compared in full.
	return d.index(s, rdataKey(rr), func(i int) string { return rdataKey(s.rrs[i]) }, func(i int) bool { return i < len(s.rrs) && dns.IsDuplicate(s.rrs[i], rr) })
}

// index reports whether s's index holds a record with key k (and for
// which same holds, when not nil: keys that fold case), and adds it to
// the index when not (the caller then adds it to s). keyOf gives the key
// of s's i-th record, for the index made at the first call.
func (d *dupIndex) index(s *RRset, k string, keyOf func(i int) string, same func(i int) bool) bool {
	if *d == nil {
		*d = make(dupIndex)
	}
	m := (*d)[s]
	if m == nil {
		m = make(map[string][]int, s.Len())
		for i := range s.Len() {
			ki := keyOf(i)
			m[ki] = append(m[ki], i)
		}
		(*d)[s] = m
	}
	for _, i := range m[k] {
		if same == nil || same(i) {
			return true
		}
	}
	m[k] = append(m[k], s.Len())
	return false
}

// rdataKey is the record's data in presentation form, in lower case.
func rdataKey(rr dns.RR) string {
	return strings.ToLower(strings.TrimPrefix(rr.String(), rr.Header().String()))
}

// noData reports whether rr has no data at all: the zone parser returns
// such a record, as for a dynamic update, when a line ends after the type.
func noData(rr dns.RR) bool {
	// The common types without a zero record to compare with: a zone of
	// a million records made a million of those.
	switch r := rr.(type) {
	case *dns.A:
		return r.A == nil
	case *dns.AAAA:
		return r.AAAA == nil
	}
	newRR, ok := dns.TypeToRR[rr.Header().Rrtype]
	if !ok {
		return false
	}
	zero := newRR()
	*zero.Header() = *rr.Header()
	return dns.IsDuplicate(rr, zero)
}

// counters numbers every RRset of two or more records (RRset.Rot), so
// that a server can keep their round-robin counters in one array per
// zone: neighbouring RRsets' counters share cache lines, and answering
// many names touches a few lines of counters, not one line per RRset.
func (z *Zone) counters() {
	// The address sets shared with the zone this one replaces keep their
	// numbers (that zone may still be serving them); the others get the
	// numbers those leave free.
	used := map[int32]bool{}
	for node := range z.nodes.all() {
		for _, s := range node.Sets {
			if s.gen != z.gen && s.Rot > 0 {
				used[s.Rot] = true
			}
		}
	}
	var n, top int32
	for node := range z.nodes.all() {
		for _, s := range node.Sets {
			if s.Len() > 1 && s.Rot == 0 {
				for n++; used[n]; n++ {
				}
				s.Rot = n
			}
			top = max(top, s.Rot)
		}
	}
	z.rots = int(top)
}

// compact moves every RRset's record list into one slice (and the address
// sets' bytes into one, when many had moved), and lets go of
// the arena. Parsing leaves what the zone keeps spread over memory pages
// shared with its garbage (tokens, keys), so after a load or reload much
// of the heap would be pages that are partly free and cannot be given
// back: build puts names, nodes, RRsets and addresses in the arena
// as it reads them (arena.go), and the lists of records, which grow as
// records come, are packed here. A zone of 1,000,000 records held 218 MB
// of live heap in about 500 MB of pages after a reload, before either.
//
// The lists grow in chunks of the arena (appendIn), mostly in place, so
// they are dense already: they are packed again only when lists that
// moved (records of an RRset spread over the file) left more than an
// eighth of the chunks' entries behind.
func (z *Zone) compact() {
	a := z.arena
	z.arena = nil
	z.Origin = z.Apex.Name
	if a != nil && a.movedAddrs*8 > a.addrBytes {
		n := 0
		for node := range z.nodes.all() {
			for _, s := range node.Sets {
				if s.gen == z.gen {
					n += len(s.addrs)
				}
			}
		}
		addrs := make([]byte, 0, n)
		for node := range z.nodes.all() {
			for _, s := range node.Sets {
				if s.addrs != nil && s.gen == z.gen {
					start := len(addrs)
					addrs = append(addrs, s.addrs...)
					s.addrs = addrs[start:len(addrs):len(addrs)]
				}
			}
		}
	}
	if a != nil && a.moved*8 <= a.listed {
		for n := range z.nodes.all() {
			if len(n.Sets) == 0 {
				n.Sets = nil
			}
		}
		return
	}
	nRR, nSets := 0, 0
	for n := range z.nodes.all() {
		nSets += len(n.Sets)
		for _, s := range n.Sets {
			nRR += len(s.rrs)
		}
	}
	rrs := make([]dns.RR, 0, nRR)
	sets := make([]*RRset, 0, nSets)
	for n := range z.nodes.all() {
		for _, s := range n.Sets {
			if s.rrs != nil {
				start := len(rrs)
				rrs = append(rrs, s.rrs...)
				s.rrs = rrs[start:len(rrs):len(rrs)]
			}
		}
		if len(n.Sets) == 0 {
			n.Sets = nil
			continue
		}
		start := len(sets)
		sets = append(sets, n.Sets...)
		n.Sets = sets[start:len(sets):len(sets)]
	}
}
