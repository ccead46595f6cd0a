package zones

import (
	"strconv"

	"github.com/miekg/dns"
)

// Kind says what sort of answer a lookup found.
type Kind uint8

// The kinds of answer (RFC 1034 section 4.3.2, RFC 2308).
const (
	Success  Kind = iota // Answer holds the data (possibly after CNAMEs)
	NoData               // the name exists but not the type: SOA in Authority
	NXDomain             // the name does not exist: SOA in Authority
	Referral             // the name is at or below a delegation: NS in Authority, glue in Additional
	YXDomain             // a DNAME substitution made a name too long (RFC 6672 section 2.2)
)

var kindNames = [...]string{"success", "nodata", "nxdomain", "referral", "yxdomain"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Item is one RRset of an answer or of its additional data. Owner is set
// when the records must be served under another name than their own: a
// wildcard expansion (RFC 4592) or a CNAME synthesised from a DNAME (Synth
// then holds the record).
type Item struct {
	Set   *RRset
	Owner string
	Synth dns.RR
}

// Name is the name it is served under.
func (it Item) Name() string {
	if it.Owner != "" {
		return it.Owner
	}
	return it.Set.Name()
}

// Result is what a lookup found. Its slices are reused by Reset, so a
// caller that keeps a Result in a pool allocates nothing per query.
type Result struct {
	Kind       Kind
	Answer     []Item
	Authority  []*RRset
	Additional []Item
	// Wildcard is the owner of the wildcard (RFC 4592) that answered
	// the query name itself, "" for none: rate limiting counts those
	// answers there, since anyone can make names under it.
	Wildcard string
}

// Reset empties r for reuse.
func (r *Result) Reset() {
	r.Kind = Success
	r.Answer = r.Answer[:0]
	r.Authority = r.Authority[:0]
	r.Additional = r.Additional[:0]
	r.Wildcard = ""
}

// maxChain bounds how many CNAMEs a lookup follows inside the zone.
const maxChain = 16

// Lookup answers qname/qtype from the zone into r (after r.Reset). qname is
// lower case, fully qualified and inside the zone. CNAMEs are followed while
// their targets stay inside the zone; DNAMEs are expanded (RFC 6672).
func (z *Zone) Lookup(qname string, qtype uint16, r *Result) {
	r.Reset()
	name := qname
	for range maxChain {
		next, done := z.lookupOne(name, qtype, r)
		if done {
			return
		}
		if !IsSubdomain(next, z.Origin) {
			return // the chain leaves the zone: the resolver continues it
		}
		name = next
	}
}

// lookupOne answers one step of a chain. It returns the name to continue
// with when it added a CNAME, or done.
func (z *Zone) lookupOne(name string, qtype uint16, r *Result) (next string, done bool) {
	// Walk down from the apex, one label at a time, looking for a zone cut
	// or a DNAME above the name, and for the closest encloser.
	encloser := z.Apex
	if encloser.flags&hasDNAME != 0 && name != z.Origin {
		return z.synthDNAME(encloser, name, qtype, r)
	}
	exact := name == z.Origin
	for end := len(name) - len(z.Origin); end > 0 && !exact; {
		start := prevLabel(name, end-1)
		n := z.nodes.get(name[start:])
		if n == nil {
			break
		}
		encloser = n
		exact = start == 0
		if n.Cut && !(exact && qtype == dns.TypeDS) {
			r.Kind = Referral
			ns := n.Set(dns.TypeNS)
			r.Authority = append(r.Authority, ns)
			r.Additional = append(r.Additional, z.adds[ns]...)
			return "", true
		}
		if n.flags&hasDNAME != 0 && !exact {
			return z.synthDNAME(n, name, qtype, r)
		}
		end = start
	}
	if exact {
		return z.answerNode(encloser, "", qtype, r)
	}
	if w := z.Wild(encloser); w != nil {
		if len(r.Answer) == 0 {
			r.Wildcard = w.Name
		}
		return z.answerNode(w, name, qtype, r)
	}
	r.Kind = NXDomain
	r.Authority = append(r.Authority, z.soaNeg)
	return "", true
}

// answerNode answers from node n, served under owner when that is set.
func (z *Zone) answerNode(n *Node, owner string, qtype uint16, r *Result) (string, bool) {
	if qtype == dns.TypeANY && len(n.Sets) > 0 {
		// RFC 8482: one RRset is enough. Like Knot, the one of the lowest
		// type (a CNAME if there is one), with its additional data.
		s := n.Sets[0]
		if c := n.cname(); c != nil {
			s = c
		}
		r.Kind = Success
		r.Answer = append(r.Answer, Item{Set: s, Owner: owner})
		r.Additional = append(r.Additional, z.Additional(s)...)
		return "", true
	}
	if s := n.Set(qtype); s != nil {
		r.Kind = Success
		r.Answer = append(r.Answer, Item{Set: s, Owner: owner})
		r.Additional = append(r.Additional, z.Additional(s)...)
		return "", true
	}
	if c := n.cname(); c != nil && qtype != dns.TypeRRSIG && qtype != dns.TypeNSEC {
		// (RRSIG and NSEC asked at a CNAME are not followed: NODATA, as
		// Knot answers; they belong to the name itself.)
		r.Kind = Success
		for _, it := range r.Answer {
			if it.Set == c && it.Owner == owner {
				return "", true // a loop: stop before it repeats a record
			}
		}
		r.Answer = append(r.Answer, Item{Set: c, Owner: owner})
		return Lower(c.rrs[0].(*dns.CNAME).Target), false
	}
	r.Kind = NoData
	r.Authority = append(r.Authority, z.soaNeg)
	return "", true
}

// synthDNAME adds the DNAME at n and the CNAME it implies for name, and
// returns the CNAME target to follow (RFC 6672 section 3.3), or done:
// when the chain loops, the name grows too long, or the question is for
// the CNAME itself (as NSD and Knot answer).
func (z *Zone) synthDNAME(n *Node, name string, qtype uint16, r *Result) (next string, done bool) {
	dn := n.dname()
	d := dn.rrs[0].(*dns.DNAME)
	prefix := name[:len(name)-len(n.Name)]
	target := prefix + Lower(d.Target)
	if d.Target == "." {
		target = prefix
	}
	r.Kind = Success
	seen := false // the DNAME is in the answer already: a chain through it twice
	for _, it := range r.Answer {
		if it.Set == dn && it.Owner == name {
			return "", true // a loop: this name was rewritten before
		}
		seen = seen || it.Set == dn && it.Synth == nil
	}
	if !seen {
		r.Answer = append(r.Answer, Item{Set: dn})
	}
	if _, ok := dns.IsDomainName(target); !ok || len(target) > 255 {
		// RFC 6672 section 2.2: the result is too long.
		r.Kind = YXDomain
		return "", true
	}
	c := &dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: d.Hdr.Ttl}, Target: target}
	r.Answer = append(r.Answer, Item{Set: dn, Owner: name, Synth: c})
	return target, qtype == dns.TypeCNAME
}

// prevLabel returns the start of the label that ends at index end (the
// index of its trailing dot) in name.
func prevLabel(name string, end int) int {
	for i := end - 1; i >= 0; i-- {
		if name[i] == '.' && !escaped(name, i) {
			return i + 1
		}
	}
	return 0
}
