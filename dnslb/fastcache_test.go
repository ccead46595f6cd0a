package dnslb

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/dnssec"
	"github.com/dnslb/dnslb/healthcheck"
)

// writePolicyConfig writes a zone with names under every kind of policy
// (geo with a round-robin pick, nearest, sticky, failover, weighted,
// health only), wildcards, a delegation and MX/SRV additional data, and a
// config for it over the test GeoIP databases.
func writePolicyConfig(t testing.TB) string {
	t.Helper()
	geoDir, err := filepath.Abs("testdata/geo")
	if err != nil {
		t.Fatal(err)
	}
	zone := `$ORIGIN example.org.
$TTL 300
@     IN SOA ns1 hostmaster 1 3600 600 86400 60
      IN NS  ns1
      IN MX  10 mx
ns1   IN A   192.0.2.53
mx    IN A   192.0.2.25
      IN A   192.0.2.26
www   IN A   192.0.2.10
      IN A   192.0.2.11
      IN A   192.0.2.12
      IN AAAA 2001:db8::10
alias IN CNAME geo
geo   IN A   192.0.2.1
      IN A   192.0.2.2
      IN A   192.0.2.3
      IN A   198.51.100.1
      IN A   198.51.100.2
      IN A   203.0.113.1
      IN AAAA 2001:db8::1
      IN AAAA 2001:db8::2
near  IN A   192.0.2.1
      IN A   198.51.100.1
stick IN A   192.0.2.1
      IN A   192.0.2.2
      IN A   192.0.2.3
fo    IN A   192.0.2.1
      IN A   192.0.2.2
      IN A   198.51.100.1
wt    IN A   192.0.2.1
      IN A   192.0.2.2
ll    IN A   192.0.2.1
      IN A   192.0.2.2
      IN A   192.0.2.3
fast  IN A   192.0.2.1
      IN A   192.0.2.2
      IN A   192.0.2.3
hc    IN A   192.0.2.5
      IN A   192.0.2.6
      IN A   192.0.2.7
*.wild IN A  192.0.2.8
      IN A   192.0.2.9
sub   IN NS  ns.sub
ns.sub IN A  192.0.2.54
_x._tcp IN SRV 0 0 80 mx
`
	return writeZoneConfig(t, zone, fmt.Sprintf(`[geoip]
files = [%q, %q]

[name."geo.example.org"]
select = "geo"
default = "other"
max_answers = 2
ttl = 30
[name."geo.example.org".groups.eu]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"]
[name."geo.example.org".groups.asia]
addresses = ["198.51.100.1", "198.51.100.2", "2001:db8::2"]
[name."geo.example.org".groups.other]
addresses = ["203.0.113.1", "2001:db8::1", "2001:db8::2"]
[[name."geo.example.org".rules]]
match = ["continent:EU"]
group = "eu"
[[name."geo.example.org".rules]]
match = ["country:JP", "cidr:203.0.113.0/24"]
group = "asia"

[name."near.example.org"]
select = "nearest"
[name."near.example.org".groups.de]
addresses = ["192.0.2.1"]
location = [50.11, 8.68]
[name."near.example.org".groups.jp]
addresses = ["198.51.100.1"]
location = [35.68, 139.69]

[name."stick.example.org"]
pick = "sticky"
max_answers = 1

[name."fo.example.org"]
select = "failover"
order = ["a", "b"]
[name."fo.example.org".groups.a]
addresses = ["192.0.2.1", "192.0.2.2"]
[name."fo.example.org".groups.b]
addresses = ["198.51.100.1"]

[name."wt.example.org"]
pick = "weighted"

[healthcheck.lb]
type = "load"
port = 9

[name."ll.example.org"]
pick = "least-loaded"
check = "lb"
low_watermark = 0.5
high_watermark = 0.8
max_answers = 2

[name."fast.example.org"]
pick = "fastest"
check = "lb"
max_answers = 1

[name."hc.example.org"]
max_answers = 2
degraded_ttl = 5
`, filepath.Join(geoDir, "city.mmdb"), filepath.Join(geoDir, "asn.mmdb")))
}

