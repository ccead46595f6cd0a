package zones

import (
	"testing"

	"github.com/miekg/dns"
)

// TestRRsetCounters checks that every RRset of two or more records has a
// round-robin counter of its own, and Next steps it.
func TestRRsetCounters(t *testing.T) {
	z, err := Parse("example.org.", "test.zone", []byte(`$ORIGIN example.org.
@ 300 IN SOA ns hostmaster 1 7200 3600 1209600 300
@ 300 IN NS ns
ns 300 IN A 192.0.2.1
www 300 IN A 192.0.2.10
www 300 IN A 192.0.2.11
www 300 IN A 192.0.2.12
www 300 IN AAAA 2001:db8::1
www 300 IN AAAA 2001:db8::2
`))
	if err != nil {
		t.Fatal(err)
	}
	www := z.Node("www.example.org.")
	a, aaaa := www.Set(dns.TypeA), www.Set(dns.TypeAAAA)
	if a.Rot == 0 || aaaa.Rot == 0 || a.Rot == aaaa.Rot || int(a.Rot) > z.Rotations() || int(aaaa.Rot) > z.Rotations() {
		t.Fatalf("Rot %d and %d of %d: want two numbers of their own", a.Rot, aaaa.Rot, z.Rotations())
	}
	if r := z.Node("ns.example.org.").Set(dns.TypeA).Rot; r != 0 {
		t.Fatalf("a one-record RRset has Rot %d", r)
	}
	if n := z.Rotations(); n != 2 {
		t.Fatalf("Rotations() = %d, want 2", n)
	}
}
