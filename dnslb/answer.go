package dnslb

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones"
)

// Client is where a query came from.
type Client struct {
	Addr netip.AddrPort
	TCP  bool
}

// minUDPSize is the size every DNS client can take (RFC 1035 section 4.2.1);
// defaultUDPSize is the EDNS buffer size we advertise unless configured
// otherwise (the DNS flag day 2020 figure).
const (
	minUDPSize     = 512
	defaultUDPSize = 1232
)

var resultPool = sync.Pool{New: func() any { return new(zones.Result) }}

// HandleQuery answers one query from the current snapshot. It returns nil
// when the query must not be answered at all (it is itself a response).
// The reply is sized for the client's transport: over UDP it fits the
// requester's EDNS buffer (512 bytes without EDNS), with TC=1 if the
// answer had to be cut.
func (s *Server) HandleQuery(req *dns.Msg, c Client) *dns.Msg {
	var qc queryCtx
	m := s.handle(req, c, &qc)
	if m != nil && qc.asked != "" {
		// handle left the question in lower case for answerOn's packing
		// (restoreCase); a caller packing m itself gets it as asked,
		// which miekg/dns compresses less well: fit it again.
		m.Question = req.Question
		sameCase(m.Answer, qc.asked)
		if qc.limit > 0 {
			truncate(m, qc.limit)
		}
	}
	return m
}

// handle is HandleQuery, leaving in qc what the metrics want to know.
func (s *Server) handle(req *dns.Msg, c Client, qc *queryCtx) *dns.Msg {
	if req.Response {
		return nil
	}
	snap := s.store.Snapshot()
	qc.snap = snap
	m := qc.newReply()
	m.Id = req.Id
	// Names are compressed over TCP too (truncate turns it on for UDP):
	// the precomputed replies serve both transports with the same bytes.
	m.Compress = true
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
		return m
	}
	qc.client = c.Addr.Addr().Unmap()
	if opt != nil {
		m.Extra = append(m.Extra, replyOPT(opt, snap.UDPSize, qc.scratch))
		if opt.Version() != 0 {
			m.Rcode = dns.RcodeBadVers
			return m
		}
		if !qc.parseECS(opt) {
			m.Rcode = dns.RcodeFormatError
			return m
		}
	}
	if req.Opcode == dns.OpcodeQuery && len(req.Question) == 0 {
		m.Rcode = dns.RcodeFormatError // with OPT, as Knot does
		return m
	}
	switch req.Opcode {
	case dns.OpcodeQuery:
	case dns.OpcodeNotify:
		m.Rcode = dns.RcodeNotAuth // we are nobody's secondary (as Knot)
		return m
	default:
		m.Rcode = dns.RcodeNotImplemented
		return m
	}
	q := req.Question[0]
	switch {
	case q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY:
		m.Rcode = dns.RcodeRefused
		return m
	case isMetaType(q.Qtype):
		m.Rcode = dns.RcodeFormatError
		return m
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		// Zone transfers are not offered. Like NSD and Knot: AXFR over UDP
		// is not a thing (NOTIMP); otherwise we are not a transfer source.
		m.Rcode = dns.RcodeNotAuth
		if q.Qtype == dns.TypeAXFR && !c.TCP {
			m.Rcode = dns.RcodeNotImplemented
		}
		return m
	}
	qname := zones.Lower(q.Name)
	z := snap.Zone(qname)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return m
	}
	qc.zone = z.Origin
	if q.Qtype == dns.TypeDS && qname == z.Origin {
		if p := snap.Parent(z); p != nil {
			z = p // DS lives on the parent side of the cut
		}
	}
	qc.counters = snap.Counters(z)
	res := resultPool.Get().(*zones.Result)
	defer resultPool.Put(res)
	z.Lookup(qname, q.Qtype, res)
	s.build(m, res, qc)
	if q.Name != qname {
		// The reply is packed with the question in lower case, so that
		// names compress against it whatever its case (miekg/dns matches
		// case-sensitively; NSD and Knot do not), and the question's
		// bytes are then put back as asked (restoreCase): records owned
		// by the question's name, which point at it, read in its
		// spelling, as NSD's and Knot's do.
		if qc.scratch != nil {
			qc.scratch.q[0] = q
			m.Question = qc.scratch.q[:]
		} else {
			m.Question = []dns.Question{q}
		}
		m.Question[0].Name = qname
		qc.asked = q.Name
	}
	if qc.ecs != nil && !qc.fail {
		o := m.Extra[len(m.Extra)-1].(*dns.OPT)
		o.Option = append(o.Option, qc.replyECS())
	}
	if !c.TCP {
		limit := minUDPSize
		if opt != nil {
			limit = min(max(int(opt.UDPSize()), minUDPSize), snap.UDPSize)
		}
		qc.cut = truncate(m, limit)
		qc.limit = limit
	}
	return m
}

