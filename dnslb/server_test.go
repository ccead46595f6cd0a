package dnslb

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
)

// launch runs a server for the config at path on 127.0.0.1:0 (UDP and TCP
// share the port) and waits until it serves. stop cancels it and returns
// Run's error once Run has returned (or a timeout error).
func launch(tb testing.TB, path string, log *slog.Logger) (srv *Server, stop func() error) {
	tb.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Server.Listen = []string{"127.0.0.1:0"}
	return launchConfig(tb, cfg, log)
}

// launchConfig is launch with the config given.
func launchConfig(tb testing.TB, cfg config.Config, log *slog.Logger) (srv *Server, stop func() error) {
	tb.Helper()
	srv, err := New(cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("Run did not return 10s after cancel")
		}
	}
	select {
	case <-srv.Started():
	case err := <-done:
		cancel()
		tb.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		_ = stop()
		tb.Fatal("server did not start")
	}
	return srv, stop
}

// startConfig is launchConfig with the server's log (info and up) in the
// test log, stopped when the test ends.
func startConfig(tb testing.TB, cfg config.Config) *Server {
	tb.Helper()
	srv, stop := launchConfig(tb, cfg, slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	return srv
}

// startServer is launch with the server's log in the test log, stopped
// when the test ends. It returns the server and its address.
func startServer(tb testing.TB, path string) (*Server, string) {
	tb.Helper()
	srv, stop := launch(tb, path, slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	return srv, srv.Addrs()[0].String()
}

func exchange(t testing.TB, addr, net string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: net, Timeout: 2 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", net, m.Question[0].String(), err)
	}
	return r
}

// section renders records as sorted zone-file lines, without OPT.
func section(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
}

func norm(lines []string) []string {
	var out []string
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			panic(err)
		}
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
}

