package zones

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func BenchmarkLookup(b *testing.B) {
	z := loadTestZone(b)
	tests := []struct {
		name  string
		qname string
		qtype uint16
		kind  Kind
	}{
		{"exact", "www.example.org.", dns.TypeA, Success},
		{"wildcard", "nothere.example.org.", dns.TypeA, Success},
		{"nxdomain", "x.exists.example.org.", dns.TypeA, NXDomain},
		{"referral", "a.b.sub.example.org.", dns.TypeA, Referral},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			var r Result
			z.Lookup(tc.qname, tc.qtype, &r)
			if r.Kind != tc.kind {
				b.Fatalf("Lookup(%s) kind = %v, want %v", tc.qname, r.Kind, tc.kind)
			}
			b.ReportAllocs()
			for b.Loop() {
				z.Lookup(tc.qname, tc.qtype, &r)
			}
		})
	}
}

// bigZone returns a zone of n records: hosts with A, AAAA and TXT records
// spread over a thousand sub-names, the shape of a large customer zone.
func bigZone(n int) []byte {
	var b strings.Builder
	b.WriteString("$ORIGIN example.org.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n")
	for i := 3; i < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "h%d.s%d A 192.0.2.%d\n", i, i%1000, i%256)
		case 1:
			fmt.Fprintf(&b, "h%d.s%d AAAA 2001:db8::%x:%x\n", i-1, (i-1)%1000, i>>16, i&0xffff)
		case 2:
			fmt.Fprintf(&b, "h%d.s%d 300 TXT \"host %d\"\n", i-2, (i-2)%1000, i)
		}
	}
	return []byte(b.String())
}

// BenchmarkLoad parses and validates a generated 100k-record zone and
// reports the cost per record, and the memory each record keeps.
func BenchmarkLoad(b *testing.B) {
	const n = 100_000
	data := bigZone(n)
	var z *Zone
	var before, after runtime.MemStats
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		z = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		var err error
		z, err = Parse("example.org.", "big.zone", data)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.StartTimer()
	}
	if z.Len() != n {
		b.Fatalf("Len() = %d, want %d", z.Len(), n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/record")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/record")
}
