package zones

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// loadTestZone loads the zone the lookup tests and benchmarks query.
func loadTestZone(tb testing.TB) *Zone {
	tb.Helper()
	z, err := Load("example.org.", "testdata/lookup/example.org.zone")
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return z
}

// answerRRs is every record of r's answer, as it would be served.
func answerRRs(r *Result) []dns.RR {
	var out []dns.RR
	for _, it := range r.Answer {
		out = append(out, itemRRs(it)...)
	}
	return out
}

// itemRRs returns the records of an answer item as they go on the wire:
// under the query name for a wildcard, or the synthesised CNAME.
func itemRRs(it Item) []dns.RR {
	if it.Synth != nil {
		return []dns.RR{it.Synth}
	}
	if it.Owner == "" {
		return it.Set.RRs()
	}
	out := make([]dns.RR, len(it.Set.RRs()))
	for i, rr := range it.Set.RRs() {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = it.Owner
	}
	return out
}

// itemsRRs is every record of items, as served.
func itemsRRs(items []Item) []dns.RR {
	var out []dns.RR
	for _, it := range items {
		out = append(out, itemRRs(it)...)
	}
	return out
}

func setRRs(sets []*RRset) []dns.RR {
	var out []dns.RR
	for _, s := range sets {
		out = append(out, s.RRs()...)
	}
	return out
}

