package answer

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/dnslb/rrl"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

// minUDPSize is the size every DNS client can take (RFC 1035 section 4.2.1).
const minUDPSize = 512

// UDPLimit is the size a UDP reply must fit: what the query's OPT record
// (nil: none) offers, at least 512 and at most ours (udp_size).
func UDPLimit(opt *dns.OPT, ours int) int {
	if opt == nil {
		return minUDPSize
	}
	return min(max(int(opt.UDPSize()), minUDPSize), ours)
}

// ECS source prefixes are capped before use (RFC 7871 section 11.1:
// privacy), the same caps public resolvers use.
const (
	MaxECSv4 = 24
	MaxECSv6 = 56
)

// Extended DNS Error codes we send (RFC 8914 section 4).
const (
	edeNotAuthoritative = 20 // REFUSED: a name in none of our zones, as NSD and Knot send it
)

var (
	resultPool = sync.Pool{New: func() any { return new(zones.Result) }}
	randPool   = sync.Pool{New: func() any { return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())) }}
)

// decide answers the query req from client c out of the generation snap:
// it fills p (whose msg it resets: p.msg must be set) with the reply's
// header and sections and what encode and the memo need. It reports false
// when the query gets no reply at all (it is itself a response).
//
// With p.replay set (the memo filling a key), the decision points take
// those values, in order, instead of choosing again.
func decide(snap *state.Snapshot, req *dns.Msg, c Client, p *Plan) bool {
	if req.Response {
		return false
	}
	p.reset(snap)
	m := p.msg
	m.Id = req.Id
	m.Response = true
	m.Opcode = req.Opcode
	m.RecursionDesired = req.RecursionDesired
	// CD is left clear: we do no DNSSEC validation (NSD and Knot do the same).
	m.Question = req.Question

	opt, optOK := findOPT(req)
	if !optOK || req.Opcode == dns.OpcodeQuery && len(req.Question) > 1 {
		// FORMERR without OPT, as NSD does (RFC 6891 section 7 lets us).
		m.Question = nil
		m.Rcode = dns.RcodeFormatError
		return true
	}
	p.client = c.Addr.Addr().Unmap()
	if opt != nil {
		p.edns, p.do, p.co = true, opt.Do(), opt.Co()
		if opt.Version() != 0 {
			m.Rcode = dns.RcodeBadVers
			return true
		}
		if !p.parseECS(opt) {
			m.Rcode = dns.RcodeFormatError
			return true
		}
		p.nsid = snap.NSID != "" && asksNSID(opt) // identity.go
	}
	if req.Opcode == dns.OpcodeQuery && len(req.Question) == 0 {
		m.Rcode = dns.RcodeFormatError // with OPT, as Knot does
		return true
	}
	switch req.Opcode {
	case dns.OpcodeQuery:
	case dns.OpcodeNotify:
		m.Rcode = dns.RcodeNotAuth // we are nobody's secondary (as Knot)
		return true
	default:
		m.Rcode = dns.RcodeNotImplemented
		return true
	}
	q := req.Question[0]
	switch {
	case q.Qclass == dns.ClassCHAOS:
		p.chaos(q) // identity.go
		return true
	case q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY:
		m.Rcode = dns.RcodeRefused
		return true
	case isMetaType(q.Qtype):
		m.Rcode = dns.RcodeFormatError
		return true
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		// Zone transfers are answered before decide (dnslb/transfer) for
		// the clients allowed. Like NSD and Knot: AXFR over UDP is not a
		// thing (NOTIMP); otherwise we are not a transfer source.
		m.Rcode = dns.RcodeNotAuth
		if q.Qtype == dns.TypeAXFR && !c.TCP {
			m.Rcode = dns.RcodeNotImplemented
		}
		return true
	}
	qname := zones.Lower(q.Name)
	if q.Name != qname {
		// The reply is made with the question in lower case, so that
		// names compress against it whatever its case (miekg/dns matches
		// case-sensitively; NSD and Knot do not); encode writes the
		// question back as asked, and records owned by the question's
		// name, which point at it, then read in its spelling, as NSD's
		// and Knot's do.
		p.asked = q.Name
		p.q[0] = q
		p.q[0].Name = qname
		m.Question = p.q[:]
	}
	z := snap.Zone(qname)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		p.ede = edeNotAuthoritative
		return true
	}
	p.zone = z.Origin
	if q.Qtype == dns.TypeDS && qname == z.Origin {
		if pz := snap.Parent(z); pz != nil {
			z = pz // DS lives on the parent side of the cut
		}
	}
	p.counters = snap.Counters(z)
	res := resultPool.Get().(*zones.Result)
	defer resultPool.Put(res)
	z.Lookup(qname, q.Qtype, res)
	sc := selectCtx{client: p.client, source: p.source, geo: snap.Geo()}
	defer sc.done()
	p.build(res, &sc)
	p.setClass(res, qname)
	// The ECS option is echoed on answers (RFC 7871 section 7.2.1), not
	// on SERVFAIL nor on the errors above.
	p.echo = p.ecs != nil && m.Rcode != dns.RcodeServerFailure
	if !c.TCP {
		p.limit = UDPLimit(opt, snap.UDPSize)
	}
	return true
}