// writeZoneConfig writes zone as example.org's zone file and a config
// serving it on a free loopback port, with extra appended, and returns
// the config's path.
func writeZoneConfig(t testing.TB, zone, extra string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zones", "example.org.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dnslb.toml")
	cfg := "zone_dir = \"zones\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n" + extra
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFastCacheSameBytes answers the same datagrams, in the same order,
// through a worker with the precomputed replies and through one without
// (each with its own server from one config, so their rotation counters
// step alike): every reply must be the same bytes. The queries cover
// every policy, ECS from several subnets (and malformed ECS), DNS cookies, several
// source addresses, EDNS and DO, RD, mixed case (0x20), negative answers and
// referrals; between rounds, overrides take addresses down and up.
//
// Signed (the zone with an Ed25519 key, whose signatures are the same
// bytes from both servers), every DO query's reply is signed, and the
// memo's signed replies must be the full path's bytes too.
func TestFastCacheSameBytes(t *testing.T) {
	t.Run("unsigned", func(t *testing.T) { fastCacheSameBytes(t, writePolicyConfig(t)) })
	t.Run("signed", func(t *testing.T) {
		cfgPath := writePolicyConfig(t)
		k, err := dnssec.Generate("example.org.", dns.ED25519, true)
		if err != nil {
			t.Fatal(err)
		}
		kdir := filepath.Join(filepath.Dir(cfgPath), "keys")
		if err := os.Mkdir(kdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Write(kdir); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "[dnssec]\nkey_dir = \"keys\"\n")
		f.Close()
		cached := fastCacheSameBytes(t, cfgPath)
		m := new(dns.Msg)
		m.SetQuestion("geo.example.org.", dns.TypeA)
		m.SetEdns0(1232, true)
		pkt, _ := m.Pack()
		hits := cached.ans.MemoStats().Hits
		for range 10 {
			r := new(dns.Msg)
			if err := r.Unpack(cached.answer(pkt, testClient, cached.outs[0])); err != nil || len(r.Answer) == 0 || r.Answer[len(r.Answer)-1].Header().Rrtype != dns.TypeRRSIG {
				t.Fatalf("signed geo answer: %v %v", r.Answer, err)
			}
		}
		if n := cached.ans.MemoStats().Hits - hits; n < 8 {
			t.Errorf("%d memo hits in 10 signed queries", n)
		}
	})
}

// fastCacheSameBytes is TestFastCacheSameBytes on the config at cfgPath;
// it returns the worker with the memo.
func fastCacheSameBytes(t *testing.T, cfgPath string) *udpWorker {
	cached, plain := newConfigWorker(t, cfgPath), newConfigWorker(t, cfgPath)
	plain.ans.SetMemo(false)

	ecs := func(family uint16, bits uint8, addr string) *dns.EDNS0_SUBNET {
		return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: bits, Address: net.ParseIP(addr)}
	}
	ecsOpts := []*dns.EDNS0_SUBNET{nil,
		ecs(1, 24, "192.0.2.0"), ecs(1, 24, "198.51.100.0"), ecs(1, 24, "203.0.113.0"), ecs(1, 16, "198.18.0.0"),
		ecs(1, 32, "192.0.2.200"), ecs(1, 0, "0.0.0.0"), ecs(2, 56, "2001:db8::"), ecs(1, 25, "192.0.2.128"),
	}
	// Raw options the packer would not write: bits past the prefix, a
	// non-zero scope, an unknown family, an address too long.
	rawOpts := [][]byte{
		{0, 10, 0, 5, 1, 2, 3, 4, 5}, // a cookie of a length RFC 7873 doesn't allow
		{0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100},
		{0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 3},
		{0, 8, 0, 7, 0, 1, 20, 0, 192, 0, 255},
		{0, 8, 0, 7, 0, 1, 24, 8, 192, 0, 2},
		{0, 8, 0, 7, 0, 3, 24, 0, 192, 0, 2},
		{0, 8, 0, 8, 0, 1, 24, 0, 192, 0, 2, 0},
		{0, 8, 0, 4, 0, 1, 0, 0},
	}
	clients := []netip.AddrPort{testClient, netip.MustParseAddrPort("198.51.100.9:53"),
		netip.MustParseAddrPort("[2001:db8::99]:53"), netip.MustParseAddrPort("203.0.113.5:1")}
	names := []string{"geo.example.org.", "alias.example.org.", "near.example.org.", "stick.example.org.",
		"fo.example.org.", "wt.example.org.", "hc.example.org.", "www.example.org.", "GEO.example.org.",
		"x.wild.example.org.", "nope.example.org.", "a.sub.example.org.", "example.org.", "_x._tcp.example.org.",
		"example.net.", "Www.Example.Org.", "wWw.example.org.", "NoPe.example.org.", "Mx.example.org.",
		"Alias.example.org.", "STICK.example.org.", "ll.example.org.", "fast.example.org.", "LL.example.org.", "Hc.Example.org.", "X.Wild.example.org.", "EXAMPLE.ORG."}
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeNS, dns.TypeSRV, dns.TypeTXT}

	var pkts [][]byte
	id := uint16(0)
	for _, name := range names {
		for _, qtype := range types {
			for i, e := range ecsOpts {
				m := new(dns.Msg)
				m.SetQuestion(name, qtype)
				id++
				m.Id, m.RecursionDesired = id, i%2 == 0
				if i > 0 || id%3 == 0 {
					m.SetEdns0(1232, id%5 == 0)
					if id%10 == 0 {
						m.IsEdns0().SetCo() // compact denial's NXDOMAIN asked for
					}
				}
				if e != nil {
					m.IsEdns0().Option = append(m.IsEdns0().Option, e)
				}
				switch {
				case id%7 == 1 && m.IsEdns0() != nil: // a client cookie, before or after ECS
					c := &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}
					m.IsEdns0().Option = append([]dns.EDNS0{c}, m.IsEdns0().Option...)
				case id%7 == 4 && m.IsEdns0() != nil: // client and server cookie
					c := &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708" + "1112131415161718191a1b1c1d1e1f20"}
					m.IsEdns0().Option = append(m.IsEdns0().Option, c)
				}
				pkt, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				pkts = append(pkts, pkt)
			}
			if qtype != dns.TypeA {
				continue
			}
			for _, raw := range rawOpts {
				m := new(dns.Msg)
				m.SetQuestion(name, qtype)
				m.SetEdns0(1232, false)
				pkt, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				pkt = append(pkt[:len(pkt)-2], byte(len(raw)>>8), byte(len(raw)))
				pkts = append(pkts, append(pkt, raw...))
			}
		}
	}
	overrides := []struct{ target, state string }{
		{}, {"192.0.2.1", "down"}, {"192.0.2.2", "drain"}, {"hc.example.org", "down"},
		{"192.0.2.1", ""}, {"198.51.100.1", "down"}, {"192.0.2.3", "down"}, {"hc.example.org", ""},
	}
	// Loads and round-trip times for ll and fast, the same on both
	// servers: shed, between the watermarks, all shed, by round.
	shares := [][3]float64{{0.1, 0.3, 0.6}, {0.9, 0.3, 0.6}, {0.85, 0.95, 0.9}, {0.2, 0.2, 0.2},
		{0.7, 0.1, 0.75}, {0.5, 0.5, 0.99}, {0.3, 0.6, 0.1}, {0.1, 0.1, 0.1}}
	rtts := [][3]time.Duration{{10, 11, 50}, {50, 10, 11}, {10, 10, 10}, {80, 90, 10},
		{10, 20, 30}, {11, 10, 12}, {5, 5, 100}, {1, 2, 3}}
	for round, o := range overrides {
		for _, w := range []*udpWorker{cached, plain} {
			for i := range 3 {
				w.s.store.SetSample(healthcheck.Status{
					Key:  healthcheck.Key{Check: "lb", Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})},
					Load: healthcheck.Report{Kind: healthcheck.ReportLoad, Value: shares[round][i]},
					RTT:  rtts[round][i] * time.Millisecond,
				})
			}
			w.s.store.Publish()
		}
		if o.target != "" {
			for _, w := range []*udpWorker{cached, plain} {
				if err := w.s.SetOverride(o.target, o.state); err != nil {
					t.Fatal(err)
				}
			}
		}
		for rep := range 4 {
			for i, pkt := range pkts {
				sameReply(t, cached, plain, pkt, clients[(i+rep)%len(clients)], fmt.Sprintf("round %d, query %d", round, i))
			}
		}
	}
	if cached.ans.MemoStats().Hits == 0 {
		t.Fatal("no precomputed reply")
	}
	fast := cached.ans.MemoStats().Hits
	total := len(overrides) * 4 * len(pkts)
	if fast < total*2/5 {
		t.Fatalf("%d precomputed replies in %d queries, want at least 40%%", fast, total)
	}
	// Round-robin answers are held once and rotated (perm); some
	// policies' rotations are not a rotation of the records, and their
	// entries must have found that out and held every reply instead.
	if cached.ans.MemoStats().Rotated == 0 {
		t.Fatal("no reply made by rotating a held one")
	}
	t.Logf("%d replies from the memo in %d queries (%d rotated from a held one)",
		fast, total, cached.ans.MemoStats().Rotated)
	sameAnswerCounts(t, cached.s, plain.s)
	return cached
}

