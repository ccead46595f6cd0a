package policy

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
)

// Family is the address family a query asks for.
type Family uint8

const (
	FamilyV4 Family = 4 // qtype A
	FamilyV6 Family = 6 // qtype AAAA
)

// Query is what selection needs to know about one query.
type Query struct {
	// Client is the address to locate: the ECS address when the query had
	// EDNS Client Subnet, else the source address. IPv4-mapped addresses
	// must already be unmapped.
	Client netip.Addr
	// ECS is true when Client came from EDNS Client Subnet, with
	// SourcePrefix its SOURCE PREFIX-LENGTH.
	ECS          bool
	SourcePrefix int
	Family       Family
	// Pinned makes a round-robin pick use rotation Pin (taken modulo the
	// number of candidates) instead of advancing the shared counter: the
	// precomputed replies fill a rotation whose counter step they already
	// took.
	Pinned bool
	Pin    int
	// Choices, when set, is the caller's memo of geo choices (see
	// Choices); only the memo's hits pass one.
	Choices *Choices
}

// Health tells whether an address is up. It must be cheap and safe for
// concurrent use: selection calls it for every candidate address.
type Health interface {
	Up(addr netip.Addr) bool
}

// Drainer is a Health that also knows drained addresses: never served,
// not even by the when_all_down fallback. Select checks for it only on
// that fallback path.
type Drainer interface {
	Drained(addr netip.Addr) bool
}

// AllUp is a Health where every address is up.
type AllUp struct{}

// Up implements Health.
func (AllUp) Up(netip.Addr) bool { return true }

// AllDownAction is what to answer when every address of a name is down.
type AllDownAction uint8

const (
	ServeAll   AllDownAction = iota // answer every address of the family, ignoring health
	Servfail                        // answer SERVFAIL
	Nodata                          // answer NOERROR with no records
	ServeGroup                      // answer the addresses of one group, ignoring health
)

// Decision is the result of Policy.Select.
type Decision struct {
	// Addrs are the addresses to answer, in order; they alias the out
	// buffer passed to Select.
	Addrs []netip.Addr
	// Scope is the ECS SCOPE PREFIX-LENGTH: how many leading bits of the
	// client address the answer depends on (0 when it doesn't depend on
	// the client). It may be larger than the source prefix length
	// (RFC 7871 section 7.2.1).
	Scope int
	// Group is the chosen group, "" for all addresses.
	Group string
	// TTL overrides the answer's TTL when HasTTL is set.
	TTL    uint32
	HasTTL bool
	// AllDown is set when no address of the family is up. Addrs then holds
	// what Action says to serve (every address for ServeAll, the group's for
	// ServeGroup, none for Servfail and Nodata).
	AllDown bool
	Action  AllDownAction
	// Rotations is how many orders a round-robin pick could have given
	// (the number of candidates; 0 when the pick was not a round-robin
	// over two or more), and Rotation the one it gave.
	Rotations, Rotation int
}

// Policy is a compiled, validated NameConfig. It is immutable apart from the
// round-robin counter and safe for concurrent use.
type Policy struct {
	owner     string // FQDN
	sel       selectKind
	pick      pickKind
	max       int
	ttl       uint32
	hasTTL    bool
	action    AllDownAction
	downGroup int // group index for ServeGroup
	has4      bool
	has6      bool

	all    group   // every address of the name, in zone order
	groups []group // sorted by name
	dflt   int     // default group index, -1 for all
	order  []int   // failover chain / nearest fallback order

	geo geoRules

	wm        watermarks // on the smoothed share of capacity
	tolerance float64    // fastest: the band above the fastest RTT

	rr atomic.Uint64 // round-robin counter

	seq uint64 // this policy among all compiled in the process (Choices' key)
}

type group struct {
	name    string
	addrs   []netip.Addr
	weights []uint32
	hashes  []uint64 // per-address hash for sticky
	lat     float64  // radians
	lon     float64
	hasLoc  bool
}

type selectKind uint8

const (
	selectNone selectKind = iota
	selectGeo
	selectNearest
	selectFailover
)

var selectNames = []string{"none", "geo", "nearest", "failover"}

type pickKind uint8

const (
	pickRoundRobin pickKind = iota
	pickRandom
	pickWeighted
	pickSticky
	pickLeastLoaded
	pickFastest
)

var pickNames = []string{"round-robin", "random", "weighted", "sticky", "least-loaded", "fastest"}

// maxGroups bounds the groups of one name, so that nearest can track tried
// groups in a uint64.
const maxGroups = 64

// ClientDependent reports whether the answer can depend on who asks: a geo
// or nearest select, or a sticky pick.
func (p *Policy) ClientDependent() bool {
	return p.sel == selectGeo || p.sel == selectNearest || p.hashed()
}

