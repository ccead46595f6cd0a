package sign

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/dnssec"
	"github.com/dnslb/dnslb/zones"
)

// Stage is the sign stage over the signers its owner applies (Apply);
// safe for concurrent use by every serving worker.
type Stage struct {
	log     *slog.Logger
	signers atomic.Pointer[Signers]
	// ahead is the queue of signing ahead (ahead.go), made at its first
	// use.
	aheadOnce sync.Once
	ahead     *ahead
}

var _ answer.Sign = (*Stage)(nil)

// New returns a stage that signs nothing until Apply; log gets debug
// lines only (it runs on the query path).
func New(log *slog.Logger) *Stage {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stage{log: log}
}

// Apply swaps in the signers of a new load. The owner applies them before
// the zones: a query of the old generation may then be signed with the
// new keys, and the memo drops what it held of that generation anyway.
// A zone's new signer takes over the old one's counts, and its cached
// signatures when the keys are the same (dnssec.Signer.Adopt): a reload
// that leaves the keys alone signs nothing again.
func (s *Stage) Apply(ss Signers) {
	old := s.Signers()
	for origin, sg := range ss {
		sg.Adopt(old[origin])
	}
	s.signers.Store(&ss)
}

// Signers are the signers applied last (nil before the first Apply).
func (s *Stage) Signers() Signers {
	if p := s.signers.Load(); p != nil {
		return *p
	}
	return nil
}

// Sign is the sign stage of the query path (answer.Sign): for a zone with
// keys, the DNSKEY, CDS and CDNSKEY RRsets at the apex (RFC 7344), and with DO the RRSIGs of every
// authoritative RRset in the answer and authority sections, the DS (or
// the signed proof of no DS) at a referral, and compact denial of
// existence (RFC 9824) for NXDOMAIN and NODATA. Every RRset is signed in
// its canonical form from the signer's cache, so a rotated or
// load-balanced RRset needs no new signature. It reports whether it
// signed the reply (DO=1 in a signed zone), and says until when the
// memo may keep it (Plan.KeepUntil: the end of the validity window).
func (s *Stage) Sign(p *answer.Plan) bool {
	set := s.Signers()
	if len(set) == 0 || p.Zone() == "" {
		return false
	}
	m := p.Msg()
	if len(m.Question) == 0 {
		return false
	}
	q := m.Question[0]
	qname := zones.Lower(q.Name)
	snap := p.Snapshot()
	z := snap.Zone(p.Zone())
	if z == nil {
		return false
	}
	if q.Qtype == dns.TypeDS && qname == z.Origin {
		pz := snap.Parent(z)
		if pz == nil {
			return set[z.Origin] != nil && p.DO()
		}
		z = pz // answered from the parent side of the cut
	}
	sg := set[z.Origin]
	if sg == nil {
		return false
	}
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return p.DO() // SERVFAIL and the like: nothing to sign
	}
	if qname == z.Origin && len(m.Answer) == 0 && m.Rcode == dns.RcodeSuccess {
		// The apex's RRsets of the keys, unless the zone file has them.
		var keys []dns.RR
		switch q.Qtype {
		case dns.TypeDNSKEY:
			keys = sg.DNSKEY()
		case dns.TypeCDS:
			keys = sg.CDS()
		case dns.TypeCDNSKEY:
			keys = sg.CDNSKEY()
		}
		if keys != nil {
			m.Answer = append([]dns.RR(nil), keys...)
			m.Ns = nil
		}
	}
	if !p.DO() {
		// Without DO the reply is the same for every query (the DNSKEY
		// RRset included): the memo, keyed on DO, may keep it.
		return false
	}
	now := p.Arrival()
	if now.IsZero() {
		now = time.Now()
	}
	m.Answer = s.signRRsets(sg, m.Answer, z.Origin, now)
	deleg := p.Delegation()
	var ns []dns.RR
	switch {
	case deleg != "":
		// A referral: the NS RRset is the child's (not signed); the DS
		// RRset is the parent's, signed, or the proof that there is none.
		ns = append(ns, m.Ns...)
		if n := z.Node(deleg); n != nil {
			if ds := n.Set(dns.TypeDS); ds != nil {
				ns = append(ns, ds.RRs()...)
			} else {
				ns = append(ns, dnssec.NSEC(deleg, nodeTypes(n, z), z.NegativeSOA()[0].Header().Ttl))
			}
		}
		ns = s.signRRsets(sg, ns, z.Origin, now)
	case len(m.Answer) == 0 || m.Rcode == dns.RcodeNameError || hasSOA(m.Ns):
		// NXDOMAIN and NODATA (after a CNAME chain in the zone too): the
		// SOA, and one NSEC at the name denied (the query name, or the
		// chain's last target) that covers nothing else (RFC 9824). Its
		// bitmap has the types the name has, a wildcard's for a name
		// only a wildcard answers, so a validator that reuses it (RFC
		// 8198) denies nothing that exists.
		ns = append(ns, m.Ns...)
		denied := chainEnd(qname, m.Answer)
		var types []uint16 // nil: the name does not exist (NXNAME)
		if m.Rcode == dns.RcodeSuccess {
			types = []uint16{}
			if n := typesNode(z, denied); n != nil {
				types = nodeTypes(n, z)
			}
		}
		ttl := uint32(0)
		if soa := z.NegativeSOA(); len(soa) > 0 {
			ttl = soa[0].Header().Ttl
		}
		ns = append(ns, dnssec.NSEC(denied, types, ttl))
		ns = s.signRRsets(sg, ns, z.Origin, now)
		if m.Rcode == dns.RcodeNameError && !p.CO() {
			m.Rcode = dns.RcodeSuccess // RFC 9824 section 3: NXDOMAIN answered as NODATA
		}
	default:
		ns = s.signRRsets(sg, m.Ns, z.Origin, now)
	}
	m.Ns = ns
	// Signed as of the query's arrival, from a cache keyed on the
	// canonical RRsets: every query of the same question and decision
	// key gets these bytes until the window ends, and the memo may keep
	// them that long.
	p.KeepUntil(dnssec.WindowEnd(now))
	return true
}

