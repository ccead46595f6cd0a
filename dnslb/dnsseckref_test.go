package dnslb

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/dnssec"
)

// krefZone is the zone both dnslb and Knot sign online in
// TestDNSSECKnotReference: static names only (no policy), an apex with
// several types, addresses, a name with several types, CNAMEs, a
// wildcard, an empty non-terminal, and a delegation with DS and one
// without. The glue is on loopback addresses nobody listens on, so a
// resolver that follows a referral sends nothing off the machine.
const krefZone = `$ORIGIN example.org.
$TTL 300
@ IN SOA ns1 hostmaster 7 7200 3600 1209600 300
@ IN NS ns1
@ IN MX 10 mail
@ IN TXT "v=spf1 -all"
@ IN A 192.0.2.80
ns1 IN A 127.0.0.1
mail IN A 192.0.2.25
mail IN AAAA 2001:db8::25
www IN A 192.0.2.1
www IN A 192.0.2.2
www IN A 192.0.2.3
www IN AAAA 2001:db8::1
v6 IN AAAA 2001:db8::6
multi IN A 192.0.2.5
multi IN AAAA 2001:db8::5
multi IN MX 10 mail
multi IN MX 20 mail.example.net.
multi IN TXT "several" "types"
multi IN TXT "second string"
alias IN CNAME www
walias IN CNAME x.wild
dangle IN CNAME gone
*.wild IN A 192.0.2.50
*.wild IN TXT "wildcard"
a.b.ent IN A 192.0.2.60
sub IN NS ns.sub
ns.sub IN A 127.1.0.53
secure IN NS ns.secure
secure IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.secure IN A 127.1.0.54
`

// krefView is what the reference test compares of a reply: the rcode,
// AD, and the answer and authority records without their RRSIGs (other
// keys) and without NSEC (the denial's shapes may differ), as sorted
// zone-file lines with the TTL zeroed (a resolver counts it down).
type krefView struct {
	Rcode  string
	AD     bool
	Answer []string
	Auth   []string
}

func krefLines(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		switch rr.Header().Rrtype {
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeOPT:
			continue
		}
		rr = dns.Copy(rr)
		rr.Header().Ttl = 0
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
}

func krefViewOf(r *dns.Msg) krefView {
	return krefView{Rcode: dns.RcodeToString[r.Rcode], AD: r.AuthenticatedData, Answer: krefLines(r.Answer), Auth: krefLines(r.Ns)}
}

// startKnot runs knotd (a child process, stopped when the test ends)
// serving zonefile as example.org. with mod-onlinesign and the keys it
// makes itself at the first start (default policy: one ECDSA P-256 CSK),
// in its own folder. It returns knotd's address and its DNSKEY RRset.
func startKnot(t *testing.T, knotd, zonefile string) (string, []*dns.DNSKEY) {
	t.Helper()
	dir := t.TempDir()
	addr := freePort(t)
	host, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf(`server:
    rundir: %[1]q
    listen: %[2]s@%[3]s
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: %[4]q
database:
    storage: %[5]q
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: %[1]q
    semantic-checks: off
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: example.org
    file: %[6]q
    module: mod-onlinesign
`, dir, host, port, filepath.Join(dir, "knot.sock"), filepath.Join(dir, "db"), zonefile)
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(knotd, "-c", cf)
	var logb strings.Builder
	cmd.Stderr, cmd.Stdout = &logb, &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("knotd log:\n%s", logb.String())
		}
	})
	// The zone is up once its DNSKEY RRset is answered, signed.
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeDNSKEY)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: time.Second}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r, _, err := c.Exchange(m, addr)
		if err != nil || r.Rcode != dns.RcodeSuccess {
			continue
		}
		var keys []*dns.DNSKEY
		for _, rr := range r.Answer {
			if k, ok := rr.(*dns.DNSKEY); ok {
				keys = append(keys, k)
			}
		}
		if len(keys) > 0 {
			return addr, keys
		}
	}
	t.Fatalf("knotd at %s never answered example.org. DNSKEY", addr)
	return "", nil
}