// reset empties p for a new query, keeping its message's section arrays.
func (p *Plan) reset(snap *state.Snapshot) {
	m := p.msg
	*m = dns.Msg{Answer: m.Answer[:0], Ns: m.Ns[:0], Extra: m.Extra[:0]}
	// Names are compressed over TCP too (truncate turns it on for UDP
	// only when needed): the memo serves both transports with the same
	// bytes.
	m.Compress = true
	replay, recs := p.replay, p.recs
	if recs == nil {
		recs = new(zones.Scratch)
	}
	recs.Reset() // the last reply's address records are bytes by now
	*p = Plan{msg: m, snap: snap, ede: edeNone, source: -1, replay: replay, class: rrl.Error, shard: p.shard, recs: recs}
	p.points = p.pointsBuf[:0]
}

// setClass sets the reply's rate-limit class and account name (as BIND
// and NSD count them): an NXDOMAIN at the zone, a referral at the
// delegation point, an answer or NODATA at the query name or the
// wildcard (or DNAME) it came from, errors without a name (reset's
// default, for the replies decide makes before a lookup).
func (p *Plan) setClass(res *zones.Result, qname string) {
	m := p.msg
	switch {
	case m.Rcode == dns.RcodeNameError:
		p.class, p.acct = rrl.NXDomain, p.zone
	case m.Rcode != dns.RcodeSuccess:
		p.class, p.acct = rrl.Error, ""
	case res.Kind == zones.Referral:
		p.class, p.acct = rrl.Referral, p.deleg
	default:
		p.class, p.acct = rrl.Positive, qname
		if len(m.Answer) == 0 {
			p.class = rrl.NoData
		}
		switch {
		case res.Wildcard != "":
			p.acct = res.Wildcard
		case len(res.Answer) > 0 && res.Answer[0].Set != nil:
			p.acct = res.Answer[0].Set.Name() // a DNAME's owner, or qname
		}
	}
}

// build fills the sections of p.msg from a lookup result.
func (p *Plan) build(res *zones.Result, sc *selectCtx) {
	m := p.msg
	switch res.Kind {
	case zones.Success, zones.NoData:
		m.Authoritative = true
	case zones.NXDomain:
		m.Authoritative = true
		m.Rcode = dns.RcodeNameError
	case zones.YXDomain:
		m.Authoritative = true
		m.Rcode = dns.RcodeYXDomain
	case zones.Referral:
		if len(res.Authority) > 0 {
			p.deleg = res.Authority[0].Name()
		}
		// Not authoritative for the child's data, but AA follows the first
		// owner name when a CNAME led here (RFC 6604 section 2.1).
		m.Authoritative = len(res.Answer) > 0
	}
	m.Answer = slices.Grow(m.Answer[:0], answerLen(res))
	for i, it := range res.Answer {
		if t := it.Set.Type; it.Synth == nil && (t == dns.TypeA || t == dns.TypeAAAA) {
			if v := p.snap.Name(it.Set.Name()); v != nil {
				rrs, fail := p.selectRRs(v, it.Set, it.Owner, sc)
				p.synth = p.synth || it.Owner != ""
				if fail {
					// Like NSD and Knot, a SERVFAIL is not authoritative.
					m.Rcode, m.Answer, m.Ns, m.Authoritative = dns.RcodeServerFailure, nil, nil, false
					return
				}
				m.Answer = append(m.Answer, rrs...)
				if len(rrs) == 0 && i == len(res.Answer)-1 && res.Kind == zones.Success {
					res.Kind = zones.NoData // nothing to serve: NODATA with the SOA
					m.Ns = append(m.Ns, p.snap.Zone(it.Set.Name()).NegativeSOA()...)
				}
				continue
			}
		}
		switch {
		case it.Synth != nil:
			p.synth = true
			m.Answer = append(m.Answer, it.Synth)
		case it.Owner != "":
			p.synth = true
			n := len(m.Answer)
			m.Answer = p.appendOrdered(m.Answer, it.Set, sc)
			serveUnder(m.Answer[n:], it.Owner, it.Set)
		default:
			m.Answer = p.appendOrdered(m.Answer, it.Set, sc)
		}
	}
	for _, set := range res.Authority {
		m.Ns = set.AppendRRs(m.Ns, p.recs)
	}
	for _, it := range res.Additional {
		start := len(m.Extra)
		m.Extra = p.appendOrdered(m.Extra, it.Set, sc)
		if v := p.snap.Name(it.Set.Name()); v != nil && v.Degraded() {
			m.Extra = keepUp(m.Extra, start, v)
		}
		if it.Owner != "" {
			// A wildcard's records for a target (RFC 4592), served
			// under the target's name: a name of the zone's data, not
			// of the query (not synth).
			serveUnder(m.Extra[start:], it.Owner, it.Set)
		}
	}
}

