package dnslb

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
)

// startRRL serves testdata/dnslb.toml on 127.0.0.1:0 with the [rrl]
// settings mod makes, and returns the server and its UDP and TCP
// addresses.
func startRRL(t *testing.T, mod func(*config.RRLConfig)) (srv *Server, udp, tcp string) {
	t.Helper()
	cfg, err := config.Load("testdata/dnslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	mod(&cfg.RRL)
	srv = startConfig(t, cfg)
	for _, a := range srv.Addrs() {
		switch a.Network() {
		case "udp":
			udp = a.String()
		case "tcp":
			tcp = a.String()
		}
	}
	return srv, udp, tcp
}

// burst sends n queries for name from the loopback address src at once
// over one UDP socket and sorts the replies that come within wait: full
// answers, truncated (slipped) and missing.
func burst(t *testing.T, addr, src, name string, qtype uint16, n int, wait time.Duration) (full, tc, none int) {
	t.Helper()
	ua, _ := net.ResolveUDPAddr("udp", addr)
	conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, ua)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range n {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.Id = uint16(i + 1)
		pkt, _ := m.Pack()
		if _, err := conn.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	got := 0
	for got < n {
		k, err := conn.Read(buf)
		if err != nil {
			break
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatalf("reply: %v", err)
		}
		got++
		switch {
		case r.Truncated && len(r.Answer) == 0:
			tc++
		case len(r.Answer) > 0 || r.Rcode != dns.RcodeSuccess:
			full++
		default:
			t.Errorf("reply neither an answer nor a slip: %v", r)
		}
	}
	return full, tc, n - got
}

// atSecondStart waits for the start of the next second of the clock, so
// that a burst sent at once falls in one second of the limiter.
func atSecondStart() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now))
}