// sameAnswerCounts fails the test unless the two servers counted the same
// answers per address of every name (state.Answers, the counted shares),
// memo hits or not. A weighted pick draws at random, so there only the
// name's total must agree.
func sameAnswerCounts(t *testing.T, a, b *Server) {
	t.Helper()
	sa, sb := a.store.Snapshot(), b.store.Snapshot()
	counted := 0
	for _, owner := range sa.Owners() {
		ca, cb := sa.Name(owner).Answers.Counts(nil), sb.Name(owner).Answers.Counts(nil)
		var ta, tb uint64
		for i := range ca {
			ta, tb = ta+ca[i], tb+cb[i]
		}
		counted += int(ta)
		if sa.Name(owner).Config.Pick == "weighted" {
			if ta != tb {
				t.Errorf("%s: %d answers counted with the memo, %d without", owner, ta, tb)
			}
			continue
		}
		if !slices.Equal(ca, cb) {
			t.Errorf("%s: answers per address %v with the memo, %v without", owner, ca, cb)
		}
	}
	if counted == 0 {
		t.Error("no answer counted")
	}
	t.Logf("%d answers of load-balanced names counted", counted)
}

// sameReply answers the query pkt from client from through a worker with
// the caches and one without, and fails the test (saying what) when the
// replies differ.
func sameReply(t *testing.T, cached, plain *udpWorker, pkt []byte, from netip.AddrPort, what string) {
	t.Helper()
	now := time.Now() // one clock for both: a signed reply is of its arrival's window
	got := cached.ans.Answer(pkt, from, cached.outs[0], false, now, nil)
	want := plain.ans.Answer(pkt, from, plain.outs[0], false, now, nil)
	if string(got) != string(want) && !sameShuffled(got, want) && !sameButServerCookie(got, want) {
		q, r := new(dns.Msg), new(dns.Msg)
		_ = q.Unpack(pkt)
		_ = r.Unpack(want)
		t.Fatalf("%s from %v: the reply with the caches differs\nquery %v\ngot  %x\nwant %x\n%v", what, from, q, got, want, r)
	}
}