// startUnbound runs a validating Unbound (a child process, stopped when
// the test ends) with a stub zone example.org. to the server at auth and
// the trust anchor ds, asking it over TCP when tcp is set, and returns
// its address.
func startUnbound(t *testing.T, unbound, auth, ds string, tcp bool) string {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(freePort(t))
	ahost, aport, _ := net.SplitHostPort(auth)
	upstream := "no"
	if tcp {
		upstream = "yes"
	}
	conf := fmt.Sprintf(`server:
  interface: %s
  port: %s
  do-daemonize: no
  chroot: ""
  username: ""
  directory: %q
  pidfile: %q
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor: %q
  tcp-upstream: %s
  qname-minimisation: no
  cache-max-ttl: 0
  cache-max-negative-ttl: 0
remote-control:
  control-enable: no
stub-zone:
  name: "example.org"
  stub-addr: %s@%s
`, host, port, dir, filepath.Join(dir, "unbound.pid"), ds, upstream, ahost, aport)
	cf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unbound, "-d", "-c", cf)
	var logb strings.Builder
	cmd.Stderr, cmd.Stdout = &logb, &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("unbound (stub %s) log:\n%s", auth, logb.String())
		}
	})
	return net.JoinHostPort(host, port)
}

// krefAsk sends a recursive DO query to the resolver at res, retrying
// while it starts.
func krefAsk(t *testing.T, res, name string, qt uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qt)
	m.RecursionDesired = true
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 3 * time.Second}
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var r *dns.Msg
		if r, _, err = c.Exchange(m, res); err == nil {
			return r
		}
	}
	t.Fatalf("%s: %s %s: %v", res, name, dns.TypeToString[qt], err)
	return nil
}

// anchorOf is the trust-anchor line of the SEP keys among keys (the DS,
// SHA-256, as `dnslb ds` prints it and as the parent would hold it).
func anchorOf(t *testing.T, keys []*dns.DNSKEY) string {
	t.Helper()
	for _, k := range keys {
		if k.Flags&dns.SEP != 0 {
			return strings.ReplaceAll(k.ToDS(dns.SHA256).String(), "\t", " ")
		}
	}
	t.Fatalf("no SEP key among %v", keys)
	return ""
}

// verifySigs checks that every DS and NSEC RRset in rrs has an RRSIG, and
// that every RRSIG there verifies with one of keys, now.
func verifySigs(rrs []dns.RR, keys []*dns.DNSKEY) error {
	sets := map[[2]string][]dns.RR{}
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeRRSIG {
			k := [2]string{strings.ToLower(rr.Header().Name), dns.TypeToString[rr.Header().Rrtype]}
			sets[k] = append(sets[k], rr)
		}
	}
	signed := map[[2]string]bool{}
	for _, rr := range rrs {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		k := [2]string{strings.ToLower(sig.Header().Name), dns.TypeToString[sig.TypeCovered]}
		i := slices.IndexFunc(keys, func(d *dns.DNSKEY) bool { return d.KeyTag() == sig.KeyTag })
		if i < 0 {
			return fmt.Errorf("%s: no key %d", sig, sig.KeyTag)
		}
		if err := sig.Verify(keys[i], sets[k]); err != nil {
			return fmt.Errorf("%s over %v: %w", sig, sets[k], err)
		}
		if !sig.ValidityPeriod(time.Now()) {
			return fmt.Errorf("%s: not valid now", sig)
		}
		signed[k] = true
	}
	for k := range sets {
		if (k[1] == "DS" || k[1] == "NSEC") && !signed[k] {
			return fmt.Errorf("%s %s: no RRSIG", k[0], k[1])
		}
	}
	return nil
}