// build fills the sections of m from a lookup result.
func (s *Server) build(m *dns.Msg, res *zones.Result, qc *queryCtx) {
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
		// Not authoritative for the child's data, but AA follows the first
		// owner name when a CNAME led here (RFC 6604 section 2.1).
		m.Authoritative = len(res.Answer) > 0
	}
	m.Answer = slices.Grow(m.Answer[:0], answerLen(res))
	for i, it := range res.Answer {
		if t := it.Set.Type; it.Synth == nil && (t == dns.TypeA || t == dns.TypeAAAA) {
			if rrs, ok := s.selectRRs(qc, it.Set, it.Owner); ok {
				qc.synth = qc.synth || it.Owner != ""
				m.Answer = append(m.Answer, rrs...)
				if qc.fail {
					// Like NSD and Knot, a SERVFAIL is not authoritative.
					m.Rcode, m.Answer, m.Ns, m.Authoritative = dns.RcodeServerFailure, nil, nil, false
					return
				}
				if len(rrs) == 0 && i == len(res.Answer)-1 && res.Kind == zones.Success {
					res.Kind = zones.NoData // nothing to serve: NODATA with the SOA
					m.Ns = append(m.Ns, qc.snap.Zone(it.Set.Name).NegativeSOA()...)
				}
				continue
			}
		}
		switch {
		case it.Synth != nil:
			qc.copied, qc.synth = true, true
			m.Answer = append(m.Answer, it.Synth)
		case it.Owner != "":
			qc.copied, qc.synth = true, true
			n := len(m.Answer)
			m.Answer = s.appendOrdered(qc, m.Answer, it.Set)
			for j, rr := range m.Answer[n:] {
				rr = dns.Copy(rr)
				rr.Header().Name = it.Owner
				m.Answer[n+j] = rr
			}
		default:
			m.Answer = s.appendOrdered(qc, m.Answer, it.Set)
		}
	}
	for _, set := range res.Authority {
		m.Ns = append(m.Ns, set.RRs...)
	}
	for _, set := range res.Additional {
		start := len(m.Extra)
		m.Extra = s.appendOrdered(qc, m.Extra, set)
		if v := qc.snap.Name(set.Name); v != nil && v.degraded {
			m.Extra = keepUp(m.Extra, start, v)
		}
	}
	// The OPT record, if any, goes last in the additional section.
	for i, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT && i != len(m.Extra)-1 {
			m.Extra = append(append(m.Extra[:i:i], m.Extra[i+1:]...), rr)
			break
		}
	}
}

// appendOrdered appends the records of set to dst in this query's order:
// rotated (or shuffled) for A and AAAA RRsets of several records, as
// stored otherwise. The store's slice is never changed: rotation happens
// in dst. qc notes the rotation (see queryCtx.rots).
func (s *Server) appendOrdered(qc *queryCtx, dst []dns.RR, set *zones.RRset) []dns.RR {
	n := len(set.RRs)
	if n < 2 || (set.Type != dns.TypeA && set.Type != dns.TypeAAAA) {
		return append(dst, set.RRs...)
	}
	qc.rots++
	if qc.snap.Random {
		qc.rots++ // not a round-robin rotation: no precomputed replies
		start := len(dst)
		dst = append(dst, set.RRs...)
		out := dst[start:]
		rand.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
		return dst
	}
	var ctr *atomic.Uint32
	if set.Rot > 0 && set.Rot <= len(qc.counters) {
		ctr = &qc.counters[set.Rot-1]
	}
	var k int
	switch {
	case qc.pinned:
		k = qc.pin % n
	case ctr != nil:
		k = int((ctr.Add(1) - 1) % uint32(n))
	}
	qc.rotSet, qc.rotCtr, qc.rotPol, qc.rotN, qc.rotK = set, ctr, nil, n, k
	dst = append(dst, set.RRs[k:]...)
	return append(dst, set.RRs[:k]...)
}

func answerLen(res *zones.Result) int {
	n := 0
	for _, it := range res.Answer {
		if it.Synth != nil {
			n++
		} else {
			n += len(it.Set.RRs)
		}
	}
	return n
}