// serveUnder serves rrs, the records of set, under owner: the records of
// an address set were made for this reply (zones.RRset.AppendRR into the
// plan's Scratch) and are renamed where they are; the others are the
// zone's own, each replaced by a copy.
func serveUnder(rrs []dns.RR, owner string, set *zones.RRset) {
	own := set.Type == dns.TypeA || set.Type == dns.TypeAAAA
	for i, rr := range rrs {
		if !own {
			rr = dns.Copy(rr)
			rrs[i] = rr
		}
		rr.Header().Name = owner
	}
}

// point returns the next decision point of kind pt with its value: the
// replayed one when the memo gave values, else pt with a value taken
// now. ok is false when the value could not be taken (the reply is then
// made without one and never kept).
func (p *Plan) point(pt point, sc *selectCtx) (*point, bool) {
	if len(p.points) == maxPoints {
		p.noMemo = true
		return &pt, pt.take(sc)
	}
	p.points = append(p.points, pt)
	cur := &p.points[len(p.points)-1]
	if i := p.replayed; i < len(p.replay) {
		p.replayed++
		if r := &p.replay[i]; r.sameKind(cur) {
			*cur = *r
			return cur, true
		}
		p.noMemo = true // not the points the memo's entry has: keep nothing
	}
	if !cur.take(sc) {
		p.noMemo = true
		return cur, false
	}
	return cur, true
}

// appendOrdered appends the records of set to dst in this query's order:
// rotated (or shuffled) for A and AAAA RRsets of several records, as
// stored otherwise. The store's slice is never changed: rotation happens
// in dst. The order is a decision point.
func (p *Plan) appendOrdered(dst []dns.RR, set *zones.RRset, sc *selectCtx) []dns.RR {
	n := set.Len()
	if n < 2 || (set.Type != dns.TypeA && set.Type != dns.TypeAAAA) {
		return set.AppendRRs(dst, p.recs)
	}
	if p.snap.Random {
		pt, ok := p.point(point{kind: pointShuffle, n: n}, sc)
		if !ok {
			start := len(dst)
			dst = set.AppendRRs(dst, p.recs)
			out := dst[start:]
			sc.rand().Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
			return dst
		}
		for _, i := range pt.order[:pt.norder] {
			dst = set.AppendRR(dst, int(i), p.recs)
		}
		return dst
	}
	pt, _ := p.point(point{kind: pointRotation, n: n, ctr: p.counter(set)}, sc)
	for i := range n {
		dst = set.AppendRR(dst, (pt.k+i)%n, p.recs)
	}
	return dst
}

// counter returns set's round-robin counter in the generation's serving
// state, or nil.
func (p *Plan) counter(set *zones.RRset) *atomic.Uint32 {
	if set.Rot > 0 && int(set.Rot) <= len(p.counters) {
		return &p.counters[set.Rot-1]
	}
	return nil
}