// hashed tells whether the pick hashes the client subnet.
func (p *Policy) hashed() bool {
	return p.pick == pickSticky || p.pick == pickLeastLoaded || p.pick == pickFastest
}

// Deterministic reports whether the answer is fixed by the client, the
// health and the round-robin counter alone: not a random or weighted pick.
func (p *Policy) Deterministic() bool {
	return p.pick == pickRoundRobin || p.hashed()
}

// NextRotation advances the round-robin counter as a pick over n
// candidates does, and returns the rotation it gives.
func (p *Policy) NextRotation(n int) int {
	return int((p.rr.Add(1) - 1) % uint64(n))
}

// Owner returns the owner name the policy was compiled for, as an FQDN.
func (p *Policy) Owner() string { return p.owner }

// NumAddrs returns the number of addresses of the name. A buffer of that
// capacity passed to Select never grows.
func (p *Policy) NumAddrs() int { return len(p.all.addrs) }

// Addr returns the name's address i, in zone order (0 <= i < NumAddrs).
func (p *Policy) Addr(i int) netip.Addr { return p.all.addrs[i] }

// AddrIndex returns the index of address a for Addr, or -1.
func (p *Policy) AddrIndex(a netip.Addr) int {
	for i, b := range p.all.addrs {
		if a == b {
			return i
		}
	}
	return -1
}

// WhenAllDown returns the configured all-down action, and the group name for
// ServeGroup.
func (p *Policy) WhenAllDown() (AllDownAction, string) {
	if p.action == ServeGroup {
		return ServeGroup, p.groups[p.downGroup].name
	}
	return p.action, ""
}

// Select chooses the answer for q: the select step picks a group (falling
// through groups with no healthy address of the family), the pick step
// orders the group's healthy addresses, and MaxAnswers trims them. The
// addresses are appended to out[:0]; pass a buffer of capacity NumAddrs() to
// keep Select allocation-free. loc may be nil (no GeoIP data); r is used by
// the random and weighted picks.
//
// When the name has no address of the family at all, Addrs is empty and
// AllDown is false: the core answers as for any name without such records.
func (p *Policy) Select(q *Query, health Health, loc Locator, r *rand.Rand, out []netip.Addr) Decision {
	return p.run(q, health, loc, r, out, nil)
}

// stackCands is how many candidate addresses selection tracks without
// allocating; larger groups still work, with one allocation.
const stackCands = 128

// run is the selection shared by Select and Explain; tr is nil on the hot
// path and every use of it is guarded, so tracing costs nothing there.
func (p *Policy) run(q *Query, health Health, loc Locator, r *rand.Rand, out []netip.Addr, tr *trace) Decision {
	d := Decision{Addrs: out[:0], TTL: p.ttl, HasTTL: p.hasTTL}
	if (q.Family == FamilyV6 && !p.has6) || (q.Family != FamilyV6 && !p.has4) {
		if tr != nil {
			tr.add("%s has no address of the family: no data", p.owner)
		}
		return d
	}
	var buf [stackCands]uint16
	gi, cands, scope := p.choose(q, health, loc, buf[:0], tr)
	if gi == noGroup {
		// Asserted here and at the weighted picks only: an assertion to
		// an interface type costs an itab lookup the others need not pay.
		lv, _ := health.(Loads)
		if un := unshed(lv); un != nil {
			// Shedding must not empty a name: with every address up
			// but shed, the least loaded of the chosen group stays.
			if tr != nil {
				tr.add("every address up is shed: serving the least loaded")
			}
			gi, cands, scope = p.choose(q, un, loc, cands, tr)
			if gi != noGroup {
				cands = leastLoaded(p.group(gi), cands, lv)
			}
		}
	}
	if gi == noGroup {
		d.AllDown, d.Action = true, p.action
		dr, _ := health.(Drainer)
		d.Addrs = p.allDown(q.Family, dr, d.Addrs)
		if tr != nil {
			tr.add("every address is down: when_all_down = %s, serving %v", p.actionName(), slices.Clone(d.Addrs))
		}
		return d
	}
	g := p.group(gi)
	d.Group = g.name
	switch p.pick {
	case pickSticky:
		bits := stickyBits(q)
		scope = max(scope, bits)
		d.Addrs = p.pickSticky(g, cands, q.Client, bits, d.Addrs, tr)
	case pickLeastLoaded, pickFastest:
		bits := stickyBits(q)
		scope = max(scope, bits)
		lv, _ := health.(Loads)
		d.Addrs = p.pickRendezvous(g, cands, lv, q.Client, bits, d.Addrs, tr)
	default:
		var rot int
		var lv Loads
		if p.pick == pickWeighted {
			if l, ok := health.(Loads); ok && l.AnyLoad() {
				lv = l
			}
		}
		d.Addrs, rot = p.pickOrder(g, cands, q, lv, r, d.Addrs, tr)
		if p.pick == pickRoundRobin && len(cands) > 1 {
			d.Rotations, d.Rotation = len(cands), rot
		}
	}
	if q.ECS && q.SourcePrefix == 0 {
		// The resolver asked for an answer not tailored to any client
		// (RFC 7871 section 7.1.2): the answer is computed for 0.0.0.0/0
		// and the scope must be 0.
		scope = 0
	}
	d.Scope = scope
	if tr != nil {
		tr.add("answer %v, ECS scope /%d", slices.Clone(d.Addrs), d.Scope) // a copy: out stays on the caller's stack
	}
	return d
}