// findOPT returns the query's OPT record. ok is false when the query has
// more than one, which RFC 6891 section 6.1.1 makes a FORMERR.
func findOPT(req *dns.Msg) (opt *dns.OPT, ok bool) {
	for _, rr := range req.Extra {
		if o, isOPT := rr.(*dns.OPT); isOPT {
			if opt != nil {
				return nil, false
			}
			opt = o
		}
	}
	return opt, true
}

// replyOPT is our OPT record: our buffer size, version 0, the DO bit
// echoed (RFC 3225), no options.
func replyOPT(q *dns.OPT, udpSize int, sc *replyScratch) *dns.OPT {
	o := new(dns.OPT)
	if sc != nil {
		o = &sc.opt
	}
	*o = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(uint16(udpSize))
	if q.Do() {
		o.SetDo()
	}
	return o
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

// truncate makes m fit in limit bytes, and reports whether it had to cut.
// Additional RRsets go first, whole (they are optional, and a partial
// RRset would be cached as the whole: RFC 2181 section 9): kept in order
// while they fit, skipping one that does not. If
// the answer and authority still do not fit, the reply has TC=1 and keeps
// the answer's leading RRsets that fit whole (a CNAME before a large
// RRset, say), as NSD and Knot send it, so that the client retries over
// TCP (RFC 1035 section 4.2.1).
func truncate(m *dns.Msg, limit int) (cut bool) {
	// The uncompressed length bounds the compressed one and costs no
	// compression map: most replies fit by that measure already.
	m.Compress = false
	fits := m.Len() <= limit
	m.Compress = true
	if fits || m.Len() <= limit {
		return false
	}
	// The OPT record, if present, is last and stays.
	var opt []dns.RR
	if n := len(m.Extra); n > 0 && m.Extra[n-1].Header().Rrtype == dns.TypeOPT {
		opt = m.Extra[n-1:]
	}
	// Additional RRsets in order, each kept if it still fits (a large
	// one is left out and the smaller ones after it stay, as Knot does).
	extra := m.Extra[:len(m.Extra)-len(opt)]
	m.Extra = opt
	if m.Len() <= limit {
		var kept []dns.RR
		for i := 0; i < len(extra); {
			next := rrsetEnd(extra, i)
			m.Extra = append(append(append([]dns.RR(nil), kept...), extra[i:next]...), opt...)
			if m.Len() <= limit {
				kept = append(kept, extra[i:next]...)
			}
			i = next
		}
		m.Extra = append(kept, opt...)
		return true
	}
	m.Truncated = true
	answer := m.Answer
	m.Ns, m.Answer = nil, nil
	for end := 0; end < len(answer); {
		next := rrsetEnd(answer, end)
		m.Answer = answer[:next]
		if m.Len() > limit {
			m.Answer = answer[:end]
			break
		}
		end = next
	}
	return true
}

// rrsetEnd returns where the RRset that starts at rrs[i] ends.
func rrsetEnd(rrs []dns.RR, i int) int {
	j := i + 1
	for j < len(rrs) && sameRRset(rrs[i], rrs[j]) {
		j++
	}
	return j
}

func sameRRset(a, b dns.RR) bool {
	ha, hb := a.Header(), b.Header()
	return ha.Rrtype == hb.Rrtype && ha.Class == hb.Class && strings.EqualFold(ha.Name, hb.Name)
}

// sameCase gives the records of rrs owned by the query name (asked, in
// any case) the question's spelling, for HandleQuery's callers, who pack
// the reply themselves. Records from the store are copied, never changed.
func sameCase(rrs []dns.RR, asked string) {
	for i, rr := range rrs {
		if strings.EqualFold(rr.Header().Name, asked) {
			rr = dns.Copy(rr)
			rr.Header().Name = asked
			rrs[i] = rr
		}
	}
}

// restoreCase writes the question name as asked over the lower-case one
// at the start of the packed reply out (same length: only the case
// differs).
func restoreCase(out []byte, asked string) {
	if len(out) > 12 {
		_, _ = dns.PackDomainName(asked, out, 12, nil, false)
	}
}

// keepUp drops from rrs[start:] the records whose address is down or
// drained: the additional section never carries an address that health or
// an operator took out. rrs is the reply's own slice.
func keepUp(rrs []dns.RR, start int, v *nameView) []dns.RR {
	out := rrs[:start]
	for _, rr := range rrs[start:] {
		if a, ok := rrAddr(rr); !ok || v.Up(a) {
			out = append(out, rr)
		}
	}
	return out
}