// hasSOA reports whether a section holds an SOA record: the authority
// section of a negative answer.
func hasSOA(rrs []dns.RR) bool {
	return slices.ContainsFunc(rrs, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeSOA })
}

// chainEnd is the last name of the CNAME chain from qname in an answer
// section: qname itself when it has no CNAME there.
func chainEnd(qname string, answer []dns.RR) string {
	name := qname
	for range len(answer) {
		i := slices.IndexFunc(answer, func(rr dns.RR) bool {
			c, ok := rr.(*dns.CNAME)
			return ok && zones.Lower(c.Hdr.Name) == name
		})
		if i < 0 {
			break
		}
		name = zones.Lower(answer[i].(*dns.CNAME).Target)
	}
	return name
}

// typesNode is the node whose types name has in zone z: its own, or for
// a name that only a wildcard answers (RFC 4592) the closest encloser's
// "*" child; nil for neither.
func typesNode(z *zones.Zone, name string) *zones.Node {
	if n := z.Node(name); n != nil {
		return n
	}
	for p := name; len(p) > len(z.Origin); {
		p = p[zones.NextLabel(p, 0):]
		if n := z.Node(p); n != nil {
			return z.Wild(n)
		}
	}
	return nil
}

// nodeTypes are the types at node n of zone z, for an NSEC bitmap (the
// DNSKEY, CDS and CDNSKEY RRsets at the apex too).
func nodeTypes(n *zones.Node, z *zones.Zone) []uint16 {
	types := make([]uint16, 0, len(n.Sets)+1)
	for _, st := range n.Sets {
		types = append(types, st.Type)
	}
	if n.Name == z.Origin {
		types = append(types, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY)
	}
	return types
}

// signRRsets returns rrs (a section, RRsets together) in a new slice with
// each RRset followed by its RRSIGs, leaving out of the signing what is
// not authoritative data: NS RRsets below the apex (a delegation) and
// signatures already there. A failed signature leaves the RRset unsigned
// (a validator then rejects it rather than the server failing).
func (s *Stage) signRRsets(sg *dnssec.Signer, rrs []dns.RR, origin string, now time.Time) []dns.RR {
	if len(rrs) == 0 {
		return rrs
	}
	out := make([]dns.RR, 0, 2*len(rrs))
	for i := 0; i < len(rrs); {
		h := rrs[i].Header()
		j := i + 1
		for j < len(rrs) && rrs[j].Header().Rrtype == h.Rrtype && strings.EqualFold(rrs[j].Header().Name, h.Name) {
			j++
		}
		out = append(out, rrs[i:j]...)
		if h.Rrtype != dns.TypeRRSIG && !(h.Rrtype == dns.TypeNS && !strings.EqualFold(h.Name, origin)) {
			sigs, err := sg.Sign(rrs[i:j], now)
			if err != nil {
				s.log.Debug("dnssec: sign", "err", err)
			}
			for _, sig := range sigs {
				out = append(out, sig)
			}
		}
		i = j
	}
	return out
}
