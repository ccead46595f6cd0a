package geo

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/dnslb/dnslb/dnslb/geo/geotest"
	"github.com/dnslb/dnslb/dnslb/policy"
)

// compiledFiles are the databases the compiled tables are checked on: the
// test fixtures, the shipped country database, and GEO_WORLD_DB if set
// (bench/gengeo's world-like database, or a real one).
func compiledFiles(t *testing.T) []string {
	t.Helper()
	city, asn, flat := geotest.Files(t, t.TempDir())
	files := []string{city, asn, flat, filepath.Join("..", "..", "geodata", "geo-whois-asn-country.mmdb")}
	if w := os.Getenv("GEO_WORLD_DB"); w != "" {
		files = append(files, w)
	}
	return files
}

// probeAddrs are random addresses of both families, weighted towards the
// places where compiling could go wrong: the first and last address of
// each range and its neighbours, the documentation networks, the IPv4
// tree at ::/96, and the alias regions.
func probeAddrs(r *rand.Rand, f *geoFile, n int) []netip.Addr {
	var out []netip.Addr
	for range n {
		out = append(out, netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}))
		var a [16]byte
		binary.BigEndian.PutUint64(a[:8], r.Uint64())
		binary.BigEndian.PutUint64(a[8:], r.Uint64())
		out = append(out, netip.AddrFrom16(a))
		switch r.IntN(4) {
		case 0:
			a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
		case 1:
			clear(a[:12]) // ::a.b.c.d, the IPv4 tree of an IPv6 file
		case 2:
			a[0], a[1] = 0x20, 0x02
		case 3:
			a[0], a[1], a[2], a[3] = 0x20, 0x01, 0, 0
		}
		out = append(out, netip.AddrFrom16(a))
	}
	if t := f.t4; t != nil {
		for range n {
			s := t.ents[r.IntN(len(t.ents))].start
			for _, k := range []uint32{s, s - 1, s + 1} {
				a := netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)})
				out = append(out, a, a.Prev())
			}
		}
	}
	if t := f.t6; t != nil {
		for range n {
			s := t.ents[r.IntN(len(t.ents))].start
			for _, k := range []uint64{s, s - 1, s + 1} {
				var a [16]byte
				binary.BigEndian.PutUint64(a[:8], k)
				out = append(out, netip.AddrFrom16(a), netip.AddrFrom16(a).Prev())
			}
		}
	}
	for _, s := range []string{"192.0.2.0", "192.0.2.127", "192.0.2.128", "198.51.100.255", "203.0.113.63", "203.0.113.64",
		"0.0.0.0", "255.255.255.255", "::", "::1", "2001:db8::", "2001:db8:1::1", "2001:db8:2::1", "2001:db8:ffff::1",
		"::ffff:192.0.2.1", "::192.0.2.1", "2002:c000:0201::", "2001:0:c000:201::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// TestCompiledLookup compares lookups in the compiled tables with lookups
// in the file's tree: the same network length and the same record, for
// every file alone and for the set of them merged.
func TestCompiledLookup(t *testing.T) {
	files := compiledFiles(t)
	r := rand.New(rand.NewPCG(12, 34))
	var set, tree Set
	for _, path := range files {
		f, err := openGeoFile(path, true)
		if err != nil {
			t.Fatal(err)
		}
		if f.t4 == nil || f.ipv6 != (f.t6 != nil) {
			t.Fatalf("%s: tables t4 %v, t6 %v for ip_version %d: not compiled", path, f.t4 != nil, f.t6 != nil, f.r.Metadata.IPVersion)
		}
		n4, n6 := len(f.t4.ents), 0
		if f.t6 != nil {
			n6 = len(f.t6.ents)
		}
		t.Logf("%s: %d IPv4 ranges, %d IPv6 ranges, %d records", filepath.Base(path), n4, n6, len(f.recs)-1)
		bad := 0
		for _, a := range probeAddrs(r, f, 20000) {
			a = a.Unmap()
			if a.Is6() && !f.ipv6 {
				continue
			}
			gb, grec := f.lookup(a)
			wb, wrec := f.lookupTree(a)
			if gb != wb || (grec == nil) != (wrec == nil) || grec != nil && *grec != *wrec {
				if bad++; bad <= 10 {
					t.Errorf("%s: lookup(%s) = /%d %+v, the tree says /%d %+v", filepath.Base(path), a, gb, grec, wb, wrec)
				}
			}
		}
		set.dbs = append(set.dbs, f)
		tree.dbs = append(tree.dbs, &geoFile{path: f.path, r: f.r, ipv6: f.ipv6, fields: f.fields})
	}
	for _, need := range []policy.Fields{policy.AllFields, policy.FieldCountry, policy.FieldASN, policy.FieldCoords} {
		for _, a := range probeAddrs(r, set.dbs[0], 5000) {
			got, gok := set.Lookup(a, need)
			want, wok := tree.Lookup(a, need)
			if got != want || gok != wok {
				t.Fatalf("Set.Lookup(%s, %b) = %+v, %v; in the trees %+v, %v", a, need, got, gok, want, wok)
			}
		}
	}
}

// TestCompiledNoAllocs holds the compiled lookup to no allocations.
func TestCompiledNoAllocs(t *testing.T) {
	g := testGeoDB(t)
	a := netip.MustParseAddr("192.0.2.1")
	if n := testing.AllocsPerRun(100, func() { g.Lookup(a, policy.AllFields) }); n != 0 {
		t.Errorf("Lookup(%s) allocates %v times, want 0", a, n)
	}
}

// BenchmarkCompile is the load-time cost of compiling the shipped country
// database (and GEO_WORLD_DB if set): one walk of its tree per op.
func BenchmarkCompile(b *testing.B) {
	files := []string{filepath.Join("..", "..", "geodata", "geo-whois-asn-country.mmdb")}
	if w := os.Getenv("GEO_WORLD_DB"); w != "" {
		files = append(files, w)
	}
	for _, path := range files {
		b.Run(filepath.Base(path), func(b *testing.B) {
			f, err := openGeoFile(path, true)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := f.compile(); err != nil {
					b.Fatal(err)
				}
			}
			n4, n6, bytes := len(f.t4.ents), 0, len(f.t4.ents)*8+len(f.t4.index)*8
			if f.t6 != nil {
				n6 = len(f.t6.ents)
				bytes += n6*16 + len(f.t6.index)*8
			}
			b.ReportMetric(float64(n4+n6), "ranges")
			b.ReportMetric(float64(bytes+len(f.recs)*int(unsafe.Sizeof(recData{}))), "table-bytes")
		})
	}
}

