package dnslb

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/dnssec"
)

// signedZone is the signed zone of dnslb/sign's tests
// (testdata/dnssec/signed.zone.fmt) and a load-balanced name with health
// checks: a format for fmt with five strings for the big TXT RRset.
var signedZone = readZoneFormat("../testdata/dnssec/signed.zone.fmt") + `hc IN A 127.0.0.1
hc IN A 127.0.0.2
`

// readZoneFormat is the text of the fixture at path; a missing fixture
// ends the test binary before any test runs.
func readZoneFormat(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// signedSetup writes a signed zone's files in a new folder: the zone, a
// key of algorithm alg (ksk+zsk when split), the config (extra appended),
// and delv's trust anchor (the DS, as the parent would hold it).
func signedSetup(t testing.TB, alg uint8, split bool, extra string) (cfg, anchors string, keys []*dnssec.Key) {
	t.Helper()
	dir := t.TempDir()
	txt := strings.Repeat("x", 200)
	zone := fmt.Sprintf(signedZone, txt+"1", txt+"2", txt+"3", txt+"4", txt+"5")
	if err := os.WriteFile(filepath.Join(dir, "example.org.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	kdir := filepath.Join(dir, "keys")
	if err := os.Mkdir(kdir, 0o755); err != nil {
		t.Fatal(err)
	}
	roles := []bool{true}
	if split {
		roles = []bool{true, false}
	}
	var anchor strings.Builder
	anchor.WriteString("trust-anchors {\n")
	for _, ksk := range roles {
		k, err := dnssec.Generate("example.org.", alg, ksk)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Write(kdir); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		if ksk {
			ds := k.DS()
			fmt.Fprintf(&anchor, "  example.org. static-ds %d %d %d %q;\n", ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
		}
	}
	anchor.WriteString("};\n")
	anchors = filepath.Join(dir, "anchors")
	if err := os.WriteFile(anchors, []byte(anchor.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "dnslb.toml")
	body := `[[zone]]
name = "example.org"
file = "example.org.zone"
[dnssec]
key_dir = "keys"
[name."lb.example.org"]
pick = "round-robin"
` + extra
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, anchors, keys
}

// TestDNSSECDelv: BIND's delv, with the zone's DS as its trust anchor,
// fully validates positive answers (static, round-robin, load-balanced,
// CNAME, wildcard, apex, DNSKEY, CDS, CDNSKEY, DS at a cut), NODATA (at a name, at an
// empty non-terminal) and NXDOMAIN (compact denial), over UDP and TCP,
// for both algorithms and both key layouts; and rejects them when the
// trust anchor is another key's.
func TestDNSSECDelv(t *testing.T) {
	delv := needTool(t, "delv", "bind9-dnsutils")
	for _, tc := range []struct {
		alg   uint8
		split bool
	}{{dns.ECDSAP256SHA256, false}, {dns.ED25519, true}} {
		t.Run(fmt.Sprintf("alg%d-split%v", tc.alg, tc.split), func(t *testing.T) {
			cfg, anchors, _ := signedSetup(t, tc.alg, tc.split, "")
			_, addr := startServer(t, cfg)
			host, port, _ := net.SplitHostPort(addr)
			run := func(anchors string, args ...string) string {
				a := append([]string{"@" + host, "-p", port, "-a", anchors, "+root=example.org"}, args...)
				out, _ := exec.Command(delv, a...).CombinedOutput()
				return string(out)
			}
			for _, q := range [][]string{
				{"www.example.org", "A"}, {"lb.example.org", "A"}, {"alias.example.org", "A"},
				{"x.y.wild.example.org", "A"}, {"example.org", "SOA"}, {"example.org", "NS"},
				{"example.org", "DNSKEY"}, {"secure.example.org", "DS"}, {"big.example.org", "TXT"},
				{"example.org", "CDS"}, {"example.org", "CDNSKEY"},
			} {
				for _, tr := range []string{"+notcp", "+tcp"} {
					if out := run(anchors, append(q, tr)...); !strings.Contains(out, "; fully validated") {
						t.Errorf("delv %s %s: not validated:\n%s", strings.Join(q, " "), tr, out)
					}
				}
			}
			for _, q := range [][]string{
				{"nx.example.org", "A"}, {"www.example.org", "TXT"}, {"b.ent.example.org", "A"}, {"ns1.example.org", "AAAA"},
			} {
				if out := run(anchors, q...); !strings.Contains(out, "; negative response, fully validated") {
					t.Errorf("delv %s: denial not validated:\n%s", strings.Join(q, " "), out)
				}
			}
			// Another key's DS as the anchor: the answers must not validate.
			_, wrong, _ := signedSetup(t, tc.alg, false, "")
			if out := run(wrong, "www.example.org", "A"); strings.Contains(out, "fully validated") {
				t.Errorf("delv with a wrong trust anchor validated:\n%s", out)
			}
		})
	}
}

// TestDNSSECCheck: dnslb check reports missing, wrong-zone,
// wrong-algorithm and world-readable keys at the config's line.
func TestDNSSECCheck(t *testing.T) {
	cfg, _, keys := signedSetup(t, dns.ED25519, false, `[[dnssec.zone]]
name = "example.org"
keys = ["keys/Kmissing"]
[[dnssec.zone]]
name = "example.net"
key_dir = "keys"
`)
	dir := filepath.Dir(cfg)
	k := keys[0]
	if err := os.Chmod(k.FileBase(filepath.Join(dir, "keys"))+".private", 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Check(cfg)
	if err == nil {
		t.Fatal("check passed")
	}
	for _, want := range []string{
		cfg + ":10: dnssec.zone \"example.org\" keys: " + filepath.Join(dir, "keys/Kmissing.key") + ": no such file or directory",
		cfg + ":12: dnssec.zone \"example.net\": no zone example.net. is served",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("check: missing %q in\n%v", want, err)
		}
	}
	// The folder for every zone: the readable private file.
	cfg2 := filepath.Join(dir, "two.toml")
	os.WriteFile(cfg2, []byte("[[zone]]\nname = \"example.org\"\nfile = \"example.org.zone\"\n[dnssec]\nkey_dir = \"keys\"\n"), 0o644)
	if _, _, err := Check(cfg2); err == nil || !strings.Contains(err.Error(), cfg2+":5: dnssec.key_dir: ") || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("check of a readable private key: %v", err)
	}
	// A key of another zone under this zone's name.
	other, _ := dnssec.Generate("example.com.", dns.ED25519, true)
	base, _ := other.Write(filepath.Join(dir, "keys"))
	os.Chmod(k.FileBase(filepath.Join(dir, "keys"))+".private", 0o600)
	wrong := filepath.Join(dir, "keys", "Kexample.org.+015+00001")
	os.Rename(base+".key", wrong+".key")
	os.Rename(base+".private", wrong+".private")
	if _, _, err := Check(cfg2); err == nil || !strings.Contains(err.Error(), "key of zone example.com., not example.org.") {
		t.Errorf("check of another zone's key: %v", err)
	}
}

// TestDNSSECUnbound: Unbound as a validating resolver, with a stub zone to
// dnslb and the zone's DS as its trust anchor, sets AD on positive
// answers (round-robin, load-balanced, CNAME, wildcard, DS, CDS, CDNSKEY), NODATA and
// NXDOMAIN (compact denial: NOERROR, or NXDOMAIN with CO), over UDP and
// TCP to dnslb; and answers SERVFAIL when the anchor is another key's.
func TestDNSSECUnbound(t *testing.T) {
	unbound := needTool(t, "unbound", "unbound")
	cfg, _, keys := signedSetup(t, dns.ED25519, true, "")
	_, addr := startServer(t, cfg)
	var ds string
	for _, k := range keys {
		if k.KSK() {
			ds = strings.ReplaceAll(k.DS().String(), "\t", " ")
		}
	}
	other, _ := dnssec.Generate("example.org.", dns.ED25519, true)
	for _, tc := range []struct {
		name, anchor string
		tcp          bool
		valid        bool
	}{{"udp", ds, false, true}, {"tcp", ds, true, true}, {"wrong-anchor", strings.ReplaceAll(other.DS().String(), "\t", " "), false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			res := startUnbound(t, unbound, addr, tc.anchor, tc.tcp)
			for _, q := range []struct {
				name  string
				qt    uint16
				rcode int
			}{
				{"www.example.org.", dns.TypeA, dns.RcodeSuccess},
				{"lb.example.org.", dns.TypeA, dns.RcodeSuccess},
				{"alias.example.org.", dns.TypeA, dns.RcodeSuccess},
				{"x.wild.example.org.", dns.TypeA, dns.RcodeSuccess},
				{"secure.example.org.", dns.TypeDS, dns.RcodeSuccess},
				{"example.org.", dns.TypeCDS, dns.RcodeSuccess},
				{"example.org.", dns.TypeCDNSKEY, dns.RcodeSuccess},
				{"www.example.org.", dns.TypeMX, dns.RcodeSuccess},
				{"nx.example.org.", dns.TypeA, dns.RcodeSuccess},
			} {
				r := krefAsk(t, res, q.name, q.qt)
				if !tc.valid {
					if r.Rcode != dns.RcodeServerFailure || r.AuthenticatedData {
						t.Errorf("%s %s with a wrong anchor: %s AD=%v, want SERVFAIL", q.name, dns.TypeToString[q.qt], dns.RcodeToString[r.Rcode], r.AuthenticatedData)
					}
					continue
				}
				if r.Rcode != q.rcode || !r.AuthenticatedData {
					t.Errorf("%s %s: %s AD=%v, want %s AD", q.name, dns.TypeToString[q.qt], dns.RcodeToString[r.Rcode], r.AuthenticatedData, dns.RcodeToString[q.rcode])
				}
			}
		})
	}
}

// TestDNSSECReload: a reload that drops [dnssec] serves the zone unsigned
// at once (no memoized signed reply, no DNSKEY), and one that brings it
// back signs again; a reload with a bad key fails and keeps the keys.
func TestDNSSECReload(t *testing.T) {
	cfg, _, _ := signedSetup(t, dns.ECDSAP256SHA256, false, "")
	srv, addr := startServer(t, cfg)
	signed, _ := os.ReadFile(cfg)
	sigs := func() int {
		m := new(dns.Msg)
		m.SetQuestion("example.org.", dns.TypeDNSKEY)
		m.SetEdns0(1232, true)
		r := exchange(t, addr, "udp", m)
		return len(r.Answer)
	}
	if n := sigs(); n != 2 {
		t.Fatalf("signed: %d DNSKEY answer records, want the key and its RRSIG", n)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(signed), "[dnssec]\nkey_dir = \"keys\"\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if n := sigs(); n != 0 {
		t.Errorf("after dropping [dnssec]: %d DNSKEY answer records", n)
	}
	if err := os.WriteFile(cfg, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if n := sigs(); n != 2 {
		t.Errorf("after restoring [dnssec]: %d DNSKEY answer records", n)
	}
	keys, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), "keys", "*.private"))
	if err := os.Chmod(keys[0], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload("test"); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("reload with a readable private key: %v", err)
	}
	if n := sigs(); n != 2 {
		t.Errorf("after a failed reload: %d DNSKEY answer records", n)
	}
}

// TestDNSSECStatus: /api/status and the status page show a signed zone's
// keys with their roles and what the signer did, and /metrics counts the
// signatures made and the cache's hits.
func TestDNSSECStatus(t *testing.T) {
	cfg, _, keys := signedSetup(t, dns.ED25519, true, "")
	srv, addr := startServer(t, cfg)
	for _, name := range []string{"www.example.org.", "nx.example.org.", "www.example.org."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.SetEdns0(1232, true)
		exchange(t, addr, "udp", m) // the second www comes from the memo or the cache: no new signature
	}
	st := srv.Status()
	if len(st.Zones) != 1 || st.Zones[0].DNSSEC == nil {
		t.Fatalf("status zones: %+v", st.Zones)
	}
	d := st.Zones[0].DNSSEC
	if len(d.Keys) != 2 || d.Keys[0].Tag != keys[0].Tag() || d.Keys[0].Role != "KSK" || d.Keys[1].Role != "ZSK" || d.Keys[0].Algorithm != "ED25519" {
		t.Errorf("keys: %+v, want KSK %d and ZSK %d, ED25519", d.Keys, keys[0].Tag(), keys[1].Tag())
	}
	// www's A, nx's SOA and NSEC: three RRsets signed once each.
	if d.Made != 3 || d.Cached != 3 || d.Expires.Before(time.Now().Add(6*24*time.Hour)) {
		t.Errorf("dnssec status: %+v", d)
	}
	if got := metricValue(t, srv, `dnslb_dnssec_signatures_total{zone="example.org."}`); got != 3 {
		t.Errorf("dnslb_dnssec_signatures_total = %v, want 3", got)
	}
	if got := metricValue(t, srv, `dnslb_dnssec_signing_seconds_total{zone="example.org."}`); got <= 0 {
		t.Errorf("dnslb_dnssec_signing_seconds_total = %v", got)
	}
	page := getBody(t, startAdmin(t, srv, time.Second)+"/")
	for _, want := range []string{fmt.Sprintf("KSK %d (ED25519)", keys[0].Tag()), fmt.Sprintf("ZSK %d (ED25519)", keys[1].Tag()), "3 signatures made"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page: no %q", want)
		}
	}
}

