package dnslb

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/dnssec"
)

// transferWarning is the start of the line warnSignedTransfers logs.
const transferWarning = "dnssec: zone transfers give this signed zone unsigned"

// warnings are the log lines with transferWarning, by the zone they name.
func warnings(logs string) map[string]int {
	n := map[string]int{}
	for _, l := range strings.Split(logs, "\n") {
		if !strings.Contains(l, transferWarning) {
			continue
		}
		zone := "?"
		if _, after, ok := strings.Cut(l, " zone="); ok {
			zone, _, _ = strings.Cut(after, " ")
		}
		n[zone]++
	}
	return n
}

// unsignedZone adds the unsigned zone other.test to the config at cfg
// (after extra, when that is not empty).
func unsignedZone(t *testing.T, cfg string) {
	t.Helper()
	dir := filepath.Dir(cfg)
	zone := "$ORIGIN other.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 192.0.2.7\n"
	if err := os.WriteFile(filepath.Join(dir, "other.test.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n[[zone]]\nname = \"other.test\"\nfile = \"other.test.zone\"\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSignedTransferWarning: with [transfer] allowing secondaries, each
// load warns once for the signed zone and not for the unsigned one beside
// it, and the AXFR of the signed zone is the zone file's data, unsigned
// (README, DNSSEC: no RRSIG, DNSKEY or NSEC in it), while a query with DO
// is signed. Without [transfer] a signed zone gets no warning, and an
// unsigned zone with [transfer] none either.
func TestSignedTransferWarning(t *testing.T) {
	const allow = "[transfer]\nallow = [\"127.0.0.0/8\"]\n"
	t.Run("signed+transfer", func(t *testing.T) {
		cfg, _, _ := signedSetup(t, dns.ECDSAP256SHA256, false, allow)
		unsignedZone(t, cfg)
		srv, addr, logs := startLoggedServer(t, cfg)
		if got := warnings(logs.String()); len(got) != 1 || got["example.org."] != 1 {
			t.Errorf("at startup: warnings by zone %v, want example.org. once", got)
		}
		if err := srv.Reload("test"); err != nil {
			t.Fatal(err)
		}
		if got := warnings(logs.String()); len(got) != 1 || got["example.org."] != 2 {
			t.Errorf("after a reload: warnings by zone %v, want example.org. twice (once a load)", got)
		}
		rrs, _, rcode := axfr(t, addr, "example.org.", dns.TypeAXFR, 0, false)
		if rcode != dns.RcodeSuccess || len(rrs) == 0 {
			t.Fatalf("AXFR: rcode %d, %d records", rcode, len(rrs))
		}
		var www int
		for _, rr := range rrs {
			switch rr.Header().Rrtype {
			case dns.TypeRRSIG, dns.TypeDNSKEY, dns.TypeNSEC, dns.TypeCDS, dns.TypeCDNSKEY:
				t.Errorf("AXFR of the signed zone holds %s", rr)
			case dns.TypeA:
				if rr.Header().Name == "www.example.org." {
					www++
				}
			}
		}
		if www != 3 {
			t.Errorf("AXFR has %d A records at www, want the zone file's 3", www)
		}
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.SetEdns0(1232, true)
		if r := exchange(t, addr, "udp", m); !slices.ContainsFunc(r.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeRRSIG }) {
			t.Errorf("query with DO: no RRSIG, so the AXFR check above proves nothing:\n%s", r)
		}
	})
	t.Run("signed-no-transfer", func(t *testing.T) {
		cfg, _, _ := signedSetup(t, dns.ECDSAP256SHA256, false, "")
		unsignedZone(t, cfg)
		srv, _, logs := startLoggedServer(t, cfg)
		if srv.sign.Signers()["example.org."] == nil {
			t.Fatal("example.org. is not signed: the test proves nothing")
		}
		if err := srv.Reload("test"); err != nil {
			t.Fatal(err)
		}
		if got := warnings(logs.String()); len(got) != 0 {
			t.Errorf("without [transfer]: warnings by zone %v, want none", got)
		}
	})
	t.Run("unsigned+transfer", func(t *testing.T) {
		cfgPath := writeLBConfig(t, allow)
		_, addr, logs := startLoggedServer(t, cfgPath)
		if _, _, rcode := axfr(t, addr, "example.org.", dns.TypeAXFR, 0, false); rcode != dns.RcodeSuccess {
			t.Fatalf("AXFR: rcode %d: [transfer] not in effect, the test proves nothing", rcode)
		}
		if got := warnings(logs.String()); len(got) != 0 {
			t.Errorf("unsigned zones with [transfer]: warnings by zone %v, want none", got)
		}
	})
}

// TestReloadKeepsSignatures: a reload that leaves the keys as they were
// signs nothing again: the same queries after it are answered from the
// signature cache (hits grow, signatures made do not), and the status
// keeps the counts. A reload with a new key signs again, with it.
func TestReloadKeepsSignatures(t *testing.T) {
	cfg, _, _ := signedSetup(t, dns.ED25519, false, "")
	srv, addr, _ := startLoggedServer(t, cfg)
	askAll := func() {
		t.Helper()
		for _, q := range []struct {
			name string
			qt   uint16
		}{{"www.example.org.", dns.TypeA}, {"lb.example.org.", dns.TypeA}, {"big.example.org.", dns.TypeTXT},
			{"example.org.", dns.TypeDNSKEY}, {"nx.example.org.", dns.TypeA}, {"www.example.org.", dns.TypeTXT}} {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qt)
			m.SetEdns0(1232, true)
			if r := exchange(t, addr, "tcp", m); !slices.ContainsFunc(append(r.Answer, r.Ns...), func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeRRSIG }) {
				t.Fatalf("%s %s: not signed:\n%s", q.name, dns.TypeToString[q.qt], r)
			}
		}
	}
	askAll()
	before := srv.dnssecStatus("example.org.")
	if before == nil || before.Made == 0 {
		t.Fatalf("status before the reload: %+v, want signatures made", before)
	}
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	askAll()
	after := srv.dnssecStatus("example.org.")
	if after.Made != before.Made || after.Hits <= before.Hits || after.Cached < before.Cached {
		t.Errorf("after a reload with the same keys: made %d hits %d cached %d; before: made %d hits %d cached %d (want the same made, more hits, the cache kept)",
			after.Made, after.Hits, after.Cached, before.Made, before.Hits, before.Cached)
	}
	k, err := dnssec.Generate("example.org.", dns.ED25519, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Write(filepath.Join(filepath.Dir(cfg), "keys")); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	m.SetEdns0(1232, true)
	r := exchange(t, addr, "tcp", m)
	if !slices.ContainsFunc(r.Answer, func(rr dns.RR) bool { s, ok := rr.(*dns.RRSIG); return ok && s.KeyTag == k.Tag() }) {
		t.Errorf("after a reload with a new ZSK: www not signed by it (%d):\n%s", k.Tag(), r)
	}
	if rolled := srv.dnssecStatus("example.org."); rolled.Made <= after.Made {
		t.Errorf("after a reload with a new key: made %d, was %d: nothing signed again", rolled.Made, after.Made)
	}
}
