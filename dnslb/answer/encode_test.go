package answer

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// TestTruncate: additional RRsets go whole, never in part; when the answer
// does not fit, TC=1 keeps the answer's leading RRsets that fit whole.
func TestTruncate(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	many := func(owner string, n int) []dns.RR {
		var out []dns.RR
		for i := range n {
			out = append(out, rr(fmt.Sprintf("%s 300 IN A 192.0.2.%d", owner, i+1)))
		}
		return out
	}
	msg := func(answer, extra []dns.RR) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("c.example.org.", dns.TypeA)
		m.Response = true
		m.Answer, m.Extra = answer, extra
		return m
	}

	// A CNAME, then 40 addresses: 512 bytes hold the CNAME alone.
	m := msg(append([]dns.RR{rr("c.example.org. 300 IN CNAME big.example.org.")}, many("big.example.org.", 40)...), nil)
	if !truncate(m, 512, "") || !m.Truncated || len(m.Answer) != 1 || m.Answer[0].Header().Rrtype != dns.TypeCNAME {
		t.Errorf("CNAME + 40 A: TC %v, answer %v; want TC and the CNAME", m.Truncated, m.Answer)
	}
	// 40 addresses alone: nothing fits whole.
	m = msg(many("big.example.org.", 40), nil)
	if !truncate(m, 512, "") || !m.Truncated || len(m.Answer) != 0 {
		t.Errorf("40 A: TC %v, %d answers; want TC and none", m.Truncated, len(m.Answer))
	}
	// Additional: two glue RRsets and 28 addresses of another name last;
	// the 28 go, whole, and the glue stays; no TC.
	extra := append([]dns.RR{rr("ns2.y.example.org. 300 IN A 192.0.2.1"), rr("ns2.y.example.org. 300 IN AAAA 2001:db8::1")}, many("big.example.org.", 28)...)
	m = msg([]dns.RR{rr("c.example.org. 300 IN A 192.0.2.99")}, append(extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}))
	if !truncate(m, 512, "") || m.Truncated || len(m.Answer) != 1 || len(m.Extra) != 3 || m.Extra[2].Header().Rrtype != dns.TypeOPT {
		t.Errorf("additional: TC %v, answer %d, extra %v; want the glue and OPT, no TC", m.Truncated, len(m.Answer), m.Extra)
	}
	// The 28 first: they go whole, and the glue after them goes first.
	m = msg(nil, append(many("big.example.org.", 28), extra[:2]...))
	truncate(m, 200, "")
	for _, r := range m.Extra {
		if r.Header().Name == "big.example.org." && len(m.Extra) != 28 {
			t.Errorf("a part of an RRset was kept: %d records", len(m.Extra))
			break
		}
	}
	if m.Len() > 200 {
		t.Errorf("%d bytes, want at most 200", m.Len())
	}
	// A large RRset between small ones: it goes, the ones after it stay
	// (as Knot keeps them).
	small1, small2 := rr("a.example.org. 300 IN A 192.0.2.1"), rr("b.example.org. 300 IN A 192.0.2.2")
	m = msg(nil, append(append([]dns.RR{small1}, many("big.example.org.", 40)...), small2))
	if !truncate(m, 512, "") || m.Truncated || len(m.Extra) != 2 || m.Extra[1] != small2 {
		t.Errorf("small, 40, small: TC %v, extra %v; want both small ones", m.Truncated, m.Extra)
	}
	// Fits: untouched.
	m = msg(many("www.example.org.", 3), nil)
	if truncate(m, 512, "") || len(m.Answer) != 3 {
		t.Errorf("a small reply was cut")
	}
}