// noGroup means no candidate group had a healthy address; allGroup stands
// for every address of the name.
const (
	noGroup  = -2
	allGroup = -1
)

func (p *Policy) group(i int) *group {
	if i == allGroup {
		return &p.all
	}
	return &p.groups[i]
}

// choose runs the select step: it tries candidate groups in order and
// returns the first with a healthy address of the family, the positions of
// those addresses in the group, and the ECS scope the choice depends on.
func (p *Policy) choose(q *Query, health Health, loc Locator, cands []uint16, tr *trace) (int, []uint16, int) {
	switch p.sel {
	case selectFailover:
		for _, gi := range p.order {
			if c, ok := p.try(gi, q.Family, health, cands, reason{kind: "failover"}, tr); ok {
				return gi, c, 0
			}
		}
		return noGroup, cands, 0
	case selectGeo:
		return p.chooseGeo(q, health, loc, cands, tr)
	case selectNearest:
		return p.chooseNearest(q, health, loc, cands, tr)
	}
	if c, ok := p.try(allGroup, q.Family, health, cands, reason{kind: "all addresses"}, tr); ok {
		return allGroup, c, 0
	}
	return noGroup, cands, 0
}

// try collects the healthy addresses of the family in group gi.
func (p *Policy) try(gi int, fam Family, health Health, cands []uint16, why reason, tr *trace) ([]uint16, bool) {
	g := p.group(gi)
	cands = cands[:0]
	for i, a := range g.addrs {
		if a.Is6() != (fam == FamilyV6) {
			continue
		}
		up := health.Up(a)
		if up {
			cands = append(cands, uint16(i))
		}
		if tr != nil {
			tr.addr(a, up, g.weights[i], health, p)
		}
	}
	if tr != nil {
		tr.group(g.name, why.String(), len(cands))
	}
	return cands, len(cands) > 0
}

func (p *Policy) chooseGeo(q *Query, health Health, loc Locator, cands []uint16, tr *trace) (int, []uint16, int) {
	if q.Choices != nil && tr == nil && len(p.geo.cidrs) == 0 && p.geo.needLookup {
		if rs, ok := loc.(Records); ok {
			if id, prefix, ok := rs.Record(q.Client, p.need()); ok {
				return p.chooseGeoRecord(q, health, rs, id, prefix, cands)
			}
		}
	}
	client := q.Client
	scope := p.geo.cidrScope(client)
	if tr != nil && len(p.geo.cidrs) > 0 {
		tr.add("cidr rules: %d, telling them apart for %s takes scope /%d", len(p.geo.cidrs), client, scope)
	}
	for _, cr := range p.geo.cidrs {
		if !cr.prefix.Contains(client) {
			continue
		}
		if c, ok := p.try(cr.group, q.Family, health, cands, reason{kind: "cidr", pf: cr.prefix}, tr); ok {
			return cr.group, c, scope
		}
	}
	var l Location
	found := false
	if p.geo.needLookup && loc != nil {
		l, found = p.locate(loc, client, tr)
		scope = max(scope, l.Prefix)
	} else if tr != nil && p.geo.needLookup {
		tr.add("no geoip database: client %s has no location", client)
	}
	gi, c := p.fromLocation(q.Family, health, &l, found, cands, tr)
	return gi, c, scope
}

// chooseGeoRecord is chooseGeo for a client whose location is record id
// of rs, in a network of prefix bits, on a memo hit (q.Choices; there are
// no CIDR rules): the group chosen for the record before, when it still
// has an address up, else the choice made as chooseGeo makes it, and kept.
// What the rules read of a location is the same for every address of one
// record, and the health is the generation's, as the memo's is, so the
// choice is the one chooseGeo would make.
func (p *Policy) chooseGeoRecord(q *Query, health Health, rs Records, id uint64, prefix int, cands []uint16) (int, []uint16, int) {
	s := q.Choices.slot(p, q.Family, id)
	if s.p == p && s.id == id && s.fam == q.Family {
		if c, ok := p.try(int(s.gi), q.Family, health, cands, reason{}, nil); ok {
			return int(s.gi), c, prefix
		}
	}
	l, found := rs.RecordLocation(id)
	gi, c := p.fromLocation(q.Family, health, &l, found, cands, nil)
	if gi != noGroup {
		*s = choiceSlot{p: p, id: id, fam: q.Family, gi: int32(gi)}
	}
	return gi, c, prefix
}

