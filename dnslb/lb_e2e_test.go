package dnslb

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// backend is a real HTTP server on one loopback address that the test can
// stop, start again and make unhealthy.
type backend struct {
	t     *testing.T
	addr  string
	body  atomic.Value // string served on /health
	delay atomic.Int64 // nanoseconds to wait before answering
	srv   *http.Server
}

func (b *backend) start() {
	b.t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		b.t.Fatal(err)
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := time.Duration(b.delay.Load()); d > 0 {
			time.Sleep(d) // the backend's own slowness, not a wait of the test
		}
		fmt.Fprint(w, b.body.Load().(string))
	})}
	go func() { _ = b.srv.Serve(ln) }()
}

func (b *backend) stop() { _ = b.srv.Close() }

// startBackends starts n HTTP backends on 127.0.0.1..n, all on one port
// (a check probes each address of a name on the same port).
func startBackends(t *testing.T, n int) ([]*backend, int) {
	t.Helper()
	for try := 0; try < 20; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		var bs []*backend
		ok := true
		for i := 1; i <= n; i++ {
			addr := net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i), strconv.Itoa(port))
			if l, err := net.Listen("tcp", addr); err != nil {
				ok = false
				break
			} else {
				l.Close()
			}
			b := &backend{t: t, addr: addr}
			b.body.Store("OK")
			bs = append(bs, b)
		}
		if !ok {
			continue
		}
		for _, b := range bs {
			b.start()
			t.Cleanup(b.stop)
		}
		return bs, port
	}
	t.Fatal("no port free on 127.0.0.1-3")
	return nil, 0
}

// writeLBConfig writes a zone with www on 127.0.0.1..3 and a config
// around it, and returns the config path.
func writeLBConfig(t testing.TB, extra string) string {
	t.Helper()
	dir := t.TempDir()
	zone := `$ORIGIN example.org.
$TTL 300
@    IN SOA ns1 hostmaster 1 3600 600 86400 60
     IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   127.0.0.1
     IN A   127.0.0.2
     IN A   127.0.0.3
alias IN CNAME www
mx   IN MX  10 www
geo  IN A   192.0.2.1
     IN A   198.51.100.1
     IN A   203.0.113.1
`
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zones", "example.org.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "zone_dir = \"zones\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n" + extra
	path := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func answerAddrs(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestHealthEndToEnd: three real HTTP backends behind www; a dead one
// leaves the answers after `fall` failures and comes back after `rise`
// successes; a body mismatch counts as dead; all dead gives the
// when_all_down answer.
func TestHealthEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for probes")
	}
	bs, port := startBackends(t, 3)
	cfgPath := writeLBConfig(t, fmt.Sprintf(`
[healthcheck.web]
type = "http"
port = %d
path = "/health"
expect_body = "OK"
interval = "1s"
timeout = "500ms"
rise = 2
fall = 2

[name."www.example.org"]
check = "web"
when_all_down = "servfail"
`, port))
	srv, addr := startServer(t, cfgPath)
	all := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	www := func() *dns.Msg { return queryA(t, addr, "www.example.org.") }
	if got := answerAddrs(www()); !slices.Equal(got, all) {
		t.Fatalf("at start: %v, want %v", got, all)
	}

	bs[1].stop()
	waitFor(t, "127.0.0.2 to leave the answer", func() bool {
		return slices.Equal(answerAddrs(www()), []string{"127.0.0.1", "127.0.0.3"})
	})
	// Through a CNAME too.
	if got := answerAddrs(queryA(t, addr, "alias.example.org.")); !slices.Equal(got, []string{"127.0.0.1", "127.0.0.3"}) {
		t.Errorf("via CNAME: %v", got)
	}
	st := srv.Status()
	if len(st.Names) != 1 || st.Names[0].Addresses[1].State != "down" {
		t.Errorf("status does not show 127.0.0.2 down: %+v", st.Names)
	}
	if got := sampleMatchesStatus(t, srv); !slices.Contains(got, "www.example.org. 127.0.0.2 down ") {
		t.Errorf("the history's sample lacks 127.0.0.2 down: %v", got)
	}

	bs[1].start()
	waitFor(t, "127.0.0.2 to come back", func() bool { return slices.Equal(answerAddrs(www()), all) })

	bs[0].body.Store("database unreachable")
	waitFor(t, "body mismatch to take 127.0.0.1 out", func() bool {
		return slices.Equal(answerAddrs(www()), []string{"127.0.0.2", "127.0.0.3"})
	})

	bs[1].stop()
	bs[2].stop()
	waitFor(t, "SERVFAIL with every backend down", func() bool { return www().Rcode == dns.RcodeServerFailure })
	if r := www(); r.Authoritative || len(r.Answer) != 0 {
		t.Errorf("SERVFAIL reply: aa=%v answer %v, want no AA and no records", r.Authoritative, r.Answer)
	}
}

