package answer

import (
	"encoding/binary"
	"unsafe"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/rrl"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/dnslb/wire"
	"github.com/dnslb/dnslb/zones"
)

// negCache answers NXDOMAIN for names never asked before without the full
// path. Every NXDOMAIN from one zone is the same reply but for the
// question: the header, then the zone's SOA in authority and our OPT
// record. Only the compression pointers in that tail differ, shifted by
// the difference in length between the question names, as long as they
// point into the zone's part of the question or into the tail itself. So
// the first NXDOMAIN the full path gives for a zone (and flags) becomes a
// template, and a later query whose name the zone's lookup says does not
// exist is answered with the header, the query's own question and the
// tail with its pointers moved. A random-subdomain flood, every name new,
// then costs a parse, the lookup and a copy instead of the full path.
// Anything else (a CNAME before the NXDOMAIN, a name needing escapes, a
// template that can't be moved) takes the full path.
//
// REFUSED, for a name in none of our zones, is the same for every name
// but the question, with no pointers at all: the first one the full path
// gives (per flags, without ECS) is kept in refused, so that scanners and
// queries for zones delegated to us by mistake cost a parse, the zone
// lookup and a copy too.
type negCache struct {
	snap    *state.Snapshot // the snapshot the templates were made from
	tmpl    map[negKey]*negTemplate
	refused [16]*negTemplate // by flags (RD, OPT, DO, CO); only hdr and tail are set
	room    int              // bytes a reply leaves free under 512 (newMemo)
	name    [255 + 1]byte    // the question name in presentation form
	res     zones.Result
	hits    int // replies served (for tests)
}

type negKey struct {
	zone  string
	flags byte // RD, OPT, DO, CO: the last byte of the fast key
}

// negTemplate is one zone's NXDOMAIN reply (wire.SOATemplate), or a
// REFUSED (wire.PlainTemplate). A question name at or below one of avoid (the SOA's MNAME and RNAME and
// their parents, down to the zone's origin) would have the packer point
// into its own labels instead: those take the full path.
type negTemplate struct {
	*wire.Template
	avoid []string
}

// nameOf writes the question name of the fast key into c.name as a
// presentation-form FQDN and returns it (valid until the next call), or
// false when a label holds a byte that would need escaping.
func (c *negCache) nameOf(q []byte) (string, bool) {
	n := 0
	for off := 0; ; {
		l := int(q[off])
		if l == 0 {
			break
		}
		for _, b := range q[off+1 : off+1+l] {
			if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
				return "", false
			}
		}
		n += copy(c.name[n:], q[off+1:off+1+l])
		c.name[n] = '.'
		n++
		off += 1 + l
	}
	if n == 0 {
		return "", false // the root: no zone of ours
	}
	return unsafe.String(&c.name[0], n), true
}

// answer writes the NXDOMAIN reply to q (a fast query, no precomputed
// reply for its key) into buf if its name does not exist in a zone with a
// template, and counts it in the metrics (the caller times it).
//
// With a reply, lk gets its rate-limit account: NXDOMAIN at the zone,
// REFUSED an error.
func (c *negCache) answer(acct Account, snap *state.Snapshot, q *fastQuery, pkt, buf []byte, tcp bool, lk *limitKey) []byte {
	if snap != c.snap {
		clear(c.tmpl)
		c.refused = [16]*negTemplate{}
		c.snap = snap
		return nil
	}
	flags := q.Key[len(q.Key)-1] & 15
	if len(c.tmpl) == 0 && (c.refused[flags] == nil || q.ECS != nil) {
		return nil
	}
	qn := q.Key[:len(q.Key)-1-4] // the name, without type, class and flags
	qtype := binary.BigEndian.Uint16(q.Key[len(qn):])
	qclass := binary.BigEndian.Uint16(q.Key[len(qn)+2:])
	if qclass != dns.ClassINET || isMetaType(qtype) || qtype == dns.TypeAXFR || qtype == dns.TypeIXFR {
		return nil
	}
	name, ok := c.nameOf(qn)
	if !ok {
		return nil
	}
	z := snap.Zone(name)
	if z == nil {
		lk.class, lk.name = rrl.Error, ""
		return c.refusedReply(acct, q, pkt, buf, qtype, tcp)
	}
	t := c.tmpl[negKey{z.Origin, q.Key[len(q.Key)-1]}]
	if t == nil {
		return nil
	}
	for _, a := range t.avoid {
		if zones.IsSubdomain(name, a) {
			return nil
		}
	}
	z.Lookup(name, qtype, &c.res)
	nx := c.res.Kind == zones.NXDomain && len(c.res.Answer) == 0
	c.res.Reset()
	if !nx {
		return nil
	}
	n := t.Len(len(qn))
	if n+len(q.ECS)+c.room > len(buf) || !tcp && n+len(q.ECS)+c.room > minUDPSize {
		return nil // the full path truncates it, for the client's size
	}
	out := t.Write(buf, pkt, len(qn))
	if q.ECS != nil {
		out = wire.EchoECS(out, q.ECS, 0) // scope: the answer depends on no client
	}
	c.hits++
	lk.class, lk.name = rrl.NXDomain, z.Origin
	if ref, _ := acct.Counter(z.Origin, qtype, dns.RcodeNameError, "", tcp); ref != nil {
		ref.Inc()
	}
	return out
}

