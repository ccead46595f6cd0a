package dnslb

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
)

// FuzzDecide feeds arbitrary queries to decide and encode (the memo
// off): any that unpacks must get a reply that unpacks, answers its ID and
// fits the requester's size over UDP, and nothing may panic.
func FuzzDecide(f *testing.F) {
	cfg, err := config.Load("testdata/dnslb.toml")
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	w := answer.NewWorker(srv.Store(), answer.Stages{}, nil)
	w.SetMemo(false)
	buf := make([]byte, 65535)
	for _, b := range seedQueries(f) {
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, pkt []byte, tcp bool) {
		req := new(dns.Msg)
		if err := req.Unpack(pkt); err != nil || req.Response {
			return // the server loop answers these with FORMERR, or not at all
		}
		b := w.Answer(pkt, testClient, buf, tcp, time.Now(), nil)
		if b == nil {
			return
		}
		reply := new(dns.Msg)
		if err := reply.Unpack(b); err != nil {
			t.Fatalf("reply to %v does not unpack: %v", req, err)
		}
		if reply.Id != req.Id {
			t.Fatalf("reply ID %d to query %d", reply.Id, req.Id)
		}
		limit := 512
		if opt := req.IsEdns0(); opt != nil {
			limit = max(limit, int(opt.UDPSize()))
		}
		if !tcp && len(b) > limit {
			t.Fatalf("UDP reply of %d bytes over the requester's %d", len(b), limit)
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