// healthFlipSetup starts a server signing example.org with hc.example.org
// checked by TCP on two backends, 127.0.0.1 and 127.0.0.2 (dying, which a
// test closes), interval 1 s, fall 1; ask queries hc.example.org A with
// DO, checks the RRSIG verifies, and returns the addresses, sorted.
func healthFlipSetup(t *testing.T) (srv *Server, dying net.Listener, ask func() []string) {
	t.Helper()
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	_, port, _ := net.SplitHostPort(up.Addr().String())
	dying, err = net.Listen("tcp", "127.0.0.2:"+port)
	if err != nil {
		t.Fatalf("127.0.0.2:%s: %v", port, err)
	}
	cfg, _, keys := signedSetup(t, dns.ECDSAP256SHA256, false, fmt.Sprintf(`[healthcheck.hc]
type = "tcp"
port = %s
interval = "1s"
timeout = "300ms"
rise = 1
fall = 1
[name."hc.example.org"]
check = "hc"
`, port))
	srv, addr := startServer(t, cfg)
	ask = func() []string {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion("hc.example.org.", dns.TypeA)
		m.SetEdns0(1232, true)
		r := exchange(t, addr, "udp", m)
		var a []dns.RR
		var sig *dns.RRSIG
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				a = append(a, rr)
			case *dns.RRSIG:
				sig = rr
			}
		}
		if sig == nil || sig.Verify(keys[0].DNSKEY, a) != nil {
			t.Fatalf("reply does not verify: %v", r.Answer)
		}
		var out []string
		for _, rr := range a {
			out = append(out, rr.(*dns.A).A.String())
		}
		slices.Sort(out)
		return out
	}
	return srv, dying, ask
}

