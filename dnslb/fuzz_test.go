package dnslb

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
)

// FuzzDecide feeds arbitrary queries to decide and encode: any that
// unpacks must get a reply that encodes within the requester's size over
// UDP, and nothing may panic.
func FuzzDecide(f *testing.F) {
	cfg, err := config.Load("testdata/dnslb.toml")
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range seedQueries(f) {
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, pkt []byte, tcp bool) {
		req := new(dns.Msg)
		if err := req.Unpack(pkt); err != nil {
			return // the server loop answers these with FORMERR
		}
		p := plan{msg: new(dns.Msg)}
		if !decide(srv.store.Snapshot(), req, Client{TCP: tcp}, &p) {
			return
		}
		b, err := encode(&p, nil)
		if err != nil {
			t.Fatalf("reply to %v does not encode: %v", req, err)
		}
		if !tcp && len(b) > max(p.limit, minUDPSize) {
			t.Fatalf("UDP reply of %d bytes over the limit %d", len(b), p.limit)
		}
	})
}

// seedQueries are packed queries for the fuzzers' seed corpora: a mix of
// answers, referrals, wildcards, DNAME, truncation, mixed case and EDNS.
func seedQueries(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  bool
	}{
		{"www.example.org.", dns.TypeA, false}, {"WWW.Example.ORG.", dns.TypeA, true},
		{"x.cn.example.org.", dns.TypeAAAA, true}, {"x.w.example.org.", dns.TypeA, true},
		{"host.sub.example.org.", dns.TypeA, true}, {"big.example.org.", dns.TypeTXT, false},
		{"a.dn.example.org.", dns.TypeA, true}, {"child.example.org.", dns.TypeDS, true},
		{"nope.example.org.", dns.TypeAAAA, false}, {"example.org.", dns.TypeANY, false},
		{"example.com.", dns.TypeA, false},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		if q.edns {
			m.SetEdns0(1232, true)
		}
		b, err := m.Pack()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