// BenchmarkLookupSpread is a lookup of the country for clients spread over
// the address space (65,536 random /24s, as bench/ecsload sends), in the
// compiled tables and in the tree, on the shipped database or GEO_WORLD_DB.
func BenchmarkLookupSpread(b *testing.B) {
	path := filepath.Join("..", "..", "geodata", "geo-whois-asn-country.mmdb")
	if w := os.Getenv("GEO_WORLD_DB"); w != "" {
		path = w
	}
	f, err := openGeoFile(path, true)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	addrs := make([]netip.Addr, 1<<16)
	for i := range addrs {
		v := r.Uint32()
		addrs[i] = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0})
	}
	for _, c := range []struct {
		name string
		set  *Set
	}{
		{"compiled", &Set{dbs: []*geoFile{f}}},
		{"tree", &Set{dbs: []*geoFile{{path: f.path, r: f.r, ipv6: f.ipv6, fields: f.fields}}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.set.Lookup(addrs[i&(len(addrs)-1)], policy.FieldCountry)
				i++
			}
		})
	}
}

// TestWarm checks Set.Warm on every compiled file: for the addresses of a
// batch (the range edges probeAddrs puts first among random ones, both
// families, more than maxWarm of them) it reads each IPv4 address's index
// slot and, for a split block, the range before the block's first one,
// exactly what find starts from, without reading past either array; and
// it reads nothing for an empty batch, IPv6 addresses or a nil set.
func TestWarm(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, path := range compiledFiles(t) {
		f, err := openGeoFile(path, true)
		if err != nil {
			t.Fatal(err)
		}
		if f.t4 == nil {
			continue
		}
		set := &Set{dbs: []*geoFile{f}}
		addrs := append(probeAddrs(r, f, 200), netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"))
		for i := 0; i < len(addrs); i += maxWarm + 7 {
			batch := addrs[i:min(len(addrs), i+maxWarm+7)]
			var want uint32
			for _, a := range batch[:min(len(batch), maxWarm)] {
				if !a.Is4() {
					continue
				}
				b := a.As4()
				sl := f.t4.index[binary.BigEndian.Uint32(b[:])>>f.t4.shift]
				want += sl.lo
				if sl.lo&whole == 0 {
					want += f.t4.ents[max(int(sl.lo), 1)-1].val
				}
			}
			if got := set.Warm(batch); got != want {
				t.Fatalf("%s: Warm of %d addresses = %d, want %d", path, len(batch), got, want)
			}
		}
		if got := set.Warm(nil); got != 0 {
			t.Errorf("%s: Warm(nil) = %d", path, got)
		}
		if got := set.Warm([]netip.Addr{netip.MustParseAddr("2001:db8::1")}); got != 0 {
			t.Errorf("%s: Warm of an IPv6 address = %d", path, got)
		}
	}
	if got := (*Set)(nil).Warm([]netip.Addr{netip.MustParseAddr("192.0.2.1")}); got != 0 {
		t.Errorf("nil set: Warm = %d", got)
	}
}