// selectRRs applies a name's policy and health to one A or AAAA RRset:
// it returns the records to answer under owner (the set's own name when
// owner is empty), or fail for SERVFAIL (when_all_down = "servfail" with
// nothing up). The selection is a decision point.
func (p *Plan) selectRRs(v *state.NameView, set *zones.RRset, owner string, sc *selectCtx) (rrs []dns.RR, fail bool) {
	fam := policy.FamilyV4
	if set.Type == dns.TypeAAAA {
		fam = policy.FamilyV6
	}
	if p.policy == "" {
		p.policy = v.Desc
	}
	pt, ok := p.point(point{kind: pointPolicy, view: v, fam: fam}, sc)
	var addrs []netip.Addr
	var abuf [maxChoice]netip.Addr
	if ok {
		addrs = abuf[:pt.norder]
		for i, x := range pt.order[:pt.norder] {
			addrs[i] = v.Policy.Addr(int(x))
		}
	} else {
		// More addresses than a point holds: selected here, not kept.
		q := policy.Query{Client: sc.client, Family: fam, ECS: sc.source >= 0, SourcePrefix: max(sc.source, 0)}
		pt.d = v.Policy.Select(&q, v, sc.geo, sc.rand(), make([]netip.Addr, 0, v.Policy.NumAddrs()))
		addrs = pt.d.Addrs
	}
	d := pt.d
	p.scope = max(p.scope, d.Scope)
	if d.AllDown {
		switch d.Action {
		case policy.Servfail:
			return nil, true
		case policy.Nodata:
			return nil, false
		}
	}
	ttl, setTTL := v.AnswerTTL(d)
	rrs = make([]dns.RR, 0, len(addrs))
	for _, a := range addrs {
		if v.Drained(a) {
			continue // drained addresses are never served, even when all are down
		}
		i := set.Index(a)
		if i < 0 {
			continue
		}
		if len(rrs) == 0 {
			// The answer leads with a: counted for the shares (a memo hit
			// counts it with point.lead).
			v.Answers.Add(p.shard, v.Policy.AddrIndex(a))
		}
		rrs = set.AppendRR(rrs, i, p.recs)
		// The record is this reply's own (made in p.recs): its TTL and
		// owner may change.
		h := rrs[len(rrs)-1].Header()
		if setTTL {
			h.Ttl = ttl
		}
		if owner != "" {
			h.Name = owner
		}
	}
	return rrs, false
}

func answerLen(res *zones.Result) int {
	n := 0
	for _, it := range res.Answer {
		if it.Synth != nil {
			n++
		} else {
			n += it.Set.Len()
		}
	}
	return n
}

// findOPT returns the query's OPT record. ok is false when the query has
// more than one (RFC 6891 section 6.1.1), one outside the additional
// section, or one whose owner is not the root (section 6.1.2): FORMERR,
// as NSD answers them.
func findOPT(req *dns.Msg) (opt *dns.OPT, ok bool) {
	for _, sec := range [2][]dns.RR{req.Answer, req.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				return nil, false
			}
		}
	}
	for _, rr := range req.Extra {
		if o, isOPT := rr.(*dns.OPT); isOPT {
			if opt != nil || o.Hdr.Name != "." {
				return nil, false
			}
			opt = o
		}
	}
	return opt, true
}

// isMetaType reports qtypes that are never asked as questions (RFC 6895
// section 3.1): OPT, TSIG and friends.
func isMetaType(t uint16) bool {
	switch t {
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		return true
	}
	return t >= 128 && t <= 250 && t != dns.TypeANY
}

// parseECS reads the EDNS Client Subnet option of a query. ok is false for
// a malformed option, which gets FORMERR (RFC 7871 section 7.1.1).
func (p *Plan) parseECS(opt *dns.OPT) (ok bool) {
	for _, o := range opt.Option {
		e, isECS := o.(*dns.EDNS0_SUBNET)
		if !isECS {
			continue
		}
		if p.ecs != nil || e.SourceScope != 0 {
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
		pf := netip.PrefixFrom(a, int(e.SourceNetmask))
		if pf.Masked().Addr() != a {
			return false // bits set beyond the source prefix
		}
		p.source = int(e.SourceNetmask)
		if e.Family == 1 {
			p.source = min(p.source, MaxECSv4)
		} else {
			p.source = min(p.source, MaxECSv6)
		}
		p.ecs = e
		p.client = netip.PrefixFrom(a, p.source).Masked().Addr()
	}
	return true
}

// keepUp drops from rrs[start:] the records whose address is down or
// drained: the additional section never carries an address that health or
// an operator took out. rrs is the reply's own slice.
func keepUp(rrs []dns.RR, start int, v *state.NameView) []dns.RR {
	out := rrs[:start]
	for _, rr := range rrs[start:] {
		if a, ok := state.RRAddr(rr); !ok || v.Up(a) {
			out = append(out, rr)
		}
	}
	return out
}