// sameButServerCookie reports whether a and b are replies that differ
// only in the server cookie at their end (the cookie stage appends the
// option last): the two servers have random secrets of their own, and
// their clocks' second may tick between the two replies.
func sameButServerCookie(a, b []byte) bool {
	const opt, server = 4 + 8 + 16, 16
	if len(a) != len(b) || len(a) < 12+opt {
		return false
	}
	marker := string([]byte{0, 10, 0, 24})
	return string(a[len(a)-opt:len(a)-opt+4]) == marker && string(b[len(b)-opt:len(b)-opt+4]) == marker &&
		string(a[:len(a)-server]) == string(b[:len(b)-server])
}

// sameShuffled reports whether a and b are replies that differ only in
// the order of their answer records, as a weighted pick's do.
func sameShuffled(a, b []byte) bool {
	ma, mb := new(dns.Msg), new(dns.Msg)
	if ma.Unpack(a) != nil || mb.Unpack(b) != nil || len(ma.Question) != 1 || ma.Question[0].Name != "wt.example.org." {
		return false
	}
	sa, sb := make([]string, len(ma.Answer)), make([]string, len(mb.Answer))
	for i := range ma.Answer {
		sa[i] = ma.Answer[i].String()
	}
	for i := range mb.Answer {
		sb[i] = mb.Answer[i].String()
	}
	slices.Sort(sa)
	slices.Sort(sb)
	ma.Answer, mb.Answer = nil, nil
	// The server cookies differ (see sameButServerCookie); the client's
	// must not.
	for _, m := range []*dns.Msg{ma, mb} {
		if o := m.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if c, ok := e.(*dns.EDNS0_COOKIE); ok && len(c.Cookie) > 16 {
					c.Cookie = c.Cookie[:16]
				}
			}
		}
	}
	return slices.Equal(sa, sb) && ma.String() == mb.String()
}

