package sign

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/dnssec"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

// testZone is the signed zone of the tests here and in package dnslb, a
// format for fmt with five strings for the big TXT RRset.
var testZone = readZoneFormat("../../testdata/dnssec/signed.zone.fmt")

// readZoneFormat is the text of the fixture at path; a missing fixture
// ends the test binary before any test runs.
func readZoneFormat(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

const testNames = `[[zone]]
name = "example.org"
file = "example.org.zone"
[name."lb.example.org"]
pick = "round-robin"
`

// signed is a store serving testZone (lb.example.org load-balanced), its
// sign stage with keys of algorithm alg (a KSK and a ZSK when split), and
// the keys.
type signed struct {
	store *state.Store
	stage *Stage
	keys  []*dnssec.Key
}

// newStore serves testZone in a store of its own (its own round-robin
// counters).
func newStore(tb testing.TB) *state.Store {
	tb.Helper()
	txt := strings.Repeat("x", 200)
	z, err := zones.Parse("example.org.", "example.org.zone", fmt.Appendf(nil, testZone, txt+"1", txt+"2", txt+"3", txt+"4", txt+"5"))
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Parse("dnslb.toml", []byte(testNames))
	if err != nil {
		tb.Fatal(err)
	}
	cfg = cfg.Defaults()
	names, errs := state.CompileNames(&cfg, []*zones.Zone{z}, nil)
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	st, err := state.NewStore()
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Replace([]*zones.Zone{z}, names, state.Serving{UDPSize: 1232}); err != nil {
		tb.Fatal(err)
	}
	return st
}

func newSigned(tb testing.TB, alg uint8, split bool) *signed {
	tb.Helper()
	st := newStore(tb)
	s := &signed{store: st, stage: New(nil)}
	roles := []bool{true}
	if split {
		roles = []bool{true, false}
	}
	for _, ksk := range roles {
		k, err := dnssec.Generate("example.org.", alg, ksk)
		if err != nil {
			tb.Fatal(err)
		}
		s.keys = append(s.keys, k)
	}
	sg, err := dnssec.NewSigner("example.org.", s.keys, 300)
	if err != nil {
		tb.Fatal(err)
	}
	s.stage.Apply(Signers{"example.org.": sg})
	return s
}

var testClient = netip.MustParseAddrPort("192.0.2.7:5353")

// ask is w's reply to a query for name and qt with EDNS buffer size
// (DO, CO as given), over TCP or UDP.
func ask(tb testing.TB, w *answer.Worker, name string, qt uint16, do, co, tcp bool, size uint16) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qt)
	m.SetEdns0(size, do)
	if co {
		m.IsEdns0().SetCo()
	}
	pkt, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	out := w.Answer(pkt, testClient, make([]byte, 65535), tcp, time.Now(), nil)
	r := new(dns.Msg)
	if out == nil || r.Unpack(out) != nil {
		tb.Fatalf("%s %s: no reply", name, dns.TypeToString[qt])
	}
	return r
}

func count(rrs []dns.RR, t uint16) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			n++
		}
	}
	return n
}