// fromLocation runs the geo rules but CIDR ones on a client's location l
// (found: the databases knew it): the first group, by ASN, subdivision
// (most specific first), country, continent, then the default, that has
// an address up.
func (p *Policy) fromLocation(fam Family, health Health, l *Location, found bool, cands []uint16, tr *trace) (int, []uint16) {
	if found {
		if gi, ok := p.geo.byASN(l.ASN); ok {
			if c, ok := p.try(gi, fam, health, cands, reason{kind: "asn", n: l.ASN}, tr); ok {
				return gi, c
			}
		}
		for i := len(l.Subdivisions) - 1; i >= 0; i-- {
			if gi, ok := p.geo.bySubdivision(l.Subdivisions[i]); ok {
				if c, ok := p.try(gi, fam, health, cands, reason{kind: "subdivision", s: l.Subdivisions[i]}, tr); ok {
					return gi, c
				}
			}
		}
		if gi, ok := p.geo.byCountry(l.Country); ok {
			if c, ok := p.try(gi, fam, health, cands, reason{kind: "country", s: l.Country}, tr); ok {
				return gi, c
			}
		}
		if gi, ok := p.geo.byContinent(l.Continent); ok {
			if c, ok := p.try(gi, fam, health, cands, reason{kind: "continent", s: l.Continent}, tr); ok {
				return gi, c
			}
		}
	}
	if c, ok := p.try(p.dflt, fam, health, cands, reason{kind: "default"}, tr); ok {
		return p.dflt, c
	}
	return noGroup, cands
}

// cidrScope returns how many leading bits of client decide which CIDR rules
// contain it: for a rule containing client its length, and for one that
// doesn't, one bit past the common prefix, so that no address within the
// scope is inside the rule.
func (gr *geoRules) cidrScope(client netip.Addr) int {
	scope := 0
	for _, cr := range gr.cidrs {
		pf := cr.prefix
		if pf.Addr().Is4() != client.Is4() {
			continue
		}
		if pf.Contains(client) {
			scope = max(scope, pf.Bits())
			continue
		}
		scope = max(scope, min(commonBits(pf.Addr(), client)+1, pf.Bits()))
	}
	return scope
}

// commonBits is the length of the common prefix of two same-family addresses.
func commonBits(a, b netip.Addr) int {
	if a.Is4() {
		x, y := a.As4(), b.As4()
		return min(bits.LeadingZeros32(binary.BigEndian.Uint32(x[:])^binary.BigEndian.Uint32(y[:])), 32)
	}
	x, y := a.As16(), b.As16()
	if d := binary.BigEndian.Uint64(x[:8]) ^ binary.BigEndian.Uint64(y[:8]); d != 0 {
		return bits.LeadingZeros64(d)
	}
	return 64 + bits.LeadingZeros64(binary.BigEndian.Uint64(x[8:])^binary.BigEndian.Uint64(y[8:]))
}

// allDown returns what to serve when nothing is up.
func (p *Policy) allDown(fam Family, dr Drainer, out []netip.Addr) []netip.Addr {
	var g *group
	switch p.action {
	case ServeAll:
		g = &p.all
	case ServeGroup:
		g = &p.groups[p.downGroup]
	default:
		return out
	}
	for _, a := range g.addrs {
		if a.Is6() == (fam == FamilyV6) && (dr == nil || !dr.Drained(a)) {
			out = append(out, a)
		}
	}
	if p.max > 0 && len(out) > p.max {
		out = out[:p.max]
	}
	return out
}

func (p *Policy) actionName() string {
	switch p.action {
	case Servfail:
		return "servfail"
	case Nodata:
		return "nodata"
	case ServeGroup:
		return "group:" + p.groups[p.downGroup].name
	}
	return "serve-all"
}

// reason says why a group is a candidate. It is formatted only when tracing,
// so building one on the hot path doesn't allocate.
type reason struct {
	kind string
	s    string
	pf   netip.Prefix
	n    uint32
	km   float64
}

func (r reason) String() string {
	switch r.kind {
	case "cidr":
		return "rule cidr:" + r.pf.String()
	case "asn":
		return "rule asn:" + strconv.FormatUint(uint64(r.n), 10)
	case "subdivision", "country", "continent":
		return "rule " + r.kind + ":" + r.s
	case "nearest":
		return fmt.Sprintf("nearest, %.0f km", r.km)
	}
	return r.kind
}