// TestFastCacheFlood: names without an answer, each asked once (a
// random-subdomain flood), leave nothing in the precomputed replies; a
// missing name asked again is kept from its second time and served from
// its third.
func TestFastCacheFlood(t *testing.T) {
	w := newTestWorker(t)
	ask := func(name string) {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		// The zone has a TXT wildcard: NODATA for A.
		if err := r.Unpack(w.answer(pkt, testClient, w.outs[0])); err != nil || len(r.Answer) > 0 || len(r.Ns) == 0 {
			t.Fatalf("%s: %v %v", name, r, err)
		}
	}
	for i := range 20000 {
		ask(fmt.Sprintf("r%d.example.org.", i))
	}
	// The doorkeeper keeps 16-bit fingerprints: two of 20,000 names share
	// a slot and a fingerprint with a chance of about 0.3% per run (the
	// seed is random), and such a name is kept on its first query.
	if n := w.ans.MemoStats().Entries; n > 2 || w.ans.MemoStats().Hits > 0 {
		t.Fatalf("after 20,000 names asked once: %d precomputed replies kept, %d served", n, w.ans.MemoStats().Hits)
	}
	for i := range 3 {
		ask("typo.example.org.")
		if want := max(0, i-1); w.ans.MemoStats().Hits != want {
			t.Fatalf("asked %d times: %d served precomputed, want %d", i+1, w.ans.MemoStats().Hits, want)
		}
	}
}

// TestNegativeTemplateSameBytes: NXDOMAIN for names never asked before,
// answered from the zone's template, is byte for byte what the full path
// gives, for names of every depth, below the SOA's MNAME and RNAME (where
// the packer compresses into the question's own labels), next to
// delegations and wildcards, with and without EDNS, DO, RD and ECS.
func TestNegativeTemplateSameBytes(t *testing.T) {
	cfgPath := writePolicyConfig(t)
	cached, plain := newConfigWorker(t, cfgPath), newConfigWorker(t, cfgPath)
	plain.ans.SetMemo(false)
	shapes := []string{"n%d.example.org.", "a.b.n%d.example.org.", "n%d.mx.example.org.", "x.n%d.ns1.example.org.",
		"n%d.hostmaster.example.org.", "hostmaster.example.org.", "n%d.wild.example.org.", "n%d.sub.example.org.",
		"n%d-x_y.example.org.", "n%d.geo.example.org.", "n%d.example.net.", "N%d.example.org."}
	for i := range 400 {
		name := shapes[i%len(shapes)]
		if strings.Contains(name, "%d") {
			name = fmt.Sprintf(name, i)
		}
		m := new(dns.Msg)
		m.SetQuestion(name, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeDS, dns.TypeTXT}[i%5])
		m.Id, m.RecursionDesired = uint16(i), i%3 == 0
		if i%4 != 0 {
			m.SetEdns0(1232, i%8 == 1)
		}
		if i%4 == 2 {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("192.0.2.0")})
		}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		sameReply(t, cached, plain, pkt, testClient, fmt.Sprintf("query %d", i))
	}
	if n := cached.ans.MemoStats().NegHits; n < 150 {
		t.Fatalf("%d NXDOMAIN replies from the template in 400 queries, want at least 150", n)
	}
	t.Logf("%d NXDOMAIN replies from the template", cached.ans.MemoStats().NegHits)
}

