package dnslb

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// benchQueries are the common query shapes, with the config they need:
// testdata/dnslb.toml, or the geo config (writeGeoConfig) for ECS.
var benchQueries = []struct {
	name  string
	qname string
	qtype uint16
	edns  bool
	ecs   string // ECS /24 subnet; the geo config
	// cookie: "client" sends a client cookie alone, "good" the server
	// cookie the server gave it (RFC 7873; a resolver's usual query)
	cookie string
}{
	{"rotate", "www.example.org.", dns.TypeA, false, "", ""},
	{"rotate-edns", "www.example.org.", dns.TypeA, true, "", ""},
	{"rotate-cookie", "www.example.org.", dns.TypeA, true, "", "client"},
	{"rotate-goodcookie", "www.example.org.", dns.TypeA, true, "", "good"},
	{"single", "mail.example.org.", dns.TypeA, false, "", ""},
	{"nxdomain", "nope.example.org.", dns.TypeAAAA, true, "", ""},
	{"refused", "www.example.com.", dns.TypeA, true, "", ""},
	{"referral", "a.sub.example.org.", dns.TypeA, false, "", ""},
	{"wildcard", "x.w.example.org.", dns.TypeA, false, "", ""},
	{"geo-ecs-jp", "geo.example.org.", dns.TypeA, true, "198.51.100.0", ""},
	{"geo-ecs-de", "geo.example.org.", dns.TypeA, true, "192.0.2.0", ""},
	{"geo-ecs-none", "geo.example.org.", dns.TypeA, true, "198.18.0.0", ""},
}

func benchQuery(tb testing.TB, qname string, qtype uint16, edns bool, ecs string) *dns.Msg {
	req := new(dns.Msg)
	req.SetQuestion(qname, qtype)
	if edns || ecs != "" {
		req.SetEdns0(1232, false)
	}
	if ecs != "" {
		req.IsEdns0().Option = append(req.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP(ecs)})
	}
	return req
}

func benchServer(tb testing.TB, geo bool) *Server {
	path := "testdata/dnslb.toml"
	if geo {
		path = writeGeoConfig(tb)
	}
	return newConfigServer(tb, path)
}

// BenchmarkHandleQuery is the server's per-query path as UDP and TCP run
// it, without sockets: the query's bytes in, the reply's bytes out, with
// the serving goroutine's scratch and metrics. The plain cases are the
// steady state, where the common queries are served from the memo; the
// full/ cases go the whole way every time (unpack, decide, encode), as a
// query does the first time it is seen for a name and decision, or when
// its reply can't be kept.
func BenchmarkHandleQuery(b *testing.B) {
	workers := map[bool]*udpWorker{false: newUDPWorker(benchServer(b, false)), true: newUDPWorker(benchServer(b, true))}
	for _, full := range []bool{false, true} {
		for _, bc := range benchQueries {
			name := bc.name
			if full {
				name = "full/" + name
			}
			b.Run(name, func(b *testing.B) {
				w := workers[bc.ecs != ""]
				if full {
					w.ans.SetMemo(false)
					defer w.ans.SetMemo(true)
				}
				q := benchQuery(b, bc.qname, bc.qtype, bc.edns, bc.ecs)
				if bc.cookie != "" {
					q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
				}
				pkt, err := q.Pack()
				if err != nil {
					b.Fatal(err)
				}
				if bc.cookie == "good" {
					// The server cookie this server gives the client.
					r := new(dns.Msg)
					if err := r.Unpack(w.answer(pkt, testClient, w.outs[0])); err != nil {
						b.Fatal(err)
					}
					q.IsEdns0().Option = r.IsEdns0().Option
					if pkt, err = q.Pack(); err != nil || len(r.IsEdns0().Option) != 1 {
						b.Fatalf("no server cookie: %v", r)
					}
				}
				b.ReportAllocs()
				for b.Loop() {
					if w.answer(pkt, testClient, w.outs[0]) == nil {
						b.Fatal("no reply")
					}
				}
			})
		}
	}
}