func TestServeAnswers(t *testing.T) {
	_, addr := startServer(t, "testdata/dnslb.toml")
	const soa = "example.org. 60 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60"
	tests := []struct {
		name       string
		qname      string
		qtype      uint16
		rcode      int
		aa         bool
		answer, ns []string
		extra      []string
	}{
		{name: "rrset", qname: "www.example.org.", qtype: dns.TypeA, aa: true, answer: []string{
			"www.example.org. 300 IN A 192.0.2.10", "www.example.org. 300 IN A 192.0.2.11", "www.example.org. 300 IN A 192.0.2.12"}},
		{name: "nodata", qname: "www.example.org.", qtype: dns.TypeMX, aa: true, ns: []string{soa}},
		{name: "nxdomain", qname: "nope.a.b.c.example.org.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "empty non-terminal", qname: "b.c.example.org.", qtype: dns.TypeA, aa: true, ns: []string{soa}},
		{name: "wildcard", qname: "anything.example.org.", qtype: dns.TypeTXT, aa: true, answer: []string{`anything.example.org. 300 IN TXT "wildcard"`}},
		{name: "wildcard nodata", qname: "anything.example.org.", qtype: dns.TypeA, aa: true, ns: []string{soa}},
		{name: "wildcard blocked by ENT", qname: "x.c.example.org.", qtype: dns.TypeTXT, aa: true, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "deeper wildcard", qname: "q.w.example.org.", qtype: dns.TypeA, aa: true, answer: []string{"q.w.example.org. 300 IN A 192.0.2.99"}},
		{name: "wildcard cname", qname: "z.cn.example.org.", qtype: dns.TypeAAAA, aa: true, answer: []string{
			"z.cn.example.org. 300 IN CNAME www.example.org.", "www.example.org. 300 IN AAAA 2001:db8::10"}},
		{name: "cname chain", qname: "chain.example.org.", qtype: dns.TypeAAAA, aa: true, answer: []string{
			"chain.example.org. 300 IN CNAME api.example.org.", "api.example.org. 300 IN CNAME www.example.org.", "www.example.org. 300 IN AAAA 2001:db8::10"}},
		{name: "cname query", qname: "api.example.org.", qtype: dns.TypeCNAME, aa: true, answer: []string{"api.example.org. 300 IN CNAME www.example.org."}},
		{name: "cname out of zone", qname: "out.example.org.", qtype: dns.TypeA, aa: true, answer: []string{"out.example.org. 300 IN CNAME www.example.net."}},
		{name: "cname dangling", qname: "dangling.example.org.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			answer: []string{"dangling.example.org. 300 IN CNAME missing.b.c.example.org."}, ns: []string{soa}},
		{name: "cname loop", qname: "loop1.example.org.", qtype: dns.TypeA, aa: true, answer: []string{
			"loop1.example.org. 300 IN CNAME loop2.example.org.", "loop2.example.org. 300 IN CNAME loop1.example.org."}},
		{name: "mx additional", qname: "example.org.", qtype: dns.TypeMX, aa: true,
			answer: []string{"example.org. 300 IN MX 10 mail.example.org.", "example.org. 300 IN MX 20 mx.example.net."},
			extra:  []string{"mail.example.org. 300 IN A 192.0.2.25"}},
		{name: "ns additional", qname: "example.org.", qtype: dns.TypeNS, aa: true,
			answer: []string{"example.org. 3600 IN NS ns1.example.org.", "example.org. 3600 IN NS ns2.example.net."},
			extra:  []string{"ns1.example.org. 300 IN A 192.0.2.53", "ns1.example.org. 300 IN AAAA 2001:db8::53"}},
		{name: "srv additional", qname: "_sip._udp.example.org.", qtype: dns.TypeSRV, aa: true,
			answer: []string{"_sip._udp.example.org. 300 IN SRV 0 5 5060 www.example.org."},
			extra: []string{"www.example.org. 300 IN A 192.0.2.10", "www.example.org. 300 IN A 192.0.2.11", "www.example.org. 300 IN A 192.0.2.12",
				"www.example.org. 300 IN AAAA 2001:db8::10"}},
		{name: "referral", qname: "host.sub.example.org.", qtype: dns.TypeA,
			ns:    []string{"sub.example.org. 300 IN NS ns1.sub.example.org.", "sub.example.org. 300 IN NS ns.example.net."},
			extra: []string{"ns1.sub.example.org. 300 IN A 203.0.113.53"}},
		{name: "referral at cut", qname: "sub.example.org.", qtype: dns.TypeNS,
			ns:    []string{"sub.example.org. 300 IN NS ns1.sub.example.org.", "sub.example.org. 300 IN NS ns.example.net."},
			extra: []string{"ns1.sub.example.org. 300 IN A 203.0.113.53"}},
		{name: "ds at cut from parent", qname: "sub.example.org.", qtype: dns.TypeDS, aa: true,
			answer: []string{"sub.example.org. 300 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}},
		{name: "ds of served child from parent", qname: "child.example.org.", qtype: dns.TypeDS, aa: true,
			answer: []string{"child.example.org. 300 IN DS 54321 13 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"}},
		{name: "served child zone", qname: "www.child.example.org.", qtype: dns.TypeA, aa: true,
			answer: []string{"www.child.example.org. 600 IN A 203.0.113.80"}},
		{name: "dname", qname: "host.dn.example.org.", qtype: dns.TypeA, aa: true, answer: []string{
			"dn.example.org. 300 IN DNAME example.net.", "host.dn.example.org. 300 IN CNAME host.example.net."}},
		{name: "refused outside zones", qname: "www.example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "mixed case", qname: "WwW.ExAmPlE.oRg.", qtype: dns.TypeAAAA, aa: true, answer: []string{"WwW.ExAmPlE.oRg. 300 IN AAAA 2001:db8::10"}},
	}
	for _, tc := range tests {
		for _, net := range []string{"udp", "tcp"} {
			t.Run(tc.name+"/"+net, func(t *testing.T) {
				m := new(dns.Msg)
				m.SetQuestion(tc.qname, tc.qtype)
				m.SetEdns0(4096, false)
				r := exchange(t, addr, net, m)
				if r.Rcode != tc.rcode || r.Authoritative != tc.aa || r.RecursionAvailable || r.Truncated {
					t.Errorf("rcode %s aa=%v ra=%v tc=%v, want %s aa=%v", dns.RcodeToString[r.Rcode], r.Authoritative,
						r.RecursionAvailable, r.Truncated, dns.RcodeToString[tc.rcode], tc.aa)
				}
				if r.Question[0].Name != tc.qname {
					t.Errorf("question %q, want the query's %q", r.Question[0].Name, tc.qname)
				}
				for _, s := range []struct {
					name      string
					got, want []string
				}{{"answer", section(r.Answer), norm(tc.answer)}, {"authority", section(r.Ns), norm(tc.ns)}, {"additional", section(r.Extra), norm(tc.extra)}} {
					if !slices.Equal(s.got, s.want) {
						t.Errorf("%s:\n got %q\nwant %q", s.name, s.got, s.want)
					}
				}
			})
		}
	}
}

// testWriter sends the server's log to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