// TestRRLOverSockets: 30 identical queries at once from one address at a
// rate of 5: 5 answered, 25 over the rate of which (slip 2) 13 slipped as
// TC=1 and 12 dropped; another address of the same /24 is in the same
// account, one of another /24 is not; TCP is exempt; NXDOMAIN for random
// names share the zone's account; dig in the flooded /24 gets its answer
// over TCP after a slip. The memo is on, as in production.
func TestRRLOverSockets(t *testing.T) {
	srv, udp, tcp := startRRL(t, func(r *config.RRLConfig) { r.ResponsesPerSecond = 5 })
	atSecondStart()
	full, tc, none := burst(t, udp, "127.0.9.1", "www.example.org.", dns.TypeA, 30, 500*time.Millisecond)
	if full != 5 || tc != 13 || none != 12 {
		t.Errorf("30 queries at rate 5: %d answered, %d slipped, %d dropped; want 5, 13, 12", full, tc, none)
	}
	if got := metricValue(t, srv, `dnslb_rrl_responses_total{action="slipped",class="positive"}`); got != 13 {
		t.Errorf("slipped metric %v, want 13", got)
	}
	if got := metricValue(t, srv, `dnslb_rrl_responses_total{action="dropped",class="positive"}`); got != 12 {
		t.Errorf("dropped metric %v, want 12", got)
	}
	// Same /24, same account: nothing but slips and drops.
	if full, tc, none := burst(t, udp, "127.0.9.200", "www.example.org.", dns.TypeA, 4, 300*time.Millisecond); full != 0 || tc+none != 4 {
		t.Errorf("same /24: %d answered, %d slipped, %d dropped; want none answered", full, tc, none)
	}
	// Another /24: its own account.
	if full, _, _ := burst(t, udp, "127.0.10.1", "www.example.org.", dns.TypeA, 5, 300*time.Millisecond); full != 5 {
		t.Errorf("another /24: %d of 5 answered", full)
	}
	// TCP is exempt.
	for i := range 10 {
		c := dns.Client{Net: "tcp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.9.1")}}}
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		r, _, err := c.Exchange(m, tcp)
		if err != nil || len(r.Answer) == 0 {
			t.Fatalf("TCP query %d from the limited /24: %v %v", i, r, err)
		}
	}
	// Random names: one NXDOMAIN account (the zone), and one account
	// for the answers of a wildcard (*.example.org TXT), whatever the name.
	for _, tc := range []struct {
		src, zone string
		qtype     uint16
		rcode     int
	}{
		{"127.0.11.1", "child.example.org", dns.TypeA, dns.RcodeNameError},
		{"127.0.11.2", "example.org", dns.TypeTXT, dns.RcodeSuccess},
	} {
		atSecondStart()
		if got := randomNames(t, udp, tc.src, tc.zone, tc.qtype, tc.rcode, 20); got != 5 {
			t.Errorf("20 random names under %s %s: %d answered, want 5 (one account)", tc.zone, dns.TypeToString[tc.qtype], got)
		}
	}

	// dig, a legitimate client in the flooded /24: a slip sends it to TCP.
	dig, err := exec.LookPath("dig")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dig is missing")
		}
		t.Skip("dig is not installed")
	}
	host, port, _ := net.SplitHostPort(udp)
	// The /24's account well below zero again, however long the above took.
	if full, _, _ := burst(t, udp, "127.0.9.5", "www.example.org.", dns.TypeA, 60, 300*time.Millisecond); full > 5 {
		t.Errorf("flooded /24: %d of 60 answered", full)
	}
	// Without a cookie, the slip is TC=1 and dig asks again over TCP;
	// with one (dig sends a client cookie by default, and cookies are on
	// by default), the slip is BADCOOKIE with our server cookie, and dig
	// asks again with it: a good cookie is not limited.
	for i := range 3 {
		for _, c := range []struct{ flag, retry string }{{"+nocookie", "retrying in TCP mode"}, {"+cookie", "BADCOOKIE, retrying"}} {
			out, err := exec.Command(dig, "@"+host, "-p", port, "-b", "127.0.9.33", "+tries=3", "+timeout=1", c.flag,
				"www.example.org", "A").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "192.0.2.10") || !strings.Contains(string(out), c.retry) {
				t.Errorf("dig %s %d in the flooded /24: %v\n%s", c.flag, i, err, out)
			}
		}
	}
	// kdig too (it retries over TCP on TC unless +ignore).
	kdig, err := exec.LookPath("kdig")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kdig is missing")
		}
		t.Skip("kdig is not installed")
	}
	for i := range 3 {
		out, err := exec.Command(kdig, "@"+host, "-p", port, "-b", "127.0.9.34", "+retry=2", "+timeout=1",
			"www.example.org", "A").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "192.0.2.10") || !strings.Contains(string(out), "TCP") {
			t.Errorf("kdig %d in the flooded /24: %v\n%s", i, err, out)
		}
	}
}

// TestRRLLogOnly: log_only sends everything and counts what it would
// have done.
func TestRRLLogOnly(t *testing.T) {
	srv, udp, _ := startRRL(t, func(r *config.RRLConfig) { r.ResponsesPerSecond = 5; r.LogOnly = true })
	atSecondStart()
	if full, tc, none := burst(t, udp, "127.0.12.1", "www.example.org.", dns.TypeA, 30, 500*time.Millisecond); full != 30 {
		t.Errorf("log_only: %d answered, %d slipped, %d dropped; want all 30 answered", full, tc, none)
	}
	if got := metricValue(t, srv, `dnslb_rrl_responses_total{action="would_slip",class="positive"}`); got != 13 {
		t.Errorf("would_slip %v, want 13", got)
	}
	if got := metricValue(t, srv, `dnslb_rrl_responses_total{action="would_drop",class="positive"}`); got != 12 {
		t.Errorf("would_drop %v, want 12", got)
	}
}