// failoverName is a failover name of two groups, for writeLBConfig.
const failoverName = `
[name."geo.example.org"]
select = "failover"
order = ["a", "b"]
[name."geo.example.org".groups.a]
addresses = ["192.0.2.1"]
[name."geo.example.org".groups.b]
addresses = ["198.51.100.1", "203.0.113.1"]
`

// TestOverridesAndFallbacks: an operator drain removes an address, and
// when every address is down the name's when_all_down decides.
func TestOverridesAndFallbacks(t *testing.T) {
	cfgPath := writeLBConfig(t, `
[name."www.example.org"]
when_all_down = "nodata"
degraded_ttl = 5
`+failoverName)
	srv, addr := startServer(t, cfgPath)
	if err := srv.SetOverride("127.0.0.2", "drain"); err != nil {
		t.Fatal(err)
	}
	r := queryA(t, addr, "www.example.org.")
	if got := answerAddrs(r); !slices.Equal(got, []string{"127.0.0.1", "127.0.0.3"}) || r.Answer[0].Header().Ttl != 5 {
		t.Errorf("after drain: %v ttl %d, want .1 and .3 with the degraded TTL 5", got, r.Answer[0].Header().Ttl)
	}
	for _, a := range []string{"127.0.0.1", "127.0.0.3"} {
		if err := srv.SetOverride(a, "down"); err != nil {
			t.Fatal(err)
		}
	}
	r = queryA(t, addr, "www.example.org.")
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("all down with nodata: %v", r)
	}
	if err := srv.SetOverride("geo.example.org", "drain"); err != nil {
		t.Fatal(err)
	}
	got := sampleMatchesStatus(t, srv)
	for _, want := range []string{"www.example.org. 127.0.0.2 unchecked drain", "www.example.org. 127.0.0.3 unchecked down", "geo.example.org. 203.0.113.1 unchecked drain"} {
		if !slices.Contains(got, want) {
			t.Errorf("the history's sample lacks %q: %v", want, got)
		}
	}
	if err := srv.SetOverride("geo.example.org", ""); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetOverride("www.example.org", ""); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetOverride("www.example.org.invalid", "drain"); err == nil {
		t.Error("override of an unknown name succeeded")
	}

	if got := answerAddrs(queryA(t, addr, "geo.example.org.")); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("failover active: %v", got)
	}
	if err := srv.SetOverride("192.0.2.1", "down"); err != nil {
		t.Fatal(err)
	}
	if got := answerAddrs(queryA(t, addr, "geo.example.org.")); !slices.Equal(got, []string{"198.51.100.1", "203.0.113.1"}) {
		t.Errorf("failover passive: %v", got)
	}
	// Overrides survive a reload.
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if got := answerAddrs(queryA(t, addr, "geo.example.org.")); !slices.Equal(got, []string{"198.51.100.1", "203.0.113.1"}) {
		t.Errorf("after reload: %v", got)
	}
}

// TestGeoECS: the right group per country, continent, ASN and CIDR from
// the ECS option, the scope in the reply, and fall-through when a group
// is all down.
func TestGeoECS(t *testing.T) {
	cfgPath := writeGeoConfig(t)
	srv, addr := startServer(t, cfgPath)
	ask := func(subnet string) (*dns.Msg, *dns.EDNS0_SUBNET) {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion("geo.example.org.", dns.TypeA)
		m.SetEdns0(1232, false)
		if subnet != "" {
			_, p, _ := net.ParseCIDR(subnet)
			ones, _ := p.Mask.Size()
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(ones), Address: p.IP})
		}
		r := exchange(t, addr, "udp", m)
		for _, o := range r.IsEdns0().Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				return r, e
			}
		}
		return r, nil
	}
	for _, tc := range []struct {
		subnet string
		want   string
		scope  int
	}{
		// DE (192.0.2.0/25 in the city database): continent EU.
		{"192.0.2.0/24", "192.0.2.1", 25},
		// JP (198.51.100.0/24 in the city database). No rule names an
		// ASN, so the ASN database (198.51.100.0/25) is not read and does
		// not narrow the scope.
		{"198.51.100.0/24", "198.51.100.1", 24},
		// The CIDR rule beats the country (AU) for its whole /24.
		{"203.0.113.0/24", "198.51.100.1", 24},
	} {
		r, e := ask(tc.subnet)
		if got := answerAddrs(r); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("ECS %s: %v, want %s", tc.subnet, got, tc.want)
		}
		if e == nil || int(e.SourceScope) != tc.scope {
			t.Errorf("ECS %s: reply ECS %v, want scope /%d", tc.subnet, e, tc.scope)
		}
	}
	// No ECS: the source address 127.0.0.1 has no GeoIP data: default.
	if r, e := ask(""); !slices.Equal(answerAddrs(r), []string{"203.0.113.1"}) || e != nil {
		t.Errorf("no ECS: %v %v", answerAddrs(r), e)
	}
	// A name whose answer does not depend on the client gets scope 0.
	m := new(dns.Msg)
	m.SetQuestion("ns1.example.org.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("192.0.2.0")})
	r := exchange(t, addr, "udp", m)
	if o := r.IsEdns0(); o == nil || len(o.Option) != 1 || o.Option[0].(*dns.EDNS0_SUBNET).SourceScope != 0 {
		t.Errorf("static name: ECS %v, want scope 0", o)
	}
	// Bits beyond the source prefix, or a SCOPE set in a query: FORMERR
	// (RFC 7871 section 7.1.1). Raw option bytes, since the client
	// library would clean them up.
	for _, raw := range [][]byte{{0, 1, 20, 0, 192, 0, 2}, {0, 1, 24, 8, 192, 0, 2}, {0, 3, 24, 0, 192, 0, 2}} {
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: raw}}
		if r := exchange(t, addr, "udp", m); r.Rcode != dns.RcodeFormatError {
			t.Errorf("malformed ECS % x: rcode %s, want FORMERR", raw, dns.RcodeToString[r.Rcode])
		}
	}
	// Europe all down: falls through to the default group.
	if err := srv.SetOverride("192.0.2.1", "down"); err != nil {
		t.Fatal(err)
	}
	if r, _ := ask("192.0.2.0/24"); !slices.Equal(answerAddrs(r), []string{"203.0.113.1"}) {
		t.Errorf("EU down: %v, want the default group", answerAddrs(r))
	}
}