// TestReplies checks the signed replies' shapes: RRSIGs with DO only,
// the DNSKEY RRset without DO too, compact denial (NOERROR, one NSEC with
// NXNAME; NXDOMAIN with CO, and CO echoed), a referral's DS or proof of
// no DS, truncation that keeps each RRset with its signatures, and one
// signature for every order of a rotated RRset.
func TestReplies(t *testing.T) {
	sk := newSigned(t, dns.ECDSAP256SHA256, false)
	w := answer.NewWorker(sk.store, answer.Stages{Sign: sk.stage}, nil)
	udp := func(name string, qt uint16, do, co bool) *dns.Msg { return ask(t, w, name, qt, do, co, false, 1232) }
	// Replies without DO are memoized (from a key's second query on);
	// a DO=1 query after them is still signed.
	for _, q := range []struct {
		name string
		qt   uint16
	}{{"www.example.org.", dns.TypeA}, {"nx.example.org.", dns.TypeA}, {"example.org.", dns.TypeDNSKEY}, {"lb.example.org.", dns.TypeA}} {
		for range 3 {
			if r := udp(q.name, q.qt, false, false); count(r.Answer, dns.TypeRRSIG)+count(r.Ns, dns.TypeRRSIG) != 0 {
				t.Errorf("%s DO=0: %v %v", q.name, r.Answer, r.Ns)
			}
		}
		if r := udp(q.name, q.qt, true, false); count(r.Answer, dns.TypeRRSIG)+count(r.Ns, dns.TypeRRSIG) == 0 {
			t.Errorf("%s DO=1 after DO=0 queries: unsigned %v %v", q.name, r.Answer, r.Ns)
		}
	}
	if r := udp("example.org.", dns.TypeDNSKEY, false, false); count(r.Answer, dns.TypeDNSKEY) != 1 {
		t.Errorf("DNSKEY without DO: %v", r.Answer)
	}
	var sig *dns.RRSIG
	for i := range 6 {
		r := udp("www.example.org.", dns.TypeA, true, false)
		if count(r.Answer, dns.TypeRRSIG) != 1 {
			t.Fatalf("DO=1: %v", r.Answer)
		}
		s := r.Answer[3].(*dns.RRSIG)
		if err := s.Verify(sk.keys[0].DNSKEY, r.Answer[:3]); err != nil {
			t.Errorf("query %d: %v", i, err)
		}
		if sig != nil && s.Signature != sig.Signature {
			t.Errorf("query %d: a new signature for a rotated RRset", i)
		}
		sig = s
	}
	if st := sk.stage.Signers()["example.org."].Stats(); st.Hits < 2 {
		t.Errorf("signature cache: %+v", st)
	}
	r := udp("nx.example.org.", dns.TypeA, true, false)
	if r.Rcode != dns.RcodeSuccess || count(r.Ns, dns.TypeNSEC) != 1 || count(r.Ns, dns.TypeRRSIG) != 2 {
		t.Errorf("NXDOMAIN without CO: %s %v", dns.RcodeToString[r.Rcode], r.Ns)
	}
	for _, rr := range r.Ns {
		if n, ok := rr.(*dns.NSEC); ok && (n.NextDomain != `\000.nx.example.org.` || len(n.TypeBitMap) != 3 || n.TypeBitMap[2] != dns.TypeNXNAME) {
			t.Errorf("NSEC %s", n)
		}
	}
	r = udp("nx.example.org.", dns.TypeA, true, true)
	if r.Rcode != dns.RcodeNameError || !r.IsEdns0().Co() {
		t.Errorf("NXDOMAIN with CO: %s, CO echoed %v", dns.RcodeToString[r.Rcode], r.IsEdns0().Co())
	}
	if r := udp("nx.example.org.", dns.TypeA, false, false); r.Rcode != dns.RcodeNameError || count(r.Ns, dns.TypeNSEC) != 0 {
		t.Errorf("NXDOMAIN without DO: %s %v", dns.RcodeToString[r.Rcode], r.Ns)
	}
	if r := udp("x.sub.example.org.", dns.TypeA, true, false); count(r.Ns, dns.TypeNSEC) != 1 || count(r.Ns, dns.TypeRRSIG) != 1 {
		t.Errorf("referral without DS: %v", r.Ns)
	}
	if r := udp("x.secure.example.org.", dns.TypeA, true, false); count(r.Ns, dns.TypeDS) != 1 || count(r.Ns, dns.TypeRRSIG) != 1 {
		t.Errorf("referral with DS: %v", r.Ns)
	}
	// 5 TXT of 200 bytes and their RRSIG do not fit 512: the answer is
	// cut, and what is left holds no RRset without its signature.
	r = ask(t, w, "big.example.org.", dns.TypeTXT, true, false, false, 512)
	if !r.Truncated || count(r.Answer, dns.TypeTXT) != 0 && count(r.Answer, dns.TypeRRSIG) == 0 {
		t.Errorf("truncated: TC %v, %d TXT %d RRSIG", r.Truncated, count(r.Answer, dns.TypeTXT), count(r.Answer, dns.TypeRRSIG))
	}
	r = ask(t, w, "big.example.org.", dns.TypeTXT, true, false, true, 1232)
	if count(r.Answer, dns.TypeTXT) != 5 || count(r.Answer, dns.TypeRRSIG) != 1 {
		t.Errorf("TCP: %d TXT %d RRSIG", count(r.Answer, dns.TypeTXT), count(r.Answer, dns.TypeRRSIG))
	}
}

