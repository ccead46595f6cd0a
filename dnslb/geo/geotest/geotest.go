// Package geotest writes small MaxMind-format databases for tests: a
// City, an ASN and a flat country database over documentation networks.
package geotest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Test networks: documentation ranges only.
type CityRow struct {
	CIDR, Country, Continent, Subdiv string
	Lat, Lon                         float64
}

var CityRows = []CityRow{
	{"192.0.2.0/25", "DE", "EU", "HE", 50.11, 8.68},       // Frankfurt
	{"192.0.2.128/25", "US", "NA", "CA", 37.77, -122.42},  // San Francisco
	{"198.51.100.0/24", "JP", "AS", "", 35.68, 139.69},    // Tokyo
	{"203.0.113.0/26", "AU", "OC", "NSW", -33.87, 151.21}, // Sydney
	{"2001:db8::/48", "FR", "EU", "", 48.86, 2.35},        // Paris
	{"2001:db8:1::/48", "BR", "SA", "SP", -23.55, -46.63}, // São Paulo
}

var ASNRows = []struct {
	CIDR string
	ASN  uint32
}{
	{"192.0.2.0/24", 64500},
	{"198.51.100.0/25", 64501},
	{"2001:db8::/32", 64502},
}

var FlatRows = []struct{ CIDR, CC string }{
	{"192.0.2.0/24", "NL"},
	{"203.0.113.0/24", "ZA"},
}

func NewTree(t testing.TB, dbType string, ipVersion int) *mmdbwriter.Tree {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		Description:             map[string]string{"en": "dnslb test database, documentation ranges only"},
		BuildEpoch:              1700000000, // fixed, so the fixture is reproducible
		IPVersion:               ipVersion,
		RecordSize:              24,
		IncludeReservedNetworks: true, // the documentation ranges are reserved
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func Insert(t testing.TB, tree *mmdbwriter.Tree, cidr string, v mmdbtype.DataType) {
	t.Helper()
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Insert(n, v); err != nil {
		t.Fatal(err)
	}
}

func WriteTree(t testing.TB, tree *mmdbwriter.Tree, path string) {
	t.Helper()
	var b bytes.Buffer
	if _, err := tree.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// CityDB builds a GeoIP2-City-like database from rows.
func CityDB(t testing.TB, rows []CityRow) *mmdbwriter.Tree {
	tree := NewTree(t, "GeoIP2-City", 6)
	for _, r := range rows {
		m := mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(r.Country)},
			"continent": mmdbtype.Map{"code": mmdbtype.String(r.Continent)},
			"location": mmdbtype.Map{
				"latitude":  mmdbtype.Float64(r.Lat),
				"longitude": mmdbtype.Float64(r.Lon),
			},
		}
		if r.Subdiv != "" {
			m["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String(r.Subdiv)}}
		}
		Insert(t, tree, r.CIDR, m)
	}
	return tree
}

func ASNDB(t testing.TB) *mmdbwriter.Tree {
	tree := NewTree(t, "GeoLite2-ASN", 6)
	for _, r := range ASNRows {
		Insert(t, tree, r.CIDR, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(r.ASN),
			"autonomous_system_organization": mmdbtype.String("Example AS"),
		})
	}
	return tree
}

// FlatDB builds an IPv4-only database in the ip-location-db country format.
func FlatDB(t testing.TB) *mmdbwriter.Tree {
	tree := NewTree(t, "ip-location-db-country", 4)
	for _, r := range FlatRows {
		Insert(t, tree, r.CIDR, mmdbtype.Map{"country_code": mmdbtype.String(r.CC)})
	}
	return tree
}

// Files writes the three test databases into dir and returns their
// paths: city, asn, flat.
func Files(t testing.TB, dir string) (city, asn, flat string) {
	t.Helper()
	city = filepath.Join(dir, "city.mmdb")
	asn = filepath.Join(dir, "asn.mmdb")
	flat = filepath.Join(dir, "country_code.mmdb")
	WriteTree(t, CityDB(t, CityRows), city)
	WriteTree(t, ASNDB(t), asn)
	WriteTree(t, FlatDB(t), flat)
	return city, asn, flat
}