func TestLookup(t *testing.T) {
	z := loadTestZone(t)
	const soaNeg = "example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 900 1209600 300"
	tests := []struct {
		name       string
		qname      string
		qtype      uint16
		kind       Kind
		answer     string
		authority  string
		additional string
	}{
		{name: "exact", qname: "www.example.org.", qtype: dns.TypeA, kind: Success,
			answer: "www.example.org. 3600 IN A 192.0.2.10\nwww.example.org. 3600 IN A 192.0.2.11"},
		{name: "apex SOA", qname: "example.org.", qtype: dns.TypeSOA, kind: Success,
			answer: "example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 900 1209600 300"},
		{name: "nodata", qname: "www.example.org.", qtype: dns.TypeAAAA, kind: NoData, authority: soaNeg},
		{name: "nxdomain", qname: "x.exists.example.org.", qtype: dns.TypeA, kind: NXDomain, authority: soaNeg},
		{name: "empty non-terminal", qname: "b.c.example.org.", qtype: dns.TypeA, kind: NoData, authority: soaNeg},
		{name: "empty non-terminal below apex", qname: "c.example.org.", qtype: dns.TypeTXT, kind: NoData, authority: soaNeg},
		{name: "wildcard", qname: "nothere.example.org.", qtype: dns.TypeA, kind: Success,
			answer: "nothere.example.org. 3600 IN A 192.0.2.99"},
		{name: "wildcard several labels", qname: "x.y.example.org.", qtype: dns.TypeTXT, kind: Success,
			answer: `x.y.example.org. 3600 IN TXT "wild"`},
		{name: "wildcard nodata", qname: "nothere.example.org.", qtype: dns.TypeMX, kind: NoData, authority: soaNeg},
		{name: "wildcard blocked by existing name", qname: "exists.example.org.", qtype: dns.TypeA, kind: NoData, authority: soaNeg},
		{name: "wildcard blocked by empty non-terminal", qname: "c.example.org.", qtype: dns.TypeA, kind: NoData, authority: soaNeg},
		{name: "no wildcard below an existing name", qname: "x.www.example.org.", qtype: dns.TypeA, kind: NXDomain, authority: soaNeg},
		{name: "no wildcard below an empty non-terminal", qname: "x.c.example.org.", qtype: dns.TypeA, kind: NXDomain, authority: soaNeg},
		{name: "wildcard asked for itself", qname: "*.example.org.", qtype: dns.TypeA, kind: Success,
			answer: "*.example.org. 3600 IN A 192.0.2.99"},
		{name: "wildcard CNAME then chain", qname: "x.w.example.org.", qtype: dns.TypeA, kind: Success,
			answer: "x.w.example.org. 3600 IN CNAME www.example.org.\nwww.example.org. 3600 IN A 192.0.2.10\nwww.example.org. 3600 IN A 192.0.2.11"},
		{name: "CNAME chain", qname: "chain1.example.org.", qtype: dns.TypeTXT, kind: Success,
			answer: "chain1.example.org. 3600 IN CNAME chain2.example.org.\nchain2.example.org. 3600 IN CNAME www.example.org.\n" +
				`www.example.org. 3600 IN TXT "web"`},
		{name: "CNAME asked for", qname: "chain1.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: "chain1.example.org. 3600 IN CNAME chain2.example.org."},
		{name: "CNAME chain to nodata", qname: "chain1.example.org.", qtype: dns.TypeMX, kind: NoData,
			answer:    "chain1.example.org. 3600 IN CNAME chain2.example.org.\nchain2.example.org. 3600 IN CNAME www.example.org.",
			authority: soaNeg},
		{name: "CNAME out of zone", qname: "out.example.org.", qtype: dns.TypeA, kind: Success,
			answer: "out.example.org. 3600 IN CNAME www.example.net."},
		{name: "CNAME to missing name", qname: "dangling.example.org.", qtype: dns.TypeA, kind: NXDomain,
			answer: "dangling.example.org. 3600 IN CNAME nowhere.c.example.org.", authority: soaNeg},
		{name: "CNAME loop", qname: "loop1.example.org.", qtype: dns.TypeA, kind: Success,
			answer: "loop1.example.org. 3600 IN CNAME loop2.example.org.\nloop2.example.org. 3600 IN CNAME loop1.example.org."},
		{name: "DNAME in zone", qname: "www.old.example.org.", qtype: dns.TypeA, kind: Success,
			answer: "old.example.org. 3600 IN DNAME new.example.org.\nwww.old.example.org. 3600 IN CNAME www.new.example.org.\n" +
				"www.new.example.org. 3600 IN A 192.0.2.40"},
		{name: "DNAME out of zone", qname: "a.b.away.example.org.", qtype: dns.TypeA, kind: Success,
			answer: "away.example.org. 3600 IN DNAME example.net.\na.b.away.example.org. 3600 IN CNAME a.b.example.net."},
		{name: "DNAME owner itself", qname: "old.example.org.", qtype: dns.TypeDNAME, kind: Success,
			answer: "old.example.org. 3600 IN DNAME new.example.org."},
		{name: "DNAME owner other type", qname: "old.example.org.", qtype: dns.TypeA, kind: NoData, authority: soaNeg},
		{name: "referral at cut", qname: "sub.example.org.", qtype: dns.TypeA, kind: Referral,
			authority:  "sub.example.org. 3600 IN NS ns.sub.example.org.\nsub.example.org. 3600 IN NS ns.example.net.",
			additional: "ns.sub.example.org. 3600 IN A 192.0.2.53\nns.sub.example.org. 3600 IN AAAA 2001:db8::53"},
		{name: "referral below cut", qname: "a.b.sub.example.org.", qtype: dns.TypeMX, kind: Referral,
			authority:  "sub.example.org. 3600 IN NS ns.sub.example.org.\nsub.example.org. 3600 IN NS ns.example.net.",
			additional: "ns.sub.example.org. 3600 IN A 192.0.2.53\nns.sub.example.org. 3600 IN AAAA 2001:db8::53"},
		{name: "glue name is a referral", qname: "ns.sub.example.org.", qtype: dns.TypeA, kind: Referral,
			authority:  "sub.example.org. 3600 IN NS ns.sub.example.org.\nsub.example.org. 3600 IN NS ns.example.net.",
			additional: "ns.sub.example.org. 3600 IN A 192.0.2.53\nns.sub.example.org. 3600 IN AAAA 2001:db8::53"},
		{name: "NS at cut is a referral", qname: "sub.example.org.", qtype: dns.TypeNS, kind: Referral,
			authority:  "sub.example.org. 3600 IN NS ns.sub.example.org.\nsub.example.org. 3600 IN NS ns.example.net.",
			additional: "ns.sub.example.org. 3600 IN A 192.0.2.53\nns.sub.example.org. 3600 IN AAAA 2001:db8::53"},
		{name: "DS at cut from the parent", qname: "sub.example.org.", qtype: dns.TypeDS, kind: Success,
			answer: "sub.example.org. 3600 IN DS 12345 13 2 3f7aeb2c6d8a7ee0b2a7b5c8e1e4d6f5a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4"},
		{name: "no DS at cut", qname: "nods.example.org.", qtype: dns.TypeDS, kind: NoData, authority: soaNeg},
		{name: "DS below cut is a referral", qname: "x.sub.example.org.", qtype: dns.TypeDS, kind: Referral,
			authority:  "sub.example.org. 3600 IN NS ns.sub.example.org.\nsub.example.org. 3600 IN NS ns.example.net.",
			additional: "ns.sub.example.org. 3600 IN A 192.0.2.53\nns.sub.example.org. 3600 IN AAAA 2001:db8::53"},
		{name: "ANY gives one RRset", qname: "www.example.org.", qtype: dns.TypeANY, kind: Success,
			answer: "www.example.org. 3600 IN A 192.0.2.10\nwww.example.org. 3600 IN A 192.0.2.11"},
		{name: "ANY at a CNAME", qname: "chain1.example.org.", qtype: dns.TypeANY, kind: Success,
			answer: "chain1.example.org. 3600 IN CNAME chain2.example.org."},
		{name: "ANY at a wildcard", qname: "q.example.org.", qtype: dns.TypeANY, kind: Success,
			answer: "q.example.org. 3600 IN A 192.0.2.99"},
		{name: "ANY at an empty non-terminal", qname: "c.example.org.", qtype: dns.TypeANY, kind: NoData, authority: soaNeg},
		{name: "MX additional", qname: "example.org.", qtype: dns.TypeMX, kind: Success,
			answer:     "example.org. 3600 IN MX 10 mail.example.org.",
			additional: "mail.example.org. 3600 IN A 192.0.2.25\nmail.example.org. 3600 IN AAAA 2001:db8::25"},
		{name: "NS additional", qname: "example.org.", qtype: dns.TypeNS, kind: Success,
			answer:     "example.org. 3600 IN NS ns1.example.org.\nexample.org. 3600 IN NS ns2.example.org.",
			additional: "ns1.example.org. 3600 IN A 192.0.2.1\nns2.example.org. 3600 IN AAAA 2001:db8::2"},
		{name: "SRV additional", qname: "_sip._tcp.example.org.", qtype: dns.TypeSRV, kind: Success,
			answer:     "_sip._tcp.example.org. 3600 IN SRV 10 60 5060 sip.example.org.",
			additional: "sip.example.org. 3600 IN A 192.0.2.60"},
		{name: "escaped dot", qname: `a\.b.example.org.`, qtype: dns.TypeA, kind: Success,
			answer: `a\.b.example.org. 3600 IN A 192.0.2.70`},
		{name: "escaped dot is one label", qname: "b.example.org.", qtype: dns.TypeA, kind: Success,
			answer: "b.example.org. 3600 IN A 192.0.2.99"},
		{name: "below escaped dot", qname: `x.a\.b.example.org.`, qtype: dns.TypeA, kind: NXDomain, authority: soaNeg},
	}
	var r Result
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z.Lookup(tc.qname, tc.qtype, &r)
			answer := answerRRs(&r)
			q := tc.qname + " " + dns.TypeToString[tc.qtype]
			if r.Kind != tc.kind {
				t.Errorf("Lookup(%s) kind = %v, want %v", q, r.Kind, tc.kind)
			}
			diffLines(t, "Lookup("+q+") answer", rrStrings(answer), wantStrings(t, tc.answer))
			diffLines(t, "Lookup("+q+") authority", rrStrings(setRRs(r.Authority)), wantStrings(t, tc.authority))
			diffLines(t, "Lookup("+q+") additional", rrStrings(itemsRRs(r.Additional)), wantStrings(t, tc.additional))
		})
	}
}