// TestDNSSECHealthFlip: when a backend dies, every signed reply for its
// name verifies (before, during and after the change), and the RRset
// without it is answered, signed, at most 3 s after the close (interval
// 1 s, fall 1: the next probe's verdict, then the next query signs).
func TestDNSSECHealthFlip(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the prober")
	}
	_, dying, ask := healthFlipSetup(t)
	deadline := time.Now().Add(5 * time.Second)
	for len(ask()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("hc never answered both addresses: %v", ask())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond) // a probe has seen both up
	dying.Close()
	closed := time.Now()
	for {
		got := ask()
		if len(got) == 1 && got[0] == "127.0.0.1" {
			break
		}
		if time.Since(closed) > 3*time.Second {
			t.Fatalf("3 s after the close: still %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the RRset without the dead address answered, signed, %v after the close", time.Since(closed).Round(time.Millisecond))
	for range 5 {
		if got := ask(); len(got) != 1 {
			t.Fatalf("after the flip: %v", got)
		}
	}
}

// TestDNSSECSignAhead: when a backend dies, the RRset without it is
// signed ahead, before any query asks (dnslb_dnssec_signatures_total
// grows with no query sent), and the next DO query for the name is a
// signature cache hit (dnslb_dnssec_cache_hits_total grows, the
// signatures do not), with a reply that verifies.
func TestDNSSECSignAhead(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the prober")
	}
	srv, dying, ask := healthFlipSetup(t)
	const made, hits = `dnslb_dnssec_signatures_total{zone="example.org."}`, `dnslb_dnssec_cache_hits_total{zone="example.org."}`
	if got := ask(); len(got) != 2 {
		t.Fatalf("hc before the close: %v", got)
	}
	time.Sleep(1100 * time.Millisecond) // a probe has seen both up
	made0 := metricValue(t, srv, made)
	dying.Close()
	closed := time.Now()
	for metricValue(t, srv, made) == made0 {
		if time.Since(closed) > 4*time.Second {
			t.Fatalf("4 s after the close, nothing signed ahead (%s = %v)", made, made0)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("signed ahead %v after the close", time.Since(closed).Round(time.Millisecond))
	time.Sleep(100 * time.Millisecond) // the batch is one RRset; let it end
	made1, hits1 := metricValue(t, srv, made), metricValue(t, srv, hits)
	if made1 != made0+1 {
		t.Errorf("signed ahead %v signatures, want 1 (127.0.0.1 alone)", made1-made0)
	}
	if got := ask(); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Fatalf("after the close: %v", got)
	}
	if m, h := metricValue(t, srv, made), metricValue(t, srv, hits); m != made1 || h != hits1+1 {
		t.Errorf("the first query after the close: %s %v -> %v, %s %v -> %v: want a cache hit, no new signature", made, made1, m, hits, hits1, h)
	}
}
