package zones

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestGenerateMatchesBIND checks the .want files of zones that BIND reads
// as the reference against what named-checkzone -D prints for them (owner
// names in lower case, as zones keeps them); TestLoadGood checks that
// Load gives the same records.
func TestGenerateMatchesBIND(t *testing.T) {
	bin, err := exec.LookPath("named-checkzone")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("named-checkzone not found in PATH; CI must install it (apt-get install bind9-utils, .ci/deps)")
		}
		t.Skip("named-checkzone not found in PATH (apt-get install bind9-utils); set CI=1 to make this a failure")
	}
	for _, name := range []string{"generate", "ipseckey"} {
		t.Run(name, func(t *testing.T) {
			zone := "testdata/good/" + name + ".zone"
			out, err := exec.Command(bin, "-D", "-o", "-", "example.org", zone).CombinedOutput()
			if err != nil {
				t.Fatalf("named-checkzone %s: %v\n%s", zone, err, out)
			}
			var got []string
			for _, line := range strings.Split(string(out), "\n") {
				rr, err := dns.NewRR(line)
				if err != nil || rr == nil {
					continue // its messages
				}
				rr.Header().Name = strings.ToLower(rr.Header().Name)
				got = append(got, rr.String())
			}
			want, err := os.ReadFile("testdata/good/" + name + ".want")
			if err != nil {
				t.Fatal(err)
			}
			diffLines(t, "named-checkzone -D "+zone, rrStrings(parseRRs(t, got)), wantStrings(t, string(want)))
		})
	}
}

func parseRRs(t *testing.T, lines []string) []dns.RR {
	t.Helper()
	out := make([]dns.RR, len(lines))
	for i, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = rr
	}
	return out
}

// TestGenerateTTL is the bug report: $GENERATE records got TTL 3600
// whatever the $TTL, and quoted data was one string where BIND reads
// several words.
func TestGenerateTTL(t *testing.T) {
	z, err := Parse("example.org.", "gen.zone", []byte("$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"+
		"$GENERATE 1-2 h$ A 192.0.2.$\n$GENERATE 1-1 t$ TXT \"a $\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := z.Node("h1.example.org.").Set(dns.TypeA).TTL; got != 60 {
		t.Errorf("h1 A TTL = %d, want the $TTL 60", got)
	}
	if got := z.Node("t1.example.org.").Set(dns.TypeTXT).RRs()[0].(*dns.TXT).Txt; len(got) != 2 || got[0] != "a" || got[1] != "1" {
		t.Errorf(`t1 TXT = %q, want "a" "1" as BIND`, got)
	}
}

// TestMixedTTLWarning: an RRset whose records have different TTLs is
// served with the last one's (as Knot DNS; NSD serves each record's own),
// and every record that differs from the first is a warning at its line,
// whichever parser read the file.
func TestMixedTTLWarning(t *testing.T) {
	for _, extra := range []string{"", "$GENERATE 1-1 g$ A 192.0.2.$\n"} { // the fast path, the slow one
		z, err := Parse("example.org.", "mixed.zone", []byte("$TTL 3600\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"+
			"www 600 A 192.0.2.10\nwww 300 A 192.0.2.11\nwww 900 A 192.0.2.12\nb 300 A 192.0.2.1\nb 600 A 192.0.2.1\n"+extra))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"mixed.zone:6: www.example.org. A: TTL 300 differs from 600 of the first record; serving 900, the last record's, for the whole RRset",
			"mixed.zone:7: www.example.org. A: TTL 900 differs from 600 of the first record; serving 900, the last record's, for the whole RRset",
			"mixed.zone:9: b.example.org. A: TTL 600 differs from 300 of the first record; serving 600, the last record's, for the whole RRset",
		}
		var got []string
		for _, w := range z.Warnings() {
			got = append(got, w.Error())
		}
		diffLines(t, "Warnings()", got, want)
		for _, rr := range z.Node("www.example.org.").Set(dns.TypeA).RRs() {
			if rr.Header().Ttl != 900 {
				t.Errorf("%v: TTL %d, want 900", rr, rr.Header().Ttl)
			}
		}
		if got := z.Node("b.example.org.").Set(dns.TypeA); len(got.RRs()) != 1 || got.TTL != 600 {
			t.Errorf("b A = %v TTL %d, want one record (a duplicate) with TTL 600", got.RRs(), got.TTL)
		}
	}
	z, err := Load("example.org", "testdata/good/example.org.zone")
	if err != nil {
		t.Fatal(err)
	}
	want := "testdata/good/example.org.zone:18: www.example.org. A: TTL 3600 differs from 300 of the first record; serving 3600, the last record's, for the whole RRset"
	if w := z.Warnings(); len(w) != 1 || w[0].Error() != want {
		t.Errorf("Warnings() of example.org.zone = %v, want only\n%s", w, want)
	}
}

// TestIPSECKEYNotLast is the bug report: the record after an IPSECKEY
// failed with `unexpected "x" after the end of the record data`.
func TestIPSECKEYNotLast(t *testing.T) {
	z, err := Parse("example.org.", "ipseckey.zone", []byte("$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"+
		"gw IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==\nx A 192.0.2.2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if z.Node("x.example.org.") == nil || z.Node("gw.example.org.").Set(dns.TypeIPSECKEY) == nil {
		t.Errorf("records after and of the IPSECKEY missing")
	}
}
