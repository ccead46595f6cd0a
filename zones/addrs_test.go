package zones

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestAddressSets: A and AAAA RRsets keep addresses, not records, and the
// records made from them are the file's: in file order, duplicates left
// out (in small sets and in large ones, which an index serves), the last
// TTL of a mixed set for all, through the fast path (Load) and the slow
// one (Parse) alike; Index and Addr find them; AppendRR with a Scratch
// allocates nothing and its records are the caller's to change.
func TestAddressSets(t *testing.T) {
	var b strings.Builder
	b.WriteString("$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\nns A 192.0.2.53\n")
	b.WriteString("www A 192.0.2.2\nwww A 192.0.2.1\nwww 600 A 192.0.2.2\nwww AAAA 2001:db8::1\nwww 60 A 192.0.2.3\n")
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("192.0.2.%d", 100+i))
		fmt.Fprintf(&b, "big A 192.0.2.%d\n", 100+i)
		if i%7 == 0 {
			fmt.Fprintf(&b, "big A 192.0.2.%d\n", 100+i/2) // a duplicate
		}
	}
	text := b.String()
	p := writeZone(t, t.TempDir(), text)
	loaded, err := Load("example.org.", p)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse("example.org.", p, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range []*Zone{loaded, parsed} {
		www := z.Node("www.example.org.").Set(dns.TypeA)
		var got []string
		for _, rr := range www.RRs() {
			got = append(got, rr.String())
		}
		if !slices.Equal(got, []string{
			"www.example.org.\t60\tIN\tA\t192.0.2.2", "www.example.org.\t60\tIN\tA\t192.0.2.1", "www.example.org.\t60\tIN\tA\t192.0.2.3"}) {
			t.Errorf("www A = %q: want .2 .1 .3 in file order with the last TTL, 60", got)
		}
		if www.Name() != "www.example.org." || www.Len() != 3 || www.Addr(2) != netip.MustParseAddr("192.0.2.3") ||
			www.Index(netip.MustParseAddr("192.0.2.1")) != 1 || www.Index(netip.MustParseAddr("192.0.2.9")) != -1 ||
			www.Index(netip.MustParseAddr("2001:db8::1")) != -1 {
			t.Errorf("www A: Name %q Len %d Addr(2) %v Index(.1) %d", www.Name(), www.Len(), www.Addr(2), www.Index(netip.MustParseAddr("192.0.2.1")))
		}
		if v6 := z.Node("www.example.org.").Set(dns.TypeAAAA); v6.Len() != 1 || v6.Addr(0) != netip.MustParseAddr("2001:db8::1") ||
			v6.RRs()[0].(*dns.AAAA).AAAA.String() != "2001:db8::1" {
			t.Errorf("www AAAA = %v", v6.RRs())
		}
		big := z.Node("big.example.org.").Set(dns.TypeA)
		got = nil
		for i := range big.Len() {
			got = append(got, big.Addr(i).String())
		}
		if !slices.Equal(got, many) {
			t.Errorf("big A = %v, want %v (no duplicates, file order)", got, many)
		}
		if z.Len() != 3+4+40 { // SOA, NS, ns A; www 3 A + 1 AAAA; big
			t.Errorf("Len = %d, want %d", z.Len(), 3+4+40)
		}
	}
	if w := loaded.Warnings(); len(w) != 2 {
		t.Errorf("warnings %v: want the two mixed TTLs of www A", w)
	}

	www := loaded.Node("www.example.org.").Set(dns.TypeA)
	var sc Scratch
	dst := make([]dns.RR, 0, 8)
	if n := testing.AllocsPerRun(100, func() {
		sc.Reset()
		dst = www.AppendRRs(dst[:0], &sc)
	}); n != 0 {
		t.Errorf("AppendRRs into a Scratch: %v allocations, want 0", n)
	}
	dst[0].Header().Ttl = 1 // the reply's own record
	if www.RRs()[0].Header().Ttl != 60 || www.TTL != 60 {
		t.Error("changing a record made in a Scratch changed the zone")
	}
	// A record made in the Scratch stays as it was while more are made
	// after it: the Scratch grows into new arrays, never over a record
	// it handed out since its last Reset.
	first := www.AppendRR(nil, 0, &sc)[0]
	for range 100 {
		www.AppendRR(nil, 1, &sc)
	}
	if first.(*dns.A).A.String() != "192.0.2.2" {
		t.Errorf("a record made before the Scratch grew is now %v", first)
	}
}