// TestLookupNegativeTTL checks RFC 2308 section 3: the SOA in a negative
// answer has the smaller of its TTL and its MINIMUM field.
func TestLookupNegativeTTL(t *testing.T) {
	tests := []struct {
		name      string
		soa       string
		wantTTL   uint32
		wantOwner string
	}{
		{"minimum smaller", "@ 3600 IN SOA ns1 h 1 2 3 4 300", 300, "example.org."},
		{"ttl smaller", "@ 60 IN SOA ns1 h 1 2 3 4 300", 60, "example.org."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := "$ORIGIN example.org.\n" + tc.soa + "\n@ 60 IN NS ns1\nns1 60 IN A 192.0.2.1\n"
			z, err := Parse("example.org.", "neg.zone", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			var r Result
			z.Lookup("nx.example.org.", dns.TypeA, &r)
			if r.Kind != NXDomain || len(r.Authority) != 1 {
				t.Fatalf("Lookup(nx) = %v with %d authority sets, want nxdomain with 1", r.Kind, len(r.Authority))
			}
			if got := r.Authority[0].RRs()[0].Header().Ttl; got != tc.wantTTL {
				t.Errorf("negative SOA ttl = %d, want %d", got, tc.wantTTL)
			}
			if z.SOA.Hdr.Ttl == tc.wantTTL && tc.wantTTL != 60 {
				t.Errorf("zone SOA ttl changed to %d", z.SOA.Hdr.Ttl)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Success: "success", NoData: "nodata", NXDomain: "nxdomain", Referral: "referral", 9: "kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestIsSubdomain(t *testing.T) {
	tests := []struct {
		child, parent string
		want          bool
	}{
		{"example.org.", "example.org.", true},
		{"www.example.org.", "example.org.", true},
		{"wwwexample.org.", "example.org.", false},
		{`www\.example.org.`, "example.org.", false},
		{`www\\.example.org.`, "example.org.", true},
		{"org.", "example.org.", false},
		{"example.org.", ".", true},
	}
	for _, tc := range tests {
		if got := IsSubdomain(tc.child, tc.parent); got != tc.want {
			t.Errorf("IsSubdomain(%q, %q) = %v, want %v", tc.child, tc.parent, got, tc.want)
		}
	}
}

// TestLookupLoops checks that CNAME and DNAME loops end without repeating
// a record.
func TestLookupLoops(t *testing.T) {
	text := `$ORIGIN example.org.
$TTL 60
@ SOA ns1 h 1 2 3 4 5
@ NS ns1
ns1 A 192.0.2.1
self CNAME self
d DNAME x.d.example.org.
*.w CNAME a.w
e DNAME e.example.org.
`
	z, err := Parse("example.org.", "loops.zone", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		qname  string
		answer string
	}{
		{"self.example.org.", "self.example.org. 60 IN CNAME self.example.org."},
		{"a.w.example.org.", "a.w.example.org. 60 IN CNAME a.w.example.org."},
		{"b.w.example.org.", "b.w.example.org. 60 IN CNAME a.w.example.org.\na.w.example.org. 60 IN CNAME a.w.example.org."},
		{"a.e.example.org.", "e.example.org. 60 IN DNAME e.example.org.\na.e.example.org. 60 IN CNAME a.e.example.org."},
	}
	var r Result
	for _, tc := range tests {
		z.Lookup(tc.qname, dns.TypeA, &r)
		answer := answerRRs(&r)
		diffLines(t, "Lookup("+tc.qname+") answer", rrStrings(answer), wantStrings(t, tc.answer))
	}
	// A DNAME whose target is below itself grows the name at every step:
	// the chain limit ends it.
	z.Lookup("a.d.example.org.", dns.TypeA, &r)
	if len(r.Answer) > 2*maxChain {
		t.Errorf("Lookup(a.d) answer has %d items, want at most %d", len(r.Answer), 2*maxChain)
	}
}

// TestLookupDNAMEChains: a chain through one DNAME twice carries the DNAME
// once; a question for the CNAME type below a DNAME ends with the CNAME
// it implies, whatever the target holds (as NSD and Knot answer; both
// found by a randomised comparison with them).
func TestLookupDNAMEChains(t *testing.T) {
	text := `$ORIGIN t.
$TTL 300
@ SOA ns1 h 1 2 3 4 5
@ NS ns1
ns1 A 192.0.2.1
b DNAME t.
d DNAME x.t.
y.x A 192.0.2.7
c.x CNAME y.x
`
	z, err := Parse("t.", "chains.zone", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		qname  string
		qtype  uint16
		kind   Kind
		answer string
	}{
		{"a.b.b.t.", dns.TypeA, NXDomain, "b.t. 300 IN DNAME t.\na.b.b.t. 300 IN CNAME a.b.t.\na.b.t. 300 IN CNAME a.t."},
		{"y.d.t.", dns.TypeCNAME, Success, "d.t. 300 IN DNAME x.t.\ny.d.t. 300 IN CNAME y.x.t."},
		{"z.d.t.", dns.TypeCNAME, Success, "d.t. 300 IN DNAME x.t.\nz.d.t. 300 IN CNAME z.x.t."},
		{"c.d.t.", dns.TypeCNAME, Success, "d.t. 300 IN DNAME x.t.\nc.d.t. 300 IN CNAME c.x.t."},
		{"c.d.t.", dns.TypeA, Success, "d.t. 300 IN DNAME x.t.\nc.d.t. 300 IN CNAME c.x.t.\nc.x.t. 300 IN CNAME y.x.t.\ny.x.t. 300 IN A 192.0.2.7"},
	}
	var r Result
	for _, tc := range tests {
		z.Lookup(tc.qname, tc.qtype, &r)
		answer := answerRRs(&r)
		if r.Kind != tc.kind {
			t.Errorf("Lookup(%s %s) = %v, want %v", tc.qname, dns.TypeToString[tc.qtype], r.Kind, tc.kind)
		}
		diffLines(t, "Lookup("+tc.qname+") answer", rrStrings(answer), wantStrings(t, tc.answer))
	}
}

// TestLookupMetaAtCNAME: RRSIG and NSEC asked at a CNAME are NODATA, not
// followed (as Knot answers); other types follow it.
func TestLookupMetaAtCNAME(t *testing.T) {
	text := "$ORIGIN t.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nx CNAME ns1\n"
	z, err := Parse("t.", "meta.zone", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	for _, qt := range []uint16{dns.TypeRRSIG, dns.TypeNSEC} {
		if z.Lookup("x.t.", qt, &r); r.Kind != NoData || len(r.Answer) != 0 {
			t.Errorf("x.t. %s: %v with %d answers, want nodata", dns.TypeToString[qt], r.Kind, len(r.Answer))
		}
	}
	if z.Lookup("x.t.", dns.TypeTXT, &r); r.Kind != NoData || len(r.Answer) != 1 {
		t.Errorf("x.t. TXT: %v with %d answers, want the CNAME and nodata at its target", r.Kind, len(r.Answer))
	}
}

// TestLookupReferralGlue: a referral's additional section has the glue
// (addresses of name servers below a delegation) first, then those of
// name servers that are data of the zone, so that truncation, which keeps
// RRsets in order while they fit, keeps the glue (as NSD and Knot do).
func TestLookupReferralGlue(t *testing.T) {
	text := "$ORIGIN t.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n" +
		"sub NS host\nsub NS ns.sub\nhost A 192.0.2.3\nns.sub A 192.0.2.2\nns.sub AAAA 2001:db8::2\n"
	z, err := Parse("t.", "glue.zone", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	z.Lookup("a.sub.t.", dns.TypeA, &r)
	if r.Kind != Referral {
		t.Fatalf("a.sub.t.: %v, want a referral", r.Kind)
	}
	var got []string
	for _, it := range r.Additional {
		got = append(got, it.Name()+" "+dns.TypeToString[it.Set.Type])
	}
	if want := "ns.sub.t. A,ns.sub.t. AAAA,host.t. A"; strings.Join(got, ",") != want {
		t.Errorf("referral additional %v, want %s", got, want)
	}
}

// TestLoadRootZone: a zone at the root loads (and its checks that walk
// up the names end at ".": one of them once looped there for ever).
func TestLoadRootZone(t *testing.T) {
	text := ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400\n" +
		". NS a.root-servers.net.\na.root-servers.net. A 198.41.0.4\ncom. NS a.gtld-servers.net.\na.gtld-servers.net. A 192.5.6.30\n" +
		"x.com. TXT \"below a cut\"\n" +
		"dn. DNAME example.net.\nmx. MX 10 host.w.\n*.w. A 192.0.2.1\n"
	done := make(chan error, 1)
	go func() {
		_, err := Parse(".", "root.zone", []byte(text))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Parse of a root zone did not return in 5 s")
	}
}

// TestRRsetTTL: an RRset whose records have different TTLs takes the
// last one in file order, a duplicate record's included (as Knot serves
// it; the duplicate itself is dropped).
func TestRRsetTTL(t *testing.T) {
	text := "$ORIGIN t.\n$TTL 86400\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n" +
		"m TXT \"a\"\nm 300 TXT \"b\"\nm TXT \"b\"\nw 60 A 192.0.2.2\nw 600 A 192.0.2.3\n"
	z, err := Parse("t.", "ttl.zone", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	z.Lookup("m.t.", dns.TypeTXT, &r)
	diffLines(t, "m TXT", rrStrings(answerRRs(&r)), wantStrings(t, "m.t. 86400 IN TXT \"a\"\nm.t. 86400 IN TXT \"b\""))
	z.Lookup("w.t.", dns.TypeA, &r)
	diffLines(t, "w A", rrStrings(answerRRs(&r)), wantStrings(t, "w.t. 600 IN A 192.0.2.2\nw.t. 600 IN A 192.0.2.3"))
}

// TestLookupWildcardAdditional: an MX or SRV target that only a wildcard
// answers gets the wildcard's addresses under its own name in additional,
// as NSD and Knot give them; not when the closest encloser has no
// wildcard, nor below a delegation.
func TestLookupWildcardAdditional(t *testing.T) {
	text := `$ORIGIN t.
$TTL 300
@ SOA ns1 h 1 2 3 4 5
@ NS ns1
ns1 A 192.0.2.1
mx MX 10 host.w.t.
srv SRV 1 1 1 host.w.t.
*.w A 192.0.2.100
*.w A 192.0.2.101
*.w AAAA 2001:db8::100
mx2 MX 10 a.sub.w.t.
sub.w TXT "exists: it is the closest encloser of a.sub.w"
mx3 MX 10 x.deleg.t.
deleg NS ns.example.
*.deleg A 192.0.2.9
`
	z, err := Parse("t.", "wild.zone", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	extra := func(qname string, qtype uint16) []string {
		z.Lookup(qname, qtype, &r)
		return rrStrings(itemsRRs(r.Additional))
	}
	want := wantStrings(t, "host.w.t. 300 IN A 192.0.2.100\nhost.w.t. 300 IN A 192.0.2.101\nhost.w.t. 300 IN AAAA 2001:db8::100")
	diffLines(t, "mx additional", extra("mx.t.", dns.TypeMX), want)
	diffLines(t, "srv additional", extra("srv.t.", dns.TypeSRV), want)
	diffLines(t, "mx2 additional", extra("mx2.t.", dns.TypeMX), nil)
	diffLines(t, "mx3 additional", extra("mx3.t.", dns.TypeMX), nil)
	z.Lookup("mx.t.", dns.TypeMX, &r)
	if r.Additional[0].Set.Rot == 0 {
		t.Error("the wildcard's addresses for host.w.t. have no round-robin number")
	}
}

// TestLookupEscapes: names written with escapes in the file are found
// by the names queries carry (read off the wire: "\065BC" is "abc"), as
// owners, CNAME targets and empty non-terminals.
func TestLookupEscapes(t *testing.T) {
	text := `$ORIGIN t.
$TTL 300
@ SOA ns1 h 1 2 3 4 5
@ NS ns1
ns1 A 192.0.2.1
\065BC A 192.0.2.1
cn CNAME \100ef.t.
def A 192.0.2.3
sp\032ace A 192.0.2.4
dollar\$ A 192.0.2.5
x.ent\$ A 192.0.2.6
a\.dot A 192.0.2.7
`
	z, err := Parse("t.", "escapes.zone", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		qname string
		kind  Kind
		n     int // answer items
	}{
		{"abc.t.", Success, 1},
		{"cn.t.", Success, 2},
		{`sp\ ace.t.`, Success, 1},
		{"dollar$.t.", Success, 1},
		{"ent$.t.", NoData, 0},
		{`a\.dot.t.`, Success, 1},
		{"a.dot.t.", NXDomain, 0},
	}
	var r Result
	for _, tc := range tests {
		z.Lookup(tc.qname, dns.TypeA, &r)
		if r.Kind != tc.kind || len(r.Answer) != tc.n {
			t.Errorf("Lookup(%s) = %v with %d answers, want %v with %d", tc.qname, r.Kind, len(r.Answer), tc.kind, tc.n)
		}
	}
}

// TestLookupCase checks that owner names are stored in lower case, so that
// Lookup, which takes lower-case names, finds names written in any case,
// and that CNAME and NS targets in capitals are followed, and served in
// lower case, as NSD and Knot serve them (nsd-checkzone -p prints them so).
func TestLookupCase(t *testing.T) {
	text := `$ORIGIN Example.ORG.
$TTL 60
@ SOA NS1 h 1 2 3 4 5
@ NS NS1.Example.Org.
NS1 A 192.0.2.1
WWW A 192.0.2.10
Alias CNAME WWW
*.Wild TXT "w"
`
	z, err := Parse("EXAMPLE.org", "case.zone", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if z.Origin != "example.org." {
		t.Errorf("Origin = %q, want example.org.", z.Origin)
	}
	tests := []struct {
		qname      string
		qtype      uint16
		answer     string
		additional string
	}{
		{"www.example.org.", dns.TypeA, "www.example.org. 60 IN A 192.0.2.10", ""},
		{"alias.example.org.", dns.TypeA, "alias.example.org. 60 IN CNAME www.example.org.\nwww.example.org. 60 IN A 192.0.2.10", ""},
		{"x.wild.example.org.", dns.TypeTXT, `x.wild.example.org. 60 IN TXT "w"`, ""},
		{"example.org.", dns.TypeNS, "example.org. 60 IN NS ns1.example.org.", "ns1.example.org. 60 IN A 192.0.2.1"},
	}
	var r Result
	for _, tc := range tests {
		z.Lookup(tc.qname, tc.qtype, &r)
		answer := answerRRs(&r)
		diffLines(t, "Lookup("+tc.qname+") answer", rrStrings(answer), wantStrings(t, tc.answer))
		diffLines(t, "Lookup("+tc.qname+") additional", rrStrings(itemsRRs(r.Additional)), wantStrings(t, tc.additional))
	}
}

// TestLookupDNAMETooLong: a DNAME substitution longer than 255 octets is
// YXDOMAIN (RFC 6672 section 2.2), with the DNAME in the answer.
func TestLookupDNAMETooLong(t *testing.T) {
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 50) + ".example.net."
	text := "$TTL 300\n@ IN SOA ns hm 1 2 3 4 5\n@ IN NS ns\nns IN A 192.0.2.1\nd IN DNAME " + long + "\n"
	z, err := Parse("example.org.", "yx.zone", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	z.Lookup(strings.Repeat("x", 50)+".d.example.org.", dns.TypeA, &r)
	if r.Kind != YXDomain || len(r.Answer) != 1 || r.Answer[0].Set.Type != dns.TypeDNAME || len(r.Authority) != 0 {
		t.Errorf("Lookup = %v, answer %d, authority %d; want yxdomain with the DNAME only", r.Kind, len(r.Answer), len(r.Authority))
	}
	z.Lookup("short.d.example.org.", dns.TypeA, &r)
	if r.Kind != Success || len(r.Answer) != 2 {
		t.Errorf("short name: %v with %d answers, want the DNAME and a CNAME", r.Kind, len(r.Answer))
	}
}
