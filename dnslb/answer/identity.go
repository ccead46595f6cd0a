package answer

import (
	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones"
)

// Identity of the server, as NSD and Knot give it: the NSID option
// (RFC 5001) to queries that carry one, and TXT records in class CH for
// the names BIND started (id.server, RFC 4892; hostname.bind,
// version.server, version.bind). Both come from the generation's serving
// settings (state.Serving), so a reload changes them and the memo, which
// holds CH replies like any other, drops the old ones with it.

// asksNSID reports whether the query's OPT record carries an NSID
// option. Such queries never reach the memo (parseQuery takes only ECS
// and cookies), so the reply is always made here and by encode.
func asksNSID(opt *dns.OPT) bool {
	for _, o := range opt.Option {
		if o.Option() == dns.EDNS0NSID {
			return true
		}
	}
	return false
}

// chaos answers a query in class CH: a TXT (or ANY, as NSD answers it)
// query for one of the identity names gets one TXT record with TTL 0 and
// no AA bit, as NSD and Knot send it; a hidden one, another name or
// another type REFUSED.
func (p *Plan) chaos(q dns.Question) {
	m := p.msg
	m.Rcode = dns.RcodeRefused
	if q.Qtype != dns.TypeTXT && q.Qtype != dns.TypeANY {
		return
	}
	var txt string
	switch zones.Lower(q.Name) {
	case "id.server.", "hostname.bind.":
		txt = p.snap.Identity
	case "version.server.", "version.bind.":
		txt = p.snap.Version
	}
	if txt == "" {
		return
	}
	m.Rcode = dns.RcodeSuccess
	m.Answer = append(m.Answer, &dns.TXT{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS, Ttl: 0},
		Txt: []string{txt},
	})
}
