package zones

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// unsafeInclude matches $INCLUDEs that could leave testdata (/dev/zero,
// say), which a fuzzer must not open.
var unsafeInclude = regexp.MustCompile(`(?i)\$include[ \t]+"?(/|[^\s]*\.\.)`)

var compareParsers = flag.Bool("compare", false, "FuzzParse: while fuzzing, also check that parseSlow reads what parseFast accepts")

// longInclude matches an $INCLUDE with words after the origin: the zone
// parser reads them as a record with the previous owner, where the slow
// parser (and BIND) report an error. Known, not fixed here.
var longInclude = regexp.MustCompile(`(?im)^\$include[ \t]+[^ \t\n;]+[ \t]+[^ \t\n;]+[ \t]+[^ \t\n;]`)

// FuzzParse checks that no zone text makes Parse panic, and that what it
// returns is either a zone or a non-empty error list.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.zone")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// The comparison of the two parsers runs on the seeds and on the inputs
	// in testdata/fuzz, but while fuzzing only with -compare: random input
	// keeps finding lines the zone parser is lenient about (see longInclude
	// and shortSOA), which would make a bounded fuzz run in CI flaky.
	fuzzing := flag.Lookup("test.fuzz").Value.String() != ""
	compare := *compareParsers || !fuzzing
	f.Fuzz(func(t *testing.T, data []byte) {
		if unsafeInclude.Match(data) {
			t.Skip()
		}
		// The path puts relative $INCLUDEs of the seeds in testdata/good.
		const path = "testdata/good/fuzz.zone"
		// Records with no owner or no data are rejected by build; the two
		// parsers may read the lines around them differently.
		broken := func(l located) bool {
			return l.rr.Header().Name == "" || noData(l.rr)
		}
		if rrs, err := parseFast("example.org.", path, data); err == nil && compare && !needsSlow(path, data, 0) && !slices.ContainsFunc(rrs, broken) && !shortSOA(data) && !longInclude.Match(data) {
			// What the zone parser accepts, the slow parser must read
			// the same way, or errors would be reported wrongly.
			checkSlowMatchesFast(t, "example.org.", path, data)
		}
		z, err := Parse("example.org.", path, data)
		if err == nil {
			if z == nil || z.SOA == nil || z.Apex == nil {
				t.Fatalf("Parse = %v, nil: want a complete zone", z)
			}
			var r Result
			z.Lookup("example.org.", dns.TypeSOA, &r)
			if r.Kind != Success {
				t.Fatalf("Lookup(apex SOA) kind = %v, want success", r.Kind)
			}
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("Parse error = %#v, want a non-empty ErrorList", err)
		}
		for _, e := range list {
			if e.Msg == "" {
				t.Fatalf("Parse error %q has an empty message", e.Error())
			}
		}
	})
}

// FuzzLookup checks that any name and type in the test zone gives an
// answer whose kind and sections agree.
func FuzzLookup(f *testing.F) {
	z := loadTestZone(f)
	for _, s := range []string{"www", "x.w", "chain1", "loop1", "a.b.sub", "sub", "c", "b.c", "nothere", `a\.b`, "www.old", "x.away", "", "*", "_sip._tcp"} {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeDS, dns.TypeANY, dns.TypeCNAME, dns.TypeNS, dns.TypeMX} {
			f.Add(s, qt)
		}
	}
	f.Fuzz(func(t *testing.T, s string, qtype uint16) {
		qname := z.Origin
		if s != "" {
			if _, ok := dns.IsDomainName(s); !ok || dns.IsFqdn(s) {
				t.Skip()
			}
			qname = Lower(s) + "." + z.Origin
			if _, ok := dns.IsDomainName(qname); !ok {
				t.Skip()
			}
		}
		var r Result
		z.Lookup(qname, qtype, &r)
		checkResult(t, z, qname, qtype, &r)
	})
}

func checkResult(t *testing.T, z *Zone, qname string, qtype uint16, r *Result) {
	t.Helper()
	q := qname + " " + dns.TypeToString[qtype]
	if len(r.Answer) > 2*maxChain {
		t.Fatalf("Lookup(%s) answer has %d items, more than the chain limit allows", q, len(r.Answer))
	}
	for i, it := range r.Answer {
		typ := it.Set.Type
		if i < len(r.Answer)-1 && typ != dns.TypeCNAME && typ != dns.TypeDNAME {
			t.Fatalf("Lookup(%s) answer item %d is %s before the end of the chain", q, i, dns.TypeToString[typ])
		}
	}
	if len(r.Answer) > 0 {
		first := r.Answer[0]
		owner := first.Owner
		if owner == "" {
			owner = first.Set.Name()
		}
		if first.Set.Type == dns.TypeDNAME && first.Owner == "" {
			if !IsSubdomain(qname, owner) {
				t.Fatalf("Lookup(%s) starts with DNAME at %s, not above the query name", q, owner)
			}
		} else if owner != qname {
			t.Fatalf("Lookup(%s) answer starts at %s", q, owner)
		}
	}
	switch r.Kind {
	case Success:
		if len(r.Answer) == 0 {
			t.Fatalf("Lookup(%s) = success with an empty answer", q)
		}
		if len(r.Authority) != 0 {
			t.Fatalf("Lookup(%s) = success with %d authority sets", q, len(r.Authority))
		}
	case NoData, NXDomain:
		if len(r.Authority) != 1 || r.Authority[0] != z.soaNeg {
			// A DNAME whose result is too long is reported as NXDomain
			// with the DNAME only (RFC 6672 section 2.2).
			if !(r.Kind == NXDomain && len(r.Authority) == 0 && len(r.Answer) > 0 && r.Answer[len(r.Answer)-1].Set.Type == dns.TypeDNAME) {
				t.Fatalf("Lookup(%s) = %v with authority %v, want the negative SOA", q, r.Kind, r.Authority)
			}
		}
	case Referral:
		if len(r.Authority) != 1 || r.Authority[0].Type != dns.TypeNS || r.Authority[0].Name() == z.Origin {
			t.Fatalf("Lookup(%s) = referral with authority %v, want the NS RRset of a cut", q, r.Authority)
		}
	default:
		t.Fatalf("Lookup(%s) kind = %d, out of range", q, r.Kind)
	}
}

// shortSOA reports whether an SOA entry has fewer than its seven fields.
// The zone parser's SOA reader takes a newline for the blank after the
// mailbox and after each number, so it reads such an SOA on from the next
// line, or fills it with zeros at the end of the input, where the slow
// parser (and BIND) report an error. Known, not fixed here.
func shortSOA(data []byte) bool {
	for _, e := range splitEntries(string(data)) {
		var fields []string
		for _, line := range strings.Split(e.text, "\n") {
			line = strings.NewReplacer("(", " ", ")", " ").Replace(zonetext.StripComment(line))
			fields = append(fields, strings.Fields(line)...)
		}
		for i, f := range fields {
			if strings.EqualFold(f, "SOA") && len(fields)-i-1 < 7 {
				return true
			}
		}
	}
	return false
}

func TestShortSOA(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.zone")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if shortSOA(data) {
			t.Errorf("shortSOA(%s) = true, want false", f)
		}
	}
	if !shortSOA([]byte("@ SOA ns1 h 1\n2 3 4 5\n")) {
		t.Errorf("shortSOA(SOA over two lines) = false, want true")
	}
}