func TestQueryLog(t *testing.T) {
	cfgPath := writeLBConfig(t, "[log]\nquery_log = \"queries.log\"\nquery_sample = 1.0\n")
	_, addr := startServer(t, cfgPath)
	queryA(t, addr, "www.example.org.")
	queryA(t, addr, "nope.example.org.")
	data, err := os.ReadFile(filepath.Join(filepath.Dir(cfgPath), "queries.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], " 127.0.0.1 udp www.example.org. A NOERROR 3 ") ||
		!strings.Contains(lines[1], " nope.example.org. A NXDOMAIN 0 ") {
		t.Errorf("query log:\n%s", data)
	}
}

// TestQueryLogSample: with a sample below 1 the other queries keep the
// precomputed replies, and the sample is about the rate asked for; a
// reload after the file was moved away (logrotate) starts a new file, and
// a new path or rate in the config takes effect.
func TestQueryLogSample(t *testing.T) {
	cfgPath := writeLBConfig(t, "[log]\nquery_log = \"queries.log\"\nquery_sample = 0.25\n")
	dir := filepath.Dir(cfgPath)
	srv := newConfigServer(t, cfgPath)
	defer func() { _ = srv.qlog.Swap(nil).Close() }()
	w := newUDPWorker(srv)
	ask := func(name string) {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		pkt, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if r := w.answer(pkt, testClient, w.outs[0]); r == nil {
			t.Fatalf("%s: no reply", name)
		}
	}
	lines := func(name string) int {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(data), "\n")
	}
	const n = 400
	for range n {
		ask("www.example.org.")
	}
	// 100 expected; 40..160 is more than 6 standard deviations (8.7).
	if got := lines("queries.log"); got < 40 || got > 160 {
		t.Errorf("%d of %d queries logged at query_sample = 0.25", got, n)
	}
	if hits := w.ans.MemoStats().Hits; hits < n/2 {
		t.Errorf("%d of %d queries had a precomputed reply with the query log on", hits, n)
	}

	// logrotate: move the file away, then reload.
	if err := os.Rename(filepath.Join(dir, "queries.log"), filepath.Join(dir, "queries.log.1")); err != nil {
		t.Fatal(err)
	}
	rotated := lines("queries.log.1")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(cfg), "query_sample = 0.25", "query_sample = 1.0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	ask("www.example.org.")
	ask("nope.example.org.")
	if got := lines("queries.log"); got != 2 {
		t.Errorf("after the reload the new file has %d lines, want 2 (query_sample = 1.0)", got)
	}
	if got := lines("queries.log.1"); got != rotated {
		t.Errorf("the moved file grew from %d to %d lines after the reload", rotated, got)
	}

	// No query log in the config: the file is closed and stays as it is.
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(cfg), "query_log = \"queries.log\"", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	ask("www.example.org.")
	if got := lines("queries.log"); got != 2 {
		t.Errorf("without query_log the file has %d lines, want 2", got)
	}
}

// writeGeoConfig is writeLBConfig with geo.example.org selected by the
// test GeoIP databases: EU to 192.0.2.1, JP and 203.0.113.0/24 to
// 198.51.100.1, everyone else to 203.0.113.1.
func writeGeoConfig(t testing.TB) string {
	t.Helper()
	geoDir, err := filepath.Abs("testdata/geo")
	if err != nil {
		t.Fatal(err)
	}
	return writeLBConfig(t, fmt.Sprintf(`
[geoip]
files = [%q, %q]

[name."geo.example.org"]
select = "geo"
default = "other"
[name."geo.example.org".groups.eu]
addresses = ["192.0.2.1"]
[name."geo.example.org".groups.asia]
addresses = ["198.51.100.1"]
[name."geo.example.org".groups.other]
addresses = ["203.0.113.1"]
[[name."geo.example.org".rules]]
match = ["continent:EU"]
group = "eu"
[[name."geo.example.org".rules]]
match = ["country:JP", "cidr:203.0.113.0/24"]
group = "asia"
`, filepath.Join(geoDir, "city.mmdb"), filepath.Join(geoDir, "asn.mmdb")))
}

// TestDrainedNeverServed: serve-all with max_answers still skips drained
// addresses, and the additional section leaves out addresses that are
// down or drained.
func TestDrainedNeverServed(t *testing.T) {
	cfgPath := writeLBConfig(t, `
[name."www.example.org"]
max_answers = 1
when_all_down = "serve-all"
`)
	srv, addr := startServer(t, cfgPath)
	for target, state := range map[string]string{"127.0.0.1": "drain", "127.0.0.2": "down", "127.0.0.3": "down"} {
		if err := srv.SetOverride(target, state); err != nil {
			t.Fatal(err)
		}
	}
	r := queryA(t, addr, "www.example.org.")
	if got := answerAddrs(r); len(got) != 1 || got[0] == "127.0.0.1" {
		t.Errorf("all down, .1 drained, serve-all, max 1: %v, want one of .2 and .3", got)
	}
	m := new(dns.Msg)
	m.SetQuestion("mx.example.org.", dns.TypeMX)
	r = exchange(t, addr, "udp", m)
	for _, rr := range r.Extra {
		if _, ok := rr.(*dns.A); ok {
			t.Errorf("additional has %v although every address of www is down or drained", rr)
		}
	}
	if err := srv.SetOverride("127.0.0.3", ""); err != nil {
		t.Fatal(err)
	}
	r = exchange(t, addr, "udp", m)
	if got := answerAddrs(&dns.Msg{Answer: r.Extra}); !slices.Equal(got, []string{"127.0.0.3"}) {
		t.Errorf("additional: %v, want only the address that is up", got)
	}
}

// TestHealthExplicitTarget: a check with its own target is probed once,
// however many addresses it watches, and its verdict applies to them all.
func TestHealthExplicitTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for probes")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	cfgPath := writeLBConfig(t, fmt.Sprintf(`
[healthcheck.vip]
type = "tcp"
target = %q
interval = "1s"
timeout = "500ms"
rise = 1
fall = 1
[name."www.example.org"]
check = "vip"
when_all_down = "nodata"
`, ln.Addr().String()))
	srv, addr := startServer(t, cfgPath)
	if n := len(srv.prober.Snapshot()); n != 1 {
		t.Errorf("prober has %d targets, want 1 for a check with an explicit target", n)
	}
	if got := answerAddrs(queryA(t, addr, "www.example.org.")); len(got) != 3 {
		t.Fatalf("with the target up: %v", got)
	}
	ln.Close()
	waitFor(t, "every address to go with the target", func() bool {
		r := queryA(t, addr, "www.example.org.")
		return r.Rcode == dns.RcodeSuccess && len(r.Answer) == 0
	})
}

// TestWildcardAdditionalHealth: an MX target that a load-balanced wildcard
// answers gets the wildcard's addresses in additional, without one that
// is drained, as the target's own answer has it.
func TestWildcardAdditionalHealth(t *testing.T) {
	cfgPath := writeLBConfig(t, "[name.\"*.wild.test.\"]\n")
	zone := "$ORIGIN wild.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n" +
		"* IN A 192.0.2.10\n  IN A 192.0.2.11\n@ IN MX 10 mail\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfgPath), "zones", "wild.test.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, cfgPath)
	if err := srv.SetOverride("192.0.2.10", "drain"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"mail.wild.test.", dns.TypeA}, {"wild.test.", dns.TypeMX}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		r := exchange(t, addr, "udp", m)
		got := strings.Join(append(section(r.Answer), section(r.Extra)...), "\n")
		if strings.Contains(got, "192.0.2.10") || !strings.Contains(got, "mail.wild.test. 300 IN A 192.0.2.11") {
			t.Errorf("%s %s with 192.0.2.10 drained:\n%s", q.name, dns.TypeToString[q.qtype], got)
		}
	}
}