// TestRefusedTemplateSameBytes: REFUSED for names in none of our zones,
// answered from the template, is byte for byte what the full path gives,
// in any letter case, with and without EDNS, DO, RD, CD and AD, names of
// every length up to the longest; with ECS, the full path answers.
func TestRefusedTemplateSameBytes(t *testing.T) {
	cfgPath := writePolicyConfig(t)
	cached, plain := newConfigWorker(t, cfgPath), newConfigWorker(t, cfgPath)
	plain.ans.SetMemo(false)
	long := strings.Repeat(strings.Repeat("x", 63)+".", 3) + strings.Repeat("y", 61) + "."
	shapes := []string{"www.example.com.", "n%d.example.COM.", "org.", "A.B.C.%d.test.", "xexample.org.", long, "in-addr.arpa.", "%d.example.edu."}
	ecs := 0
	for i := range 400 {
		name := shapes[i%len(shapes)]
		if strings.Contains(name, "%d") {
			name = fmt.Sprintf(name, i)
		}
		m := new(dns.Msg)
		m.SetQuestion(name, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeSOA, dns.TypeTXT, dns.TypeDS}[i%6])
		m.Id, m.RecursionDesired = uint16(i), i%3 == 0
		m.CheckingDisabled, m.AuthenticatedData = i%5 == 1, i%7 == 2
		if i%4 != 0 {
			m.SetEdns0(uint16(512+i), i%8 == 1)
		}
		if i%9 == 4 {
			if m.IsEdns0() == nil {
				m.SetEdns0(1232, false)
			}
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("192.0.2.0")})
			ecs++
		}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		sameReply(t, cached, plain, pkt, testClient, fmt.Sprintf("query %d (%s)", i, name))
		r := new(dns.Msg)
		if err := r.Unpack(plain.answer(pkt, testClient, plain.outs[0])); err != nil || r.Rcode != dns.RcodeRefused {
			t.Fatalf("query %d (%s): %v, want REFUSED:\n%v", i, name, err, r)
		}
	}
	// Four templates (RD × OPT; DO does not occur without EDNS), each made
	// by the full path once; ECS queries take the full path.
	if n, want := cached.ans.MemoStats().NegHits, 400-ecs-8; n < want {
		t.Fatalf("%d REFUSED replies from the templates in 400 queries, want at least %d", n, want)
	}
}

