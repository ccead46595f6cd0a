package zones

import (
	"fmt"
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
	www := z.nodes["www.example.org."]
	a, aaaa := www.Set(dns.TypeA), www.Set(dns.TypeAAAA)
	if a.Counter() == nil || aaaa.Counter() == nil || a.Counter() == aaaa.Counter() {
		t.Fatalf("counters %p %p: want two of their own", a.Counter(), aaaa.Counter())
	}
	if c := z.nodes["ns.example.org."].Set(dns.TypeA).Counter(); c != nil {
		t.Fatal("a one-record RRset has a counter")
	}
	var got []int
	for range 4 {
		got = append(got, a.Next())
	}
	if fmt.Sprint(got) != "[0 1 2 0]" || aaaa.Next() != 0 {
		t.Fatalf("A rotations %v", got)
	}
}
