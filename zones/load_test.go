package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// rrStrings returns the records as sorted zone-syntax lines.
func rrStrings(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = rr.String()
	}
	slices.Sort(out)
	return out
}

// wantStrings parses records written in zone syntax, one a line, and returns
// them the way rrStrings does, so formatting differences don't matter.
func wantStrings(t *testing.T, text string) []string {
	t.Helper()
	var rrs []dns.RR
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("bad expected record %q: %v", line, err)
		}
		rrs = append(rrs, rr)
	}
	return rrStrings(rrs)
}

func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("%s: unexpected %s", what, g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: missing %s", what, w)
		}
	}
	if !t.Failed() {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

var goodZones = []struct {
	name, file, want string
}{
	{"all features", "testdata/good/example.org.zone", "testdata/good/example.org.want"},
	{"no $TTL", "testdata/good/nottl.zone", "testdata/good/nottl.want"},
	{"blank owners after directives", "testdata/good/directives.zone", "testdata/good/directives.want"},
	{"$GENERATE as BIND reads it", "testdata/good/generate.zone", "testdata/good/generate.want"},
	{"IPSECKEY before other records", "testdata/good/ipseckey.zone", "testdata/good/ipseckey.want"},
	{"SVCB parameters as keyNNNNN", "testdata/good/svcb-generic.zone", "testdata/good/svcb-generic.want"},
}

func TestLoadGood(t *testing.T) {
	for _, tc := range goodZones {
		t.Run(tc.name, func(t *testing.T) {
			z, err := Load("example.org", tc.file)
			if err != nil {
				t.Fatalf("Load(%s) error:\n%v", tc.file, err)
			}
			want, err := os.ReadFile(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			diffLines(t, "Records()", rrStrings(z.Records()), wantStrings(t, string(want)))
			if z.Len() != len(z.Records()) {
				t.Errorf("Len() = %d, want %d", z.Len(), len(z.Records()))
			}
		})
	}
}

// TestSlowMatchesFast checks that the entry-by-entry parser, used to report
// errors at their lines, reads every good file exactly as the zone parser
// does: otherwise a zone with one error would be reported with wrong ones.
func TestSlowMatchesFast(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.zone")
	if len(files) == 0 {
		t.Fatal("no good fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if needsSlow(f, data, 0) {
				// Read by parseSlow only: the zone parser reads it
				// wrongly (TestLoadGood checks what it loads to).
				return
			}
			checkSlowMatchesFast(t, "example.org.", f, data)
		})
	}
}

func checkSlowMatchesFast(t *testing.T, origin, path string, data []byte) {
	t.Helper()
	fast, err := parseFast(origin, path, data)
	if err != nil {
		t.Fatalf("parseFast: %v", err)
	}
	slow, errs := parseSlow(origin, path, data)
	if len(errs) > 0 {
		t.Fatalf("parseSlow:\n%v", errs)
	}
	rrs := func(ls []located) []dns.RR {
		out := make([]dns.RR, len(ls))
		for i, l := range ls {
			out[i] = l.rr
		}
		return out
	}
	diffLines(t, "parseSlow", rrStrings(rrs(slow)), rrStrings(rrs(fast)))
}

// TestDuplicatesRemoved checks RFC 2181 section 5 in small and large
// RRsets: a record that differs only in TTL or in the case of a name in
// its data is a duplicate, but TXT data is case-sensitive.
func TestDuplicatesRemoved(t *testing.T) {
	for _, n := range []int{3, 100} {
		var b strings.Builder
		b.WriteString("$ORIGIN example.org.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n")
		fmt.Fprintf(&b, "$GENERATE 1-%d mx MX \"$ host$\"\n", n)
		fmt.Fprintf(&b, "$GENERATE 1-%d mx 30 MX \"$ HOST$\"\n", n)
		fmt.Fprintf(&b, "$GENERATE 1-%d txt TXT \"a$\"\n", n)
		fmt.Fprintf(&b, "$GENERATE 1-%d txt TXT \"A$\"\n", n)
		z, err := Parse("example.org.", "dups.zone", []byte(b.String()))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if got := len(z.Node("mx.example.org.").Set(dns.TypeMX).RRs()); got != n {
			t.Errorf("%d MX records and their upper-case duplicates: got %d, want %d", n, got, n)
		}
		if got := len(z.Node("txt.example.org.").Set(dns.TypeTXT).RRs()); got != 2*n {
			t.Errorf("%d TXT records and their upper-case variants: got %d, want %d", n, got, 2*n)
		}
	}
}