// TestCDS: the apex answers CDS and CDNSKEY (RFC 7344) for the KSK alone
// (the key the parent's DS names), with and without DO, signed by the
// KSK with DO; NODATA at the apex lists them in its NSEC.
func TestCDS(t *testing.T) {
	s := newSigned(t, dns.ED25519, true)
	ksk := s.keys[0]
	w := answer.NewWorker(s.store, answer.Stages{Sign: s.stage}, nil)
	for _, do := range []bool{false, true} {
		r := ask(t, w, "example.org.", dns.TypeCDS, do, false, false, 1232)
		want := ksk.DS().ToCDS()
		want.Hdr.Ttl = 300
		if len(r.Answer) < 1 || r.Answer[0].String() != want.String() || count(r.Answer, dns.TypeCDS) != 1 {
			t.Errorf("CDS DO=%v: %v, want %v", do, r.Answer, want)
		}
		c := ask(t, w, "example.org.", dns.TypeCDNSKEY, do, false, false, 1232)
		if count(c.Answer, dns.TypeCDNSKEY) != 1 || c.Answer[0].(*dns.CDNSKEY).PublicKey != ksk.DNSKEY.PublicKey {
			t.Errorf("CDNSKEY DO=%v: %v", do, c.Answer)
		}
		if !do {
			if count(r.Answer, dns.TypeRRSIG)+count(c.Answer, dns.TypeRRSIG) != 0 {
				t.Errorf("signed without DO: %v %v", r.Answer, c.Answer)
			}
			continue
		}
		for _, rep := range []*dns.Msg{r, c} {
			sig, ok := rep.Answer[len(rep.Answer)-1].(*dns.RRSIG)
			if !ok || len(rep.Answer) != 2 || sig.KeyTag != ksk.Tag() {
				t.Fatalf("%v: want one RRSIG by the KSK %d", rep.Answer, ksk.Tag())
			}
			if err := sig.Verify(ksk.DNSKEY, rep.Answer[:1]); err != nil {
				t.Errorf("%v: %v", rep.Answer[0], err)
			}
		}
	}
	r := ask(t, w, "example.org.", dns.TypeTXT, true, false, false, 1232)
	var bitmap []uint16
	for _, rr := range r.Ns {
		if n, ok := rr.(*dns.NSEC); ok {
			bitmap = n.TypeBitMap
		}
	}
	for _, want := range []uint16{dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY, dns.TypeSOA} {
		if !slices.Contains(bitmap, want) {
			t.Errorf("NODATA at the apex: NSEC bitmap %v lacks %s", bitmap, dns.TypeToString[want])
		}
	}
}

// TestMemo: in a signed zone the memo serves replies with and without
// DO (each order of a rotated RRset once it holds it), a signed one at no
// allocation; a query with CO has its own entries.
func TestMemo(t *testing.T) {
	s := newSigned(t, dns.ECDSAP256SHA256, false)
	w := answer.NewWorker(s.store, answer.Stages{Sign: s.stage}, nil)
	for _, q := range []struct {
		name   string
		do, co bool
		answer int
	}{{"www.example.org.", false, false, 3}, {"www.example.org.", true, false, 4}, {"nx.example.org.", true, false, 0}, {"nx.example.org.", true, true, 0}} {
		before := w.MemoStats().Hits
		for range 9 {
			r := ask(t, w, q.name, dns.TypeA, q.do, q.co, false, 1232)
			if len(r.Answer) != q.answer || q.do && count(r.Ns, dns.TypeRRSIG)+count(r.Answer, dns.TypeRRSIG) == 0 {
				t.Errorf("%s DO=%v: %d answer records, %v", q.name, q.do, len(r.Answer), r.Ns)
			}
			if want := dns.RcodeSuccess; q.co && q.name == "nx.example.org." && r.Rcode != dns.RcodeNameError || !q.co && r.Rcode != want {
				t.Errorf("%s CO=%v: %s", q.name, q.co, dns.RcodeToString[r.Rcode])
			}
		}
		if hits := w.MemoStats().Hits - before; hits < 5 {
			t.Errorf("%s DO=%v CO=%v: %d memo hits in 9 queries, want at least 5", q.name, q.do, q.co, hits)
		}
	}
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	m.SetEdns0(1232, true)
	pkt, _ := m.Pack()
	buf := make([]byte, 4096)
	hits := w.MemoStats().Hits
	if a := testing.AllocsPerRun(100, func() { w.Answer(pkt, testClient, buf, false, time.Now(), nil) }); a != 0 {
		t.Errorf("a signed memo hit: %v allocations", a)
	}
	if w.MemoStats().Hits-hits < 100 {
		t.Errorf("%d memo hits in 101 signed queries", w.MemoStats().Hits-hits)
	}
}

// TestMemoWindow: a signed reply the memo holds is served only within
// its signatures' validity window; a query after the window's end gets
// signatures of the next window, as the full path gives them.
func TestMemoWindow(t *testing.T) {
	s := newSigned(t, dns.ED25519, false)
	w := answer.NewWorker(s.store, answer.Stages{Sign: s.stage}, nil)
	full := answer.NewWorker(newStore(t), answer.Stages{Sign: s.stage}, nil)
	full.SetMemo(false)
	m := new(dns.Msg)
	m.SetQuestion("lb.example.org.", dns.TypeA)
	m.SetEdns0(1232, true)
	pkt, _ := m.Pack()
	t0 := time.Date(2026, 12, 3, 8, 59, 59, 0, time.UTC)
	for i, at := range []time.Time{t0, t0, t0, t0, t0.Add(time.Second), t0.Add(time.Second), t0.Add(2 * time.Hour)} {
		got := w.Answer(pkt, testClient, make([]byte, 4096), false, at, nil)
		want := full.Answer(pkt, testClient, make([]byte, 4096), false, at, nil)
		if string(got) != string(want) {
			t.Fatalf("query %d at %v: memo and full path differ", i, at)
		}
		r := new(dns.Msg)
		if err := r.Unpack(got); err != nil {
			t.Fatal(err)
		}
		in, _ := dnssec.Window(at)
		if sig, ok := r.Answer[len(r.Answer)-1].(*dns.RRSIG); !ok || sig.Inception != in {
			t.Errorf("query %d at %v: %v, want inception %d", i, at, r.Answer[len(r.Answer)-1], in)
		}
	}
	if w.MemoStats().Hits == 0 {
		t.Error("no memo hit")
	}
}