// TestFastCacheReviewCases: cases reviews found where the caches once
// answered differently from the full path, or could be flooded.
func TestFastCacheReviewCases(t *testing.T) {
	// MNAME and RNAME of about 200 bytes each, with no suffix in common.
	mname := "m." + strings.Repeat("abcdefghij.", 17) + "example.net."
	rname := "r." + strings.Repeat("klmnopqrst.", 17) + "example.com."
	zone := "$ORIGIN example.org.\n$TTL 300\n@ IN SOA " + mname + " " + rname + " 1 3600 600 86400 60\n" +
		"@ IN NS ns1\nns1 IN A 192.0.2.53\nalias IN CNAME ns1\n"
	cfgPath := writeZoneConfig(t, zone, "")
	cached, plain := newConfigWorker(t, cfgPath), newConfigWorker(t, cfgPath)
	plain.ans.SetMemo(false)
	same := func(name string, qtype uint16, edns bool, ecs string) {
		t.Helper()
		m := benchQuery(t, name, qtype, edns, ecs)
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		sameReply(t, cached, plain, pkt, testClient, fmt.Sprintf("edns %v ecs %q", edns, ecs))
	}
	// REFUSED is answered without the ECS echo: not from an entry made
	// by queries without ECS.
	for range 3 {
		same("www.example.net.", dns.TypeA, true, "")
	}
	same("www.example.net.", dns.TypeA, true, "192.0.2.0")

	// NXDOMAIN from the template fits 512 bytes over UDP, or the full
	// path truncates it: a short name makes the template, a long one is
	// too large for it.
	same("a.example.org.", dns.TypeA, false, "")
	same("b.example.org.", dns.TypeA, false, "")
	same(strings.Repeat("x", 60)+"."+strings.Repeat("y", 60)+"."+strings.Repeat("z", 60)+".example.org.", dns.TypeA, false, "")

	// A new udp_size, the zones unchanged: the templates follow it.
	same("c.example.org.", dns.TypeA, true, "")
	same("d.example.org.", dns.TypeA, true, "")
	for _, w := range []*udpWorker{cached, plain} {
		sv := w.s.store.Snapshot().Serving
		sv.UDPSize = 4000
		w.s.store.SetServing(sv)
	}
	same("e.example.org.", dns.TypeA, true, "")
	same("f.example.org.", dns.TypeA, true, "")

	// Replies made over one transport serve the other: the same bytes as
	// the full path gives there (it compresses over TCP too).
	overTCP := func(name string) {
		t.Helper()
		pkt, err := benchQuery(t, name, dns.TypeA, false, "").Pack()
		if err != nil {
			t.Fatal(err)
		}
		got := cached.ans.Answer(pkt, testClient, cached.tcpBuf(), true, time.Now(), nil)
		want := plain.ans.Answer(pkt, testClient, plain.tcpBuf(), true, time.Now(), nil)
		if string(got) != string(want) {
			t.Fatalf("%s over TCP: reply differs\ngot  %x\nwant %x", name, got, want)
		}
	}
	same("ns1.example.org.", dns.TypeA, false, "")
	same("ns1.example.org.", dns.TypeA, false, "")
	overTCP("ns1.example.org.")
	overTCP("alias.example.org.")
	overTCP("alias.example.org.")
	same("alias.example.org.", dns.TypeA, false, "")
	overTCP("g.example.org.") // an NXDOMAIN template made over TCP
	same("h.example.org.", dns.TypeA, false, "")

	// Every type asked once at a CNAME keeps nothing, and what such keys
	// keep goes to the budget that is dropped alone.
	before := cached.ans.MemoStats().Bytes
	for qt := uint16(1000); qt < 3000; qt++ {
		same("alias.example.org.", qt, false, "")
	}
	if n := cached.ans.MemoStats().Entries; n > 4 || cached.ans.MemoStats().Bytes != before {
		t.Fatalf("2,000 types asked once at a CNAME: %d entries, main budget %d -> %d bytes", n, before, cached.ans.MemoStats().Bytes)
	}
	for range 3 {
		same("alias.example.org.", dns.TypeA, false, "") // CNAME and A: small enough to keep
	}
	if cached.ans.MemoStats().Bytes != before || cached.ans.MemoStats().OtherBytes == 0 {
		t.Fatalf("a type asked again at a CNAME: main budget %d -> %d, other %d", before, cached.ans.MemoStats().Bytes, cached.ans.MemoStats().OtherBytes)
	}
}

// TestFastCacheMixedCase: a question in mixed case (0x20) is served from
// the precomputed replies, byte for byte as the full path gives it,
// whichever case filled them: replies are packed with the question in
// lower case and get the question's bytes as asked afterwards, so other
// names in them (the SOA of an NXDOMAIN, an MX target) compress the same
// way for every spelling.
func TestFastCacheMixedCase(t *testing.T) {
	cfgPath := writePolicyConfig(t)
	cached, plain := newConfigWorker(t, cfgPath), newConfigWorker(t, cfgPath)
	plain.ans.SetMemo(false)
	ask := func(name string, qtype uint16) {
		t.Helper()
		m := benchQuery(t, name, qtype, true, "")
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		sameReply(t, cached, plain, pkt, testClient, name)
	}
	for _, name := range []string{"NS1.example.org.", "ns1.Example.ORG.", "nS1.eXample.org."} {
		ask(name, dns.TypeA) // one record, filled by a mixed-case question
	}
	if h := cached.ans.MemoStats().Hits; h != 2 {
		t.Fatalf("%d of 3 mixed-case questions served precomputed, want 2", h)
	}
	ask("ns1.example.org.", dns.TypeA)
	if h := cached.ans.MemoStats().Hits; h != 3 {
		t.Fatalf("the lower-case question after mixed-case ones: %d served precomputed, want 3", h)
	}
	for _, name := range []string{"NoPe.example.org.", "nOpE.example.org.", "Example.Org.", "EXAMPLE.org.", "eXample.org."} {
		ask(name, dns.TypeMX)
	}
	// nOpE from the NXDOMAIN template NoPe made; eXample.org once the
	// doorkeeper has seen the key twice.
	if h := cached.ans.MemoStats().Hits + cached.ans.MemoStats().NegHits; h-3 != 2 {
		t.Fatalf("mixed-case questions whose replies hold other names: %d of 5 served without the full path, want 2", h-3)
	}
}

