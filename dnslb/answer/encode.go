package answer

import (
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/wire"
)

// encode writes the reply p to bytes, into buf when it fits: our OPT
// record (buffer size, DO echoed as RFC 3225 has it, the ECS option
// echoed with the answer's scope, an Extended DNS Error, our NSID when
// asked), truncated to
// the requester's size over UDP, names compressed, and the question
// written back as asked. It is the only place replies become bytes; the
// memo keeps what it wrote.
func encode(p *Plan, buf []byte) ([]byte, error) {
	m := p.msg
	if p.edns {
		o := &p.opt
		*o = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}, Option: p.options[:0]}
		o.SetUDPSize(uint16(p.snap.UDPSize))
		if p.do {
			o.SetDo()
		}
		if p.co {
			o.SetCo() // RFC 9824 section 4: the responder knows the flag
		}
		if p.echo {
			e := p.ecs
			p.ecsOut = dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: e.Family, SourceNetmask: e.SourceNetmask,
				SourceScope: uint8(p.scope), Address: e.Address}
			o.Option = append(o.Option, &p.ecsOut)
		}
		if p.ede != edeNone {
			p.edeOut = dns.EDNS0_EDE{InfoCode: p.ede}
			o.Option = append(o.Option, &p.edeOut)
		}
		if p.nsid {
			p.nsidOut = dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: p.snap.NSID}
			o.Option = append(o.Option, &p.nsidOut)
		}
		m.Extra = append(m.Extra, o)
	}
	if p.limit > 0 {
		p.cut = truncate(m, p.limit, p.deleg)
	}
	out, err := m.PackBuffer(buf)
	if err != nil {
		return nil, err
	}
	if p.asked != "" {
		wire.RestoreCase(out, p.asked)
	}
	return out, nil
}

// truncate makes m fit in limit bytes, and reports whether it had to cut.
// Additional RRsets go first, whole (they are optional, and a partial
// RRset would be cached as the whole: RFC 2181 section 9): kept in order
// while they fit, skipping one that does not. If the answer and authority
// still do not fit, the reply has TC=1 and keeps the answer's leading
// RRsets that fit whole (a CNAME before a large RRset, say), as NSD and
// Knot send it, so that the client retries over TCP (RFC 1035 section
// 4.2.1). A referral (deleg, the delegation point, not "") that cannot
// carry all its in-domain glue has TC=1 too (RFC 9471 section 3).
func truncate(m *dns.Msg, limit int, deleg string) (cut bool) {
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
			} else if deleg != "" && inDomainGlue(extra[i], deleg) {
				m.Truncated = true
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

// inDomainGlue reports whether rr is an address record at or below the
// delegation point deleg: glue the child's name servers cannot be
// reached without (RFC 9471 section 2.1).
func inDomainGlue(rr dns.RR, deleg string) bool {
	h := rr.Header()
	if h.Rrtype != dns.TypeA && h.Rrtype != dns.TypeAAAA {
		return false
	}
	name := strings.ToLower(h.Name)
	return name == deleg || strings.HasSuffix(name, "."+deleg)
}

// rrsetEnd returns where the RRset that starts at rrs[i] ends, with the
// RRSIGs that follow it and cover it: truncation keeps an RRset with its
// signatures or drops both.
func rrsetEnd(rrs []dns.RR, i int) int {
	j := i + 1
	for j < len(rrs) && sameRRset(rrs[i], rrs[j]) {
		j++
	}
	t := rrs[i].Header().Rrtype
	for j < len(rrs) {
		sig, ok := rrs[j].(*dns.RRSIG)
		if !ok || sig.TypeCovered != t || !strings.EqualFold(sig.Hdr.Name, rrs[i].Header().Name) {
			break
		}
		j++
	}
	return j
}

func sameRRset(a, b dns.RR) bool {
	ha, hb := a.Header(), b.Header()
	return ha.Rrtype == hb.Rrtype && ha.Class == hb.Class && strings.EqualFold(ha.Name, hb.Name)
}