// BenchmarkSigned is a signed reply's cost on the query path (no
// sockets), DO=1 throughout but for signed-DO0: the same zone served
// unsigned (memo on: the steady state; memo off: decide and encode every
// time) and signed (from the memo; decided with the signature cache warm;
// the cache flushed before every query: cold).
func BenchmarkSigned(b *testing.B) {
	s := newSigned(b, dns.ECDSAP256SHA256, false)
	sw := answer.NewWorker(s.store, answer.Stages{Sign: s.stage}, nil)
	pw := answer.NewWorker(newStore(b), answer.Stages{}, nil)
	sg := s.stage.Signers()["example.org."]
	buf := make([]byte, 4096)
	for _, q := range []struct{ name, qname string }{{"lb", "lb.example.org."}, {"www", "www.example.org."}, {"nxdomain", "nx.example.org."}} {
		for _, c := range []struct {
			name     string
			w        *answer.Worker
			memo, do bool
			cold     bool
		}{
			{"unsigned-memo", pw, true, true, false},
			{"signed-memo", sw, true, true, false},
			{"unsigned-full", pw, false, true, false},
			{"signed-DO0", sw, true, false, false},
			{"signed-full", sw, false, true, false},
			{"signed-cold", sw, false, true, true},
		} {
			b.Run(q.name+"/"+c.name, func(b *testing.B) {
				c.w.SetMemo(c.memo)
				defer c.w.SetMemo(true)
				m := new(dns.Msg)
				m.SetQuestion(q.qname, dns.TypeA)
				m.SetEdns0(1232, c.do)
				pkt, _ := m.Pack()
				b.ReportAllocs()
				for b.Loop() {
					if c.cold {
						sg.Flush()
					}
					if c.w.Answer(pkt, testClient, buf, false, time.Now(), nil) == nil {
						b.Fatal("no reply")
					}
				}
			})
		}
	}
}

// TestDenialTypes: the NSEC of a NODATA reply lists the types the denied
// name has, so a validator that reuses it (RFC 8198, as Unbound does)
// denies nothing that exists: for a name only a wildcard answers, the
// wildcard's types; after a CNAME chain in the zone, the NSEC is the
// chain's last target's, not the query name's (which has a CNAME).
func TestDenialTypes(t *testing.T) {
	s := newSigned(t, dns.ECDSAP256SHA256, false)
	w := answer.NewWorker(s.store, answer.Stages{Sign: s.stage}, nil)
	for _, tc := range []struct {
		name  string
		qt    uint16
		owner string
		has   uint16
	}{
		{"x.y.wild.example.org.", dns.TypeAAAA, "x.y.wild.example.org.", dns.TypeA},
		{"alias.example.org.", dns.TypeTXT, "www.example.org.", dns.TypeA},
		{"www.example.org.", dns.TypeTXT, "www.example.org.", dns.TypeA},
	} {
		r := ask(t, w, tc.name, tc.qt, true, false, false, 1232)
		var nsec []dns.RR
		var sig *dns.RRSIG
		for _, rr := range r.Ns {
			switch rr := rr.(type) {
			case *dns.NSEC:
				nsec = append(nsec, rr)
			case *dns.RRSIG:
				if rr.TypeCovered == dns.TypeNSEC {
					sig = rr
				}
			}
		}
		what := tc.name + " " + dns.TypeToString[tc.qt]
		if r.Rcode != dns.RcodeSuccess || len(nsec) != 1 || sig == nil {
			t.Errorf("%s: %s, %d NSEC, RRSIG %v: want NODATA with one signed NSEC:\n%s", what, dns.RcodeToString[r.Rcode], len(nsec), sig != nil, r)
			continue
		}
		n := nsec[0].(*dns.NSEC)
		if n.Hdr.Name != tc.owner || !slices.Contains(n.TypeBitMap, tc.has) || slices.Contains(n.TypeBitMap, tc.qt) {
			t.Errorf("%s: NSEC %s: want one at %s with %s in its bitmap, not %s", what, n, tc.owner, dns.TypeToString[tc.has], dns.TypeToString[tc.qt])
		}
		if err := sig.Verify(s.keys[0].DNSKEY, nsec); err != nil {
			t.Errorf("%s: %s does not verify: %v", what, sig, err)
		}
	}
}