// TestDNSSECKnotReference: the same static zone, signed online by dnslb
// (an ECDSA P-256 CSK) and by Knot's mod-onlinesign (its own keys), each
// behind its own validating Unbound with that server's DS as the trust
// anchor, gives the same answers: for every name of a matrix of names and
// types (apex, addresses, a name with several types, CNAMEs, wildcard
// matches, NODATA, NXDOMAIN, an empty non-terminal, DS at a secure cut
// and the proof of none at an insecure one) both Unbounds set AD and
// agree on the rcode and on the answer and authority RRsets (without
// RRSIGs and NSECs: other keys, other denial shapes), and on the owner of
// the denial after a CNAME to a missing name (the target). Referrals, asked of
// the servers directly, carry the same NS, DS and glue, with the DS or
// the proof of no DS signed. A wrong trust anchor makes Unbound answer
// SERVFAIL, for either server.
func TestDNSSECKnotReference(t *testing.T) {
	if testing.Short() {
		t.Skip("runs knotd and four Unbounds")
	}
	knotd := needTool(t, "knotd", "knot")
	unbound := needTool(t, "unbound", "unbound")
	start := time.Now()

	dir := t.TempDir()
	zonefile := filepath.Join(dir, "example.org.zone")
	if err := os.WriteFile(zonefile, []byte(krefZone), 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := dnssec.Generate("example.org.", dns.ECDSAP256SHA256, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := key.Write(filepath.Join(dir, "keys")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(cfg, []byte("[[zone]]\nname = \"example.org\"\nfile = \"example.org.zone\"\n[dnssec]\nkey_dir = \"keys\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, dnslbAddr := startServer(t, cfg)
	knotAddr, knotKeys := startKnot(t, knotd, zonefile)
	dnslbKeys := []*dns.DNSKEY{key.DNSKEY}
	if slices.ContainsFunc(knotKeys, func(k *dns.DNSKEY) bool { return k.KeyTag() == key.Tag() }) {
		t.Fatalf("knotd serves dnslb's key %d: the anchors would not tell the servers apart", key.Tag())
	}
	resDnslb := startUnbound(t, unbound, dnslbAddr, anchorOf(t, dnslbKeys), false)
	resKnot := startUnbound(t, unbound, knotAddr, anchorOf(t, knotKeys), false)

	type query struct {
		name string
		qt   uint16
	}
	var matrix []query
	for _, n := range []string{"example.org.", "www", "v6", "multi", "mail", "ns1", "alias", "walias", "dangle",
		"x.wild", "y.z.wild", "nx", "nx.www", "b.ent", "a.b.ent"} {
		if n != "example.org." {
			n += ".example.org."
		}
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT} {
			matrix = append(matrix, query{n, qt})
		}
	}
	matrix = append(matrix,
		query{"example.org.", dns.TypeSOA}, query{"example.org.", dns.TypeNS},
		query{"alias.example.org.", dns.TypeCNAME}, query{"www.example.org.", dns.TypeCNAME},
		query{"secure.example.org.", dns.TypeDS}, query{"sub.example.org.", dns.TypeDS},
		query{"www.example.org.", dns.TypeDS}, query{"x.wild.example.org.", dns.TypeSRV},
	)
	// Twice, forwards and backwards: Unbound reuses the NSECs it has
	// validated (RFC 8198), so an NSEC bitmap that denies a type the name
	// has turns a later positive query into NODATA, in one order or the
	// other.
	backwards := slices.Clone(matrix)
	slices.Reverse(backwards)
	var positive, negative int
	for i, q := range append(matrix, backwards...) {
		a, b := krefViewOf(krefAsk(t, resDnslb, q.name, q.qt)), krefViewOf(krefAsk(t, resKnot, q.name, q.qt))
		what := q.name + " " + dns.TypeToString[q.qt]
		if i >= len(matrix) {
			what += " (backwards)"
		}
		if !a.AD || a.Rcode != "NOERROR" {
			t.Errorf("%s via dnslb: %s AD=%v, want a validated NOERROR", what, a.Rcode, a.AD)
		}
		if !b.AD || b.Rcode != "NOERROR" {
			t.Errorf("%s via knot: %s AD=%v, want a validated NOERROR (the reference itself fails)", what, b.Rcode, b.AD)
		}
		if !slices.Equal(a.Answer, b.Answer) || !slices.Equal(a.Auth, b.Auth) || a.Rcode != b.Rcode {
			t.Errorf("%s: dnslb and knot differ:\ndnslb: %s answer %q authority %q\nknot:  %s answer %q authority %q",
				what, a.Rcode, a.Answer, a.Auth, b.Rcode, b.Answer, b.Auth)
		}
		switch {
		case i >= len(matrix):
		case len(b.Answer) > 0:
			positive++
		default:
			negative++
		}
	}
	// The keys differ, so only that both validate.
	for _, res := range []string{resDnslb, resKnot} {
		if r := krefAsk(t, res, "example.org.", dns.TypeDNSKEY); r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
			t.Errorf("example.org. DNSKEY via %s: %s AD=%v", res, dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}
	}
	t.Logf("%d queries through each Unbound, twice: %d positive, %d negative in Knot's answers", len(matrix), positive, negative)
	if positive < 30 || negative < 15 {
		t.Errorf("the matrix is lopsided (%d positive, %d negative): the zone or the servers are not what the test assumes", positive, negative)
	}
	// The other NXDOMAIN shape: dnslb restores the rcode for CO (RFC 9824),
	// which an Unbound that does not know NXNAME cannot ask for.
	m := new(dns.Msg)
	m.SetQuestion("nx.example.org.", dns.TypeA)
	m.SetEdns0(1232, true)
	m.IsEdns0().SetCo()
	if r := exchange(t, dnslbAddr, "udp", m); r.Rcode != dns.RcodeNameError {
		t.Errorf("dnslb, nx.example.org. A with CO: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}

	// A CNAME to a missing name: the denial is the target's, from both
	// servers, not one at the alias (which exists).
	for _, s := range []struct {
		who, addr string
		keys      []*dns.DNSKEY
	}{{"dnslb", dnslbAddr, dnslbKeys}, {"knot", knotAddr, knotKeys}} {
		m := new(dns.Msg)
		m.SetQuestion("dangle.example.org.", dns.TypeA)
		m.SetEdns0(1232, true)
		r := exchange(t, s.addr, "udp", m)
		var owners []string
		for _, rr := range r.Ns {
			if rr.Header().Rrtype == dns.TypeNSEC {
				owners = append(owners, rr.Header().Name)
			}
		}
		if len(owners) != 1 || owners[0] != "gone.example.org." {
			t.Errorf("dangle.example.org. A from %s: NSEC at %v, want one at gone.example.org.:\n%s", s.who, owners, r)
		}
		if err := verifySigs(append(r.Answer, r.Ns...), s.keys); err != nil {
			t.Errorf("dangle.example.org. A from %s: %v", s.who, err)
		}
	}

	// Referrals, from the servers themselves: the same NS RRset and glue,
	// not authoritative; from dnslb the zone's DS RRset, signed (RFC 4035
	// section 3.1.4), or for the unsigned child a signed NSEC without DS.
	// Knot 3.2's onlinesign leaves the DS out of a referral and sends a
	// signed NSEC at the cut whose bitmap has DS (a validator then asks for
	// the DS, as the matrix above does): the test takes either from Knot,
	// but not an NSEC that denies a DS the zone has.
	for _, rc := range []struct {
		name string
		ds   []string // the zone's DS RRset at the cut
	}{
		{"www.sub.example.org.", nil},
		{"www.secure.example.org.", []string{"secure.example.org. 0 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}},
		{"secure.example.org.", []string{"secure.example.org. 0 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}},
	} {
		var got [2][2][]string
		for i, s := range []struct {
			who, addr string
			keys      []*dns.DNSKEY
		}{{"dnslb", dnslbAddr, dnslbKeys}, {"knot", knotAddr, knotKeys}} {
			m := new(dns.Msg)
			m.SetQuestion(rc.name, dns.TypeA)
			m.RecursionDesired = false
			m.SetEdns0(1232, true)
			r := exchange(t, s.addr, "udp", m)
			var ns, ds []string
			for _, l := range krefLines(r.Ns) {
				if strings.Contains(l, " IN DS ") {
					ds = append(ds, l)
				} else {
					ns = append(ns, l)
				}
			}
			got[i] = [2][]string{append([]string{dns.RcodeToString[r.Rcode], fmt.Sprint("aa=", r.Authoritative), fmt.Sprint("answer=", len(r.Answer))}, ns...), section(r.Extra)}
			if err := verifySigs(r.Ns, s.keys); err != nil {
				t.Errorf("referral %s from %s: %v", rc.name, s.who, err)
			}
			var bitmap []uint16
			for _, rr := range r.Ns {
				if n, ok := rr.(*dns.NSEC); ok {
					bitmap = n.TypeBitMap
				}
			}
			switch {
			case slices.Equal(ds, rc.ds) && (ds != nil) != (bitmap != nil) && !slices.Contains(bitmap, dns.TypeDS):
				// the DS RRset, or the proof that there is none
			case s.who == "knot" && ds == nil && rc.ds != nil && slices.Contains(bitmap, dns.TypeDS):
				t.Logf("referral %s from knot: no DS RRset, an NSEC with DS in its bitmap %v instead", rc.name, bitmap)
			default:
				t.Errorf("referral %s from %s: DS %q, NSEC bitmap %v; the zone's DS: %q", rc.name, s.who, ds, bitmap, rc.ds)
			}
		}
		for j, part := range []string{"header and NS", "additional"} {
			if !slices.Equal(got[0][j], got[1][j]) {
				t.Errorf("referral %s, %s: dnslb %q, knot %q", rc.name, part, got[0][j], got[1][j])
			}
		}
	}

	// The negative control: another key's DS as the anchor.
	other, err := dnssec.Generate("example.org.", dns.ECDSAP256SHA256, true)
	if err != nil {
		t.Fatal(err)
	}
	wrong := anchorOf(t, []*dns.DNSKEY{other.DNSKEY})
	for _, s := range []struct{ who, addr string }{{"dnslb", dnslbAddr}, {"knot", knotAddr}} {
		res := startUnbound(t, unbound, s.addr, wrong, false)
		for _, q := range []query{{"www.example.org.", dns.TypeA}, {"nx.example.org.", dns.TypeA}} {
			if r := krefAsk(t, res, q.name, q.qt); r.Rcode != dns.RcodeServerFailure || r.AuthenticatedData {
				t.Errorf("%s %s via %s with a wrong anchor: %s AD=%v, want SERVFAIL", q.name, dns.TypeToString[q.qt], s.who, dns.RcodeToString[r.Rcode], r.AuthenticatedData)
			}
		}
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}
