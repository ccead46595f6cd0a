package geo

import (
	"bytes"
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnslb/dnslb/dnslb/geo/geotest"
	"github.com/dnslb/dnslb/dnslb/policy"
)

// The -update flag regenerates dnslb/testdata/geo. It is registered only if no
// other test file of the package (golden files) has registered it already:
// package-level variables are initialized before init functions run.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files and test fixtures")
	}
}

func updateFlag() bool {
	f := flag.Lookup("update")
	g, ok := f.Value.(flag.Getter)
	return ok && g.Get() == true
}

// testGeoDB opens the test databases: city first, then ASN, then flat.
func testGeoDB(t testing.TB) *DB {
	t.Helper()
	city, asn, flat := geotest.Files(t, t.TempDir())
	g, err := Open([]string{city, asn, flat}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGeoLookup(t *testing.T) {
	g := testGeoDB(t)
	tests := []struct {
		addr   string
		want   policy.Location
		wantOK bool
	}{
		{"192.0.2.1", policy.Location{Country: "DE", Continent: "EU", Subdivisions: [2]string{"DE-HE"}, ASN: 64500, Lat: 50.11, Lon: 8.68, HasCoords: true, Prefix: 25}, true},
		{"192.0.2.200", policy.Location{Country: "US", Continent: "NA", Subdivisions: [2]string{"US-CA"}, ASN: 64500, Lat: 37.77, Lon: -122.42, HasCoords: true, Prefix: 25}, true},
		{"198.51.100.7", policy.Location{Country: "JP", Continent: "AS", ASN: 64501, Lat: 35.68, Lon: 139.69, HasCoords: true, Prefix: 25}, true},
		{"198.51.100.200", policy.Location{Country: "JP", Continent: "AS", Lat: 35.68, Lon: 139.69, HasCoords: true, Prefix: 25}, true},
		// Only the flat database has 203.0.113.64/26..: continent from the country.
		{"203.0.113.100", policy.Location{Country: "ZA", Continent: "AF", Prefix: 26}, true},
		{"203.0.113.1", policy.Location{Country: "AU", Continent: "OC", Subdivisions: [2]string{"AU-NSW"}, Lat: -33.87, Lon: 151.21, HasCoords: true, Prefix: 26}, true},
		{"2001:db8::1", policy.Location{Country: "FR", Continent: "EU", ASN: 64502, Lat: 48.86, Lon: 2.35, HasCoords: true, Prefix: 48}, true},
		{"2001:db8:1::1", policy.Location{Country: "BR", Continent: "SA", Subdivisions: [2]string{"BR-SP"}, ASN: 64502, Lat: -23.55, Lon: -46.63, HasCoords: true, Prefix: 48}, true},
		{"2001:db8:2::1", policy.Location{ASN: 64502, Prefix: 47}, true}, // empty city network 2001:db8:2::/47
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			got, ok := g.Lookup(netip.MustParseAddr(tc.addr), policy.AllFields)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Lookup(%s) = %+v, %v, want %+v, %v", tc.addr, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestGeoLookupNotFound(t *testing.T) {
	g := testGeoDB(t)
	got, ok := g.Lookup(netip.MustParseAddr("10.1.2.3"), policy.AllFields)
	if ok || got.Country != "" {
		t.Errorf("Lookup(10.1.2.3) = %+v, %v, want no data", got, ok)
	}
	if got.Prefix == 0 || got.Prefix > 32 {
		t.Errorf("Lookup(10.1.2.3).Prefix = %d, want the empty network's length in 1..32", got.Prefix)
	}
}

func TestGeoNilAndMissing(t *testing.T) {
	var nilDB *DB
	if _, ok := nilDB.Lookup(netip.MustParseAddr("192.0.2.1"), policy.AllFields); ok {
		t.Error("nil DB found data")
	}
	g, err := Open([]string{filepath.Join(t.TempDir(), "missing.mmdb")}, nil)
	if err == nil {
		t.Error("Open(missing) returned no error")
	}
	if _, ok := g.Lookup(netip.MustParseAddr("192.0.2.1"), policy.AllFields); ok {
		t.Error("DB with no files found data")
	}
}

// TestGeoFixture checks that dnslb/testdata/geo holds what the generators make;
// `go test ./dnslb -run TestGeoFixture -update` rewrites it.
func TestGeoFixture(t *testing.T) {
	dir := filepath.Join("..", "testdata", "geo") // shared with the server tests
	tmp := t.TempDir()
	geotest.Files(t, tmp)
	for _, name := range []string{"city.mmdb", "asn.mmdb", "country_code.mmdb"} {
		want, err := os.ReadFile(filepath.Join(tmp, name))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if updateFlag() {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generated database; run go test ./dnslb -run TestGeoFixture -update", path)
		}
	}
	g, err := Open([]string{filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb"), filepath.Join(dir, "country_code.mmdb")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := g.Lookup(netip.MustParseAddr("192.0.2.1"), policy.AllFields); l.Country != "DE" || l.ASN != 64500 {
		t.Errorf("fixture Lookup(192.0.2.1) = %+v, want DE, AS64500", l)
	}
}

// TestGeoReload replaces the database by rename and waits for Run to load it.
func TestGeoReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "city.mmdb")
	geotest.WriteTree(t, geotest.CityDB(t, geotest.CityRows), path)
	g, err := Open([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Poll = 10 * time.Millisecond
	addr := netip.MustParseAddr("192.0.2.1")
	if l, _ := g.Lookup(addr, policy.AllFields); l.Country != "DE" {
		t.Fatalf("Lookup(%s).Country = %q, want DE", addr, l.Country)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	// A broken file must not replace the good one.
	broken := filepath.Join(dir, "broken.tmp")
	if err := os.WriteFile(broken, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(broken, path); err != nil {
		t.Fatal(err)
	}
	if g.Reload() {
		t.Error("Reload() of a broken file reported a change")
	}
	if l, _ := g.Lookup(addr, policy.AllFields); l.Country != "DE" {
		t.Errorf("after broken reload Lookup(%s).Country = %q, want DE (old database kept)", addr, l.Country)
	}

	rows := append([]geotest.CityRow{{CIDR: "192.0.2.0/24", Country: "CH", Continent: "EU", Lat: 47.37, Lon: 8.54}}, geotest.CityRows[2:]...)
	next := filepath.Join(dir, "next.tmp")
	geotest.WriteTree(t, geotest.CityDB(t, rows), next)
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, _ := g.Lookup(addr, policy.AllFields)
		if l.Country == "CH" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Lookup(%s).Country = %q after replacing the file, want CH", addr, l.Country)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestShippedGeodata opens the database shipped in geodata/.
func TestShippedGeodata(t *testing.T) {
	path := filepath.Join("..", "..", "geodata", "geo-whois-asn-country.mmdb")
	g, err := Open([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := Open(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]*DB{"file": g, "built-in": builtin} {
		// Documentation addresses have no country in a real database.
		if l, ok := g.Lookup(netip.MustParseAddr("192.0.2.1"), policy.AllFields); ok {
			t.Errorf("%s: Lookup(192.0.2.1) = %+v in the shipped database, want no data", name, l)
		}
		if n := len(g.cur.Load().dbs); n != 1 {
			t.Errorf("%s: %d databases loaded, want 1", name, n)
		}
	}
}

func BenchmarkGeoLookup(b *testing.B) {
	city, asn, flat := geotest.Files(b, b.TempDir())
	g, err := Open([]string{city, asn, flat}, nil)
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("198.51.100.7"),
		netip.MustParseAddr("203.0.113.100"),
		netip.MustParseAddr("2001:db8::1"),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		g.Lookup(addrs[i%len(addrs)], policy.AllFields)
		i++
	}
}

// TestLookupFields: a lookup reads only the files that can tell the
// fields asked for, and stops once it has them, so its Prefix (the ECS
// scope) counts only the networks the answer depends on.
func TestLookupFields(t *testing.T) {
	g := testGeoDB(t)
	addr := netip.MustParseAddr("198.51.100.7") // city 198.51.100.0/24 JP, ASN 198.51.100.0/25
	all, _ := g.Lookup(addr, policy.AllFields)
	if all.Country != "JP" || all.ASN != 64501 || all.Prefix != 25 {
		t.Fatalf("Lookup(%s, all) = %+v, want JP, AS64501, /25", addr, all)
	}
	cc, ok := g.Lookup(addr, policy.FieldCountry)
	if !ok || cc.Country != "JP" || cc.ASN != 0 || cc.Prefix != 24 {
		t.Errorf("Lookup(%s, country) = %+v, %v; want JP from the city network /24 alone, no ASN", addr, cc, ok)
	}
	asn, ok := g.Lookup(addr, policy.FieldASN)
	if !ok || asn.ASN != 64501 || asn.Prefix != 25 {
		t.Errorf("Lookup(%s, asn) = %+v, %v; want AS64501 and /25", addr, asn, ok)
	}
}
