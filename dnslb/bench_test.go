package dnslb

import (
	"testing"

	"github.com/miekg/dns"
)

func BenchmarkHandleQuery(b *testing.B) {
	cfg, err := LoadConfig("testdata/dnslb.toml")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"rotate", "www.example.org.", dns.TypeA},
		{"single", "mail.example.org.", dns.TypeA},
		{"nxdomain", "nope.example.org.", dns.TypeAAAA},
		{"referral", "a.sub.example.org.", dns.TypeA},
		{"wildcard", "x.w.example.org.", dns.TypeA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := new(dns.Msg)
			req.SetQuestion(bc.qname, bc.qtype)
			req.SetEdns0(1232, false)
			buf := make([]byte, 0, 1232)
			b.ReportAllocs()
			for b.Loop() {
				m := srv.HandleQuery(req, Client{})
				if _, err := m.PackBuffer(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