// randomNames sends n queries for new names under zone at once from src
// and counts the replies of rcode with records.
func randomNames(t *testing.T, addr, src, zone string, qtype uint16, rcode, n int) int {
	t.Helper()
	ua, _ := net.ResolveUDPAddr("udp", addr)
	conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, ua)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range n {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(strings.Repeat("x", i+1)+"."+zone), qtype)
		pkt, _ := m.Pack()
		_, _ = conn.Write(pkt)
	}
	_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	got := 0
	for buf := make([]byte, 4096); ; {
		k, err := conn.Read(buf)
		if err != nil {
			return got
		}
		r := new(dns.Msg)
		if r.Unpack(buf[:k]) == nil && r.Rcode == rcode && !r.Truncated {
			got++
		}
	}
}

// BenchmarkHandleQueryRRL is BenchmarkHandleQuery's memo hits with the
// limit stage: absent (nostage), present with rate limiting off (off),
// on at a rate nothing reaches (on: every reply accounted and sent), on
// from 10,000 source addresses (on-10k-sources: 10,000 accounts), and on
// at a rate of 5 (limited: nearly every reply dropped or slipped).
func BenchmarkHandleQueryRRL(b *testing.B) {
	s := benchServer(b, false)
	for _, bc := range benchQueries[:7] {
		for _, mode := range []string{"nostage", "off", "on", "on-10k-sources", "limited"} {
			b.Run(bc.name+"/"+mode, func(b *testing.B) {
				stages := s.stages()
				switch mode {
				case "nostage":
					stages.Limit = nil
					s.setRRL(config.RRLConfig{})
				case "off":
					s.setRRL(config.RRLConfig{})
				case "on", "on-10k-sources":
					s.setRRL(config.RRLConfig{ResponsesPerSecond: 1_000_000}.Defaulted())
				case "limited":
					s.setRRL(config.RRLConfig{ResponsesPerSecond: 5}.Defaulted())
				}
				w := answer.NewWorker(s.store, stages, s.log)
				pkt, err := benchQuery(b, bc.qname, bc.qtype, bc.edns, bc.ecs).Pack()
				if err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, 4096)
				srcs := []netip.AddrPort{testClient}
				if mode == "on-10k-sources" {
					srcs = srcs[:0]
					for i := range 10_000 {
						srcs = append(srcs, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), 5300))
					}
				}
				for range 3 { // decided, kept, then memo hits
					w.Answer(pkt, testClient, buf, false, time.Now(), nil)
				}
				for _, src := range srcs { // every account made
					w.Answer(pkt, src, buf, false, time.Now(), nil)
				}
				now := time.Now()
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					out := w.Answer(pkt, srcs[i], buf, false, now, nil)
					if out == nil && mode != "limited" {
						b.Fatal("no reply")
					}
					if i++; i == len(srcs) {
						i = 0
					}
				}
				if w.MemoStats().Hits+w.MemoStats().NegHits < b.N {
					b.Fatalf("memo hits %+v of %d queries", w.MemoStats(), b.N)
				}
			})
		}
	}
	s.setRRL(config.RRLConfig{})
}

// TestSetRRL: [rrl] off is no table; on makes one; a reload with the same
// settings keeps it (and its accounts), with others makes a new one.
func TestSetRRL(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	s.setRRL(config.RRLConfig{}.Defaulted())
	if s.rrl.Load() != nil {
		t.Fatal("rrl off: a table")
	}
	on := config.RRLConfig{ResponsesPerSecond: 10}.Defaulted()
	s.setRRL(on)
	t1 := s.rrl.Load()
	if t1 == nil || t1.Config().Rates[0] != 10 || t1.Config().Slip != 2 || t1.Config().Window != 15 {
		t.Fatalf("rrl on: table %+v", t1)
	}
	s.setRRL(config.RRLConfig{ResponsesPerSecond: 10}.Defaulted())
	if s.rrl.Load() != t1 {
		t.Error("same settings: a new table")
	}
	s.setRRL(config.RRLConfig{ResponsesPerSecond: 10, LogOnly: true}.Defaulted())
	if t2 := s.rrl.Load(); t2 == t1 || !t2.Config().LogOnly {
		t.Error("log_only set: the old table kept")
	}
	s.setRRL(config.RRLConfig{}.Defaulted())
	if s.rrl.Load() != nil {
		t.Error("turned off: a table left")
	}
}
