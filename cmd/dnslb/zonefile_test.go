package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// zoneFileCorners is a zone of records that the zone parser alone read
// wrongly or refused, each in a form NSD and Knot DNS both load and serve
// alike (except the mixed TTLs: see TestZoneFileCorners).
const zoneFileCorners = `$ORIGIN example.org.
$TTL 3600
@	SOA ns1 hostmaster 1 7200 900 1209600 300
	NS ns1
ns1	A 192.0.2.1
; SVCB parameters in the generic keyNNNNN form (RFC 9460 section 2.1):
; key2 is no-default-alpn, key7 dohpath, the others have no name.
svc	SVCB 1 ns1 key2 alpn=h2 key7=/q{?dns}
svc2	HTTPS 1 . key65001=b alpn=h2 key65000=zz key9="a b" key123="a\\b\"c d"
; An IPSECKEY that is not the last record.
gw	IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==
after	A 192.0.2.2
; Records of one RRset with different TTLs.
mixed	600 A 192.0.2.10
	300 A 192.0.2.11
	900 A 192.0.2.12
`

// TestZoneFileCorners serves zoneFileCorners with NSD, Knot and dnslb and
// compares the answers' records: SVCB/HTTPS with generic keys and the
// IPSECKEY and the record after it equal NSD's and Knot's; the RRset of
// mixed TTLs equals Knot's (one TTL, the last record's), where NSD serves
// each record with its own.
func TestZoneFileCorners(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three DNS servers; skipped with -short")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "example.org.zone"), []byte(zoneFileCorners), 0o644); err != nil {
		t.Fatal(err)
	}
	zones := []zoneInfo{{name: "example.org.", file: "example.org.zone"}}
	nsd, knot := startNSD(t, dir, zones), startKnot(t, dir, zones)
	lb := startDNSLB(t, dir, zones)
	if lb == "" {
		t.Fatal("cmd/dnslb has no main package")
	}
	answer := func(addr, name string, qtype uint16) []string {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.RecursionDesired = false
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("%s %s to %s: %v", name, dns.TypeToString[qtype], addr, err)
		}
		var out []string
		for _, rr := range r.Answer {
			out = append(out, rr.String())
		}
		slices.Sort(out)
		return out
	}
	for _, q := range []struct {
		name  string
		qtype uint16
		refs  []string // the servers dnslb must equal
	}{
		{"svc.example.org.", dns.TypeSVCB, []string{nsd, knot}},
		{"svc2.example.org.", dns.TypeHTTPS, []string{nsd, knot}},
		{"gw.example.org.", dns.TypeIPSECKEY, []string{nsd, knot}},
		{"after.example.org.", dns.TypeA, []string{nsd, knot}},
		{"mixed.example.org.", dns.TypeA, []string{knot}},
	} {
		got := answer(lb, q.name, q.qtype)
		if len(got) == 0 {
			t.Errorf("%s %s: dnslb answered no records", q.name, dns.TypeToString[q.qtype])
		}
		for _, ref := range q.refs {
			if want := answer(ref, q.name, q.qtype); !slices.Equal(got, want) {
				t.Errorf("%s %s: dnslb answered\n%q\n%s answered\n%q", q.name, dns.TypeToString[q.qtype], got, ref, want)
			}
		}
	}
	if got := answer(nsd, "mixed.example.org.", dns.TypeA); slices.Equal(got, answer(lb, "mixed.example.org.", dns.TypeA)) {
		t.Errorf("NSD now serves the mixed-TTL RRset as Knot does (%q): the README may say both", got)
	}
}
