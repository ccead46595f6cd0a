package wire

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestAppendOption: the option goes into an OPT record that ends the
// reply, and nowhere else.
func TestAppendOption(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	plain, _ := m.Pack()
	data := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if got := AppendOption(plain, dns.EDNS0COOKIE, data); !bytes.Equal(got, plain) {
		t.Errorf("no OPT: changed")
	}
	m.SetEdns0(1232, false)
	edns, _ := m.Pack()
	r := new(dns.Msg)
	if err := r.Unpack(AppendOption(edns, dns.EDNS0COOKIE, data)); err != nil {
		t.Fatal(err)
	}
	if o := r.IsEdns0(); o == nil || len(o.Option) != 1 || o.Option[0].(*dns.EDNS0_COOKIE).Cookie != hex.EncodeToString(data) {
		t.Errorf("OPT: %v", r.Extra)
	}
	m.Extra = append(m.Extra, &dns.TSIG{Hdr: dns.RR_Header{Name: "k.", Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: dns.HmacSHA256, TimeSigned: uint64(time.Now().Unix()), Fudge: 300, OrigId: 1})
	signed, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendOption(signed, dns.EDNS0COOKIE, data); !bytes.Equal(got, signed) {
		t.Errorf("TSIG after OPT: changed")
	}
}

func reply(t *testing.T, n int) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	r := new(dns.Msg)
	r.SetReply(m)
	for i := range n {
		r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: "www.example.org.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
			A: []byte{192, 0, 2, byte(i + 1)}})
	}
	r.SetEdns0(1232, false)
	r.Compress = true
	out, err := r.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSlip: TC=1 with the question and our OPT record, or BADCOOKIE.
func TestSlip(t *testing.T) {
	for _, bad := range []bool{false, true} {
		r := new(dns.Msg)
		if err := r.Unpack(Slip(reply(t, 3), true, true, 1232, bad)); err != nil {
			t.Fatal(err)
		}
		opt := r.IsEdns0()
		if len(r.Answer)+len(r.Ns) != 0 || len(r.Question) != 1 || opt == nil || !opt.Do() || opt.UDPSize() != 1232 {
			t.Errorf("slip (cookie %v): %v", bad, r)
		}
		if bad && (r.Rcode != RcodeBadCookie || r.Truncated) || !bad && (r.Rcode != 0 || !r.Truncated) {
			t.Errorf("slip (cookie %v): rcode %d, TC %v", bad, r.Rcode, r.Truncated)
		}
	}
	if Slip([]byte{1, 2, 3}, false, false, 512, false) != nil {
		t.Error("a short reply slipped")
	}
}

// TestRotate: every rotation PermShape allows is the records in turn.
func TestRotate(t *testing.T) {
	const n = 4
	in := reply(t, n)
	ans, rec, ok := PermShape(in, len("\x03www\x07example\x03org\x00"), n)
	if !ok {
		t.Fatal("PermShape refused four A records")
	}
	for d := range n {
		out := make([]byte, len(in))
		Rotate(out, in, ans, rec, n, d)
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatal(err)
		}
		for i, rr := range r.Answer {
			if got, want := rr.(*dns.A).A[3], byte((i+d)%n+1); got != want {
				t.Errorf("rotation %d, record %d: .%d, want .%d", d, i, got, want)
			}
		}
	}
	if _, _, ok := PermShape(reply(t, 1), 17, 1); ok {
		t.Error("PermShape took one record")
	}
}

// TestSOATemplate: a template of one name's NXDOMAIN answers another
// name of the zone, of another length, as the packer would.
func TestSOATemplate(t *testing.T) {
	nx := func(name string) []byte {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r := new(dns.Msg)
		r.SetRcode(m, dns.RcodeNameError)
		soa, err := dns.NewRR("example.org. 300 IN SOA ns1.example.org. admin.example.org. 1 7200 900 1209600 300")
		if err != nil {
			t.Fatal(err)
		}
		r.Ns = []dns.RR{soa}
		r.Compress = true
		out, err := r.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	qn := func(name string) []byte {
		b := make([]byte, 256)
		n, _ := dns.PackDomainName(name, b, 0, nil, false)
		return b[:n]
	}
	tm, ok := SOATemplate(nx("a.example.org."), qn("a.example.org."), 2)
	if !ok {
		t.Fatal("SOATemplate refused a plain NXDOMAIN")
	}
	for _, name := range []string{"b.example.org.", "longer-name.example.org.", "x.y.example.org."} {
		want := nx(name)
		got := tm.Write(make([]byte, 512), want, len(qn(name)))
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", name, got, want)
		}
	}
}

// FuzzQueryParse: what Parse takes, miekg/dns unpacks to the same
// question, with at most the ECS and COOKIE options Parse saw.
func FuzzQueryParse(f *testing.F) {
	for _, name := range []string{"www.example.org.", "WWW.Example.ORG."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		b, _ := m.Pack()
		f.Add(b)
		m.SetEdns0(1232, true)
		o := m.IsEdns0()
		o.Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{198, 51, 100, 0}},
			&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "2464c4abcf10c957"}}
		b, _ = m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var q Query
		kbuf := make([]byte, KeyMax)
		if !q.Parse(pkt, kbuf) {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(pkt); err != nil {
			t.Fatalf("Parse took what Unpack refuses (%v): %x", err, pkt)
		}
		if len(m.Question) != 1 || len(m.Answer)+len(m.Ns) != 0 {
			t.Fatalf("Parse took %v", m)
		}
		name := make([]byte, 256)
		n, err := dns.PackDomainName(strings.ToLower(m.Question[0].Name), name, 0, nil, false)
		if err != nil || !bytes.Equal(q.Key[:n], name[:n]) || len(q.Key) != n+5 {
			t.Fatalf("key %x for %v", q.Key, m.Question[0])
		}
		opt := m.IsEdns0()
		if (opt != nil) != (q.Flags()&FlagOPT != 0) || opt != nil && (opt.Do() != (q.Flags()&FlagDO != 0) || opt.Co() != (q.Flags()&FlagCO != 0)) {
			t.Fatalf("flags %x for %v", q.Flags(), m)
		}
		if q.ECS != nil && !ValidECS(q.ECS) {
			t.Fatalf("ECS %x", q.ECS)
		}
	})
}