// refusedReply writes the REFUSED reply to q, a name in none of our
// zones, from the template for its flags, if there is one.
func (c *negCache) refusedReply(acct Account, q *fastQuery, pkt, buf []byte, qtype uint16, tcp bool) []byte {
	t := c.refused[q.Key[len(q.Key)-1]&15]
	if t == nil || q.ECS != nil || t.Len(len(q.Qname))+c.room > len(buf) {
		return nil
	}
	out := t.Write(buf, pkt, len(q.Qname)) // no pointers: the question as asked
	c.hits++
	if ref, _ := acct.Counter("", qtype, dns.RcodeRefused, "", tcp); ref != nil {
		ref.Inc()
	}
	return out
}

// putRefused keeps wire, the full path's REFUSED reply to q, as the
// template for q's flags when it is the plain shape: the header (QR, RD
// as asked, nothing else but the rcode), the question, and nothing or our
// OPT record (with its Extended DNS Error). It has no compression
// pointers: the tail serves any question.
func (c *negCache) putRefused(q *fastQuery, p *Plan, reply []byte) {
	m := p.msg
	flags := q.Key[len(q.Key)-1] & 15
	tailAt := 12 + len(q.Qname) + 4
	// Only the REFUSED of a name outside the zones (EDE 20): one of class
	// CH or another class has no EDE, and would make every later one lack it.
	if m.Rcode != dns.RcodeRefused || p.ede != edeNotAuthoritative || p.zone != "" || q.ECS != nil || c.refused[flags] != nil ||
		p.snap == nil || p.snap != c.snap || len(reply) < tailAt ||
		reply[2]&^1 != 0x80 || reply[3] != dns.RcodeRefused || binary.BigEndian.Uint64(reply[4:])>>16 != 1<<32 {
		return
	}
	tail := reply[tailAt:]
	if binary.BigEndian.Uint16(reply[10:]) != uint16(flags>>1&1) ||
		len(tail) != 0 && (len(tail) < 11 || tail[0] != 0 || binary.BigEndian.Uint16(tail[1:]) != dns.TypeOPT ||
			int(binary.BigEndian.Uint16(tail[9:])) != len(tail)-11) {
		return
	}
	c.refused[flags] = &negTemplate{Template: wire.PlainTemplate(reply, len(q.Qname))}
}

// put makes the template of qc's zone from reply, the full path's reply to
// q, when it is a plain NXDOMAIN whose pointers can be moved.
func (c *negCache) put(q *fastQuery, p *Plan, reply []byte) {
	m := p.msg
	if p.snap == nil || p.snap != c.snap || m.Rcode != dns.RcodeNameError || len(m.Answer) != 0 ||
		len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA || m.Truncated || p.zone == "" {
		return
	}
	k := negKey{p.zone, q.Key[len(q.Key)-1]}
	if c.tmpl[k] != nil {
		return
	}
	tmpl, ok := wire.WithoutECS(&q.Query, reply)
	if !ok {
		return
	}
	wt, ok := wire.SOATemplate(tmpl, q.Key[:len(q.Key)-1-4], dns.CountLabel(p.zone))
	t := &negTemplate{Template: wt}
	if !ok {
		return // e.g. this name is below the SOA's MNAME: another may do
	}
	soa := m.Ns[0].(*dns.SOA)
	for _, n := range []string{zones.Lower(soa.Ns), zones.Lower(soa.Mbox)} {
		for n != p.zone && zones.IsSubdomain(n, p.zone) {
			t.avoid = append(t.avoid, n)
			n = n[zones.NextLabel(n, 0):]
		}
	}
	if c.tmpl == nil {
		c.tmpl = make(map[negKey]*negTemplate)
	}
	c.tmpl[k] = t
}
