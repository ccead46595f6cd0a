package dnslb

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones"
)

// ECS source prefixes are capped before use (RFC 7871 section 11.1:
// privacy), the same caps public resolvers use.
const (
	maxECSv4 = 24
	maxECSv6 = 56
)

// queryCtx is what answer building needs to know about one query beyond
// its question: the snapshot, who asked, and what the selection decided.
type queryCtx struct {
	snap   *Snapshot
	zone   string     // origin of the deepest zone holding the name, for metrics
	client netip.Addr // after ECS, unmapped
	ecs    *dns.EDNS0_SUBNET
	source int // ECS source prefix after capping
	scope  int // the largest ECS scope any selection depended on
	policy string
	fail   bool      // a when_all_down = servfail name had nothing up
	nodata bool      // the last answer RRset was emptied by when_all_down = nodata
	copied bool      // the reply holds records made for this query, not the store's
	qlog   *queryLog // where the query is logged, if it is in the sample
	asked  string    // the question's name as asked, when not in lower case (restoreCase)
	limit  int       // the UDP size the reply was cut to fit, 0 over TCP

	// What the precomputed replies (fastCache) need to know: whether a
	// selection depended on the client or drew at random, whether truncate cut the reply, whether
	// records were made for this name (wildcard, DNAME), and the
	// round-robin rotations: how many (rots), and of the last one its
	// counter (a zone RRset or a policy), its number of orders and the
	// order taken. With pinned, the one rotation takes order pin instead
	// of advancing its counter.
	cut               bool
	clientDep, nondet bool
	synth             bool
	rots, rotN, rotK  int
	rotSet            *zones.RRset
	rotCtr            *atomic.Uint32 // rotSet's counter
	rotPol            *Policy
	pinned            bool
	pin               int

	// counters are the round-robin counters of the zone answering
	// (Snapshot.Counters).
	counters []atomic.Uint32

	// scratch, when set, is the serving goroutine's reply to reuse (see
	// newReply); nil allocates a new one.
	scratch *replyScratch
}

var randPool = sync.Pool{New: func() any { return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())) }}

// parseECS reads the EDNS Client Subnet option of a query. ok is false for
// a malformed option, which gets FORMERR (RFC 7871 section 7.1.1).
func (qc *queryCtx) parseECS(opt *dns.OPT) (ok bool) {
	for _, o := range opt.Option {
		e, isECS := o.(*dns.EDNS0_SUBNET)
		if !isECS {
			continue
		}
		if qc.ecs != nil || e.SourceScope != 0 {
			return false
		}
		var max int
		var a netip.Addr
		switch e.Family {
		case 1:
			a, ok = netip.AddrFromSlice(e.Address.To4())
			max = 32
		case 2:
			a, ok = netip.AddrFromSlice(e.Address.To16())
			max = 128
		default:
			return false
		}
		if !ok || int(e.SourceNetmask) > max {
			return false
		}
		p := netip.PrefixFrom(a, int(e.SourceNetmask))
		if p.Masked().Addr() != a {
			return false // bits set beyond the source prefix
		}
		qc.source = int(e.SourceNetmask)
		if e.Family == 1 {
			qc.source = min(qc.source, maxECSv4)
		} else {
			qc.source = min(qc.source, maxECSv6)
		}
		qc.ecs = e
		qc.client = netip.PrefixFrom(a, qc.source).Masked().Addr()
	}
	return true
}

// replyECS is the ECS option of the reply: the query's family, address and
// source prefix, and the scope the answer depended on (RFC 7871 section 7.2.1).
func (qc *queryCtx) replyECS() *dns.EDNS0_SUBNET {
	e := qc.ecs
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: e.Family, SourceNetmask: e.SourceNetmask,
		SourceScope: uint8(qc.scope), Address: e.Address}
}

// selectRRs applies a name's policy and health to one A or AAAA RRset. It
// returns the records to answer under owner (the set's own name when owner
// is empty), and whether the policy applied at all.
func (s *Server) selectRRs(qc *queryCtx, set *zones.RRset, owner string) ([]dns.RR, bool) {
	v := qc.snap.Name(set.Name)
	if v == nil {
		return nil, false
	}
	q := Query{Client: qc.client, Family: FamilyV4, Pinned: qc.pinned, Pin: qc.pin}
	if set.Type == dns.TypeAAAA {
		q.Family = FamilyV6
	}
	if qc.ecs != nil {
		q.ECS, q.SourcePrefix = true, qc.source
	}
	var buf [16]netip.Addr
	out := buf[:0]
	if n := v.Policy.NumAddrs(); n > len(buf) {
		out = make([]netip.Addr, 0, n)
	}
	r := randPool.Get().(*rand.Rand)
	d := v.Policy.Select(&q, v, qc.snap.Geo(), r, out)
	randPool.Put(r)
	if qc.policy == "" {
		qc.policy = v.desc
	}
	qc.scope = max(qc.scope, d.Scope)
	qc.clientDep = qc.clientDep || v.Policy.ClientDependent()
	qc.nondet = qc.nondet || !v.Policy.Deterministic()
	if d.Rotations > 0 {
		qc.rots++
		qc.rotSet, qc.rotCtr, qc.rotPol, qc.rotN, qc.rotK = nil, nil, v.Policy, d.Rotations, d.Rotation
	}
	if d.AllDown {
		switch d.Action {
		case Servfail:
			qc.fail = true
			return nil, true
		case Nodata:
			qc.nodata = true
			return nil, true
		}
	}
	ttl, setTTL := d.TTL, d.HasTTL
	if v.degraded && v.HasDegraded {
		ttl, setTTL = v.DegradedTTL, true
	}
	rrs := make([]dns.RR, 0, len(d.Addrs))
	for _, a := range d.Addrs {
		if v.drained[a] {
			continue // drained addresses are never served, even when all are down
		}
		for _, rr := range set.RRs {
			if ra, _ := rrAddr(rr); ra != a {
				continue
			}
			if setTTL || owner != "" {
				qc.copied = true
				rr = dns.Copy(rr)
				if setTTL {
					rr.Header().Ttl = ttl
				}
				if owner != "" {
					rr.Header().Name = owner
				}
			}
			rrs = append(rrs, rr)
			break
		}
	}
	if len(rrs) == 0 {
		qc.nodata = true
	}
	return rrs, true
}