// TestMemoDecisionKey: the memo keys a geo name's replies on the decision
// (the group chosen, its order), not on the client: a thousand clients,
// each its own /24 (by ECS) or address, that the rules send to one group
// share its reply after the first, and each gets the bytes decide and
// encode give it, with its own ECS scope.
func TestMemoDecisionKey(t *testing.T) {
	path := writePolicyConfig(t)
	cached, plain := newConfigWorker(t, path), newConfigWorker(t, path)
	plain.ans.SetMemo(false)
	ask := func(name string, subnet netip.Addr, from netip.AddrPort) {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.SetEdns0(1232, false)
		if subnet.IsValid() {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1,
				SourceNetmask: 24, Address: net.IP(subnet.AsSlice())})
		}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		sameReply(t, cached, plain, pkt, from, fmt.Sprintf("%s subnet %v", name, subnet))
	}
	// ll and fast hash the client subnet over their addresses: their
	// replies are keyed on the addresses chosen, a few for 2000 clients.
	for _, w := range []*udpWorker{cached, plain} {
		for i, share := range []float64{0.2, 0.6, 0.9} {
			w.s.store.SetSample(healthcheck.Status{
				Key:  healthcheck.Key{Check: "lb", Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})},
				Load: healthcheck.Report{Kind: healthcheck.ReportLoad, Value: share},
				RTT:  time.Duration(10+i) * time.Millisecond,
			})
		}
		w.s.store.Publish()
	}
	for _, name := range []string{"geo.example.org.", "near.example.org.", "fo.example.org.", "ll.example.org.", "fast.example.org."} {
		hits := cached.ans.MemoStats().Hits
		for i := range 1000 {
			// 100.64.0.0/10 and 198.18.0.0/15: in no network of the test
			// database, so every client gets the default group.
			ask(name, netip.AddrFrom4([4]byte{100, byte(64 + i>>8), byte(i), 0}), testClient)
			ask(name, netip.Addr{}, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 53))
		}
		t.Logf("%s: %d of 2000 from the memo", name, cached.ans.MemoStats().Hits-hits)
		if got := cached.ans.MemoStats().Hits - hits; got < 2000-20 {
			t.Errorf("%s: %d of 2000 queries from 2000 clients of one group served by the memo, want nearly all", name, got)
		}
	}
	// Clients the rules tell apart still get their own group's reply.
	for range 3 {
		for _, s := range []string{"192.0.2.0", "198.51.100.0", "203.0.113.0", "100.64.0.0"} {
			ask("geo.example.org.", netip.MustParseAddr(s), testClient)
		}
	}
}

// TestRefusedTemplateNotFromChaos: a CH query refused first (no EDE) must
// not become the REFUSED template, whose replies carry EDE 20: the next
// query for a name outside the zones gets the same bytes as without the
// memo.
func TestRefusedTemplateNotFromChaos(t *testing.T) {
	cfgPath := writePolicyConfig(t)
	cached, plain := newConfigWorker(t, cfgPath), newConfigWorker(t, cfgPath)
	plain.ans.SetMemo(false)
	for i, q := range []struct {
		name  string
		class uint16
	}{{"foo.server.", dns.ClassCHAOS}, {"www.example.com.", dns.ClassINET}, {"n2.example.com.", dns.ClassINET}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, dns.TypeTXT)
		m.Question[0].Qclass = q.class
		m.Id = uint16(i)
		m.SetEdns0(1232, false)
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		sameReply(t, cached, plain, pkt, testClient, fmt.Sprintf("query %d (%s)", i, q.name))
	}
}
