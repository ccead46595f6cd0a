// Command gengeo writes a world-like GeoIP2-City database for the bench's
// geo-subnets and geo-sources scenarios, deterministically (fixed seed and
// build epoch: the same flags give the same bytes). The data is made up:
// it only has the shape of a real database, so that the load generator's
// /24s, spread over the whole IPv4 unicast space, hit many networks of
// many countries instead of the four documentation networks of
// dnslb/testdata/geo/city.mmdb.
//
// Every /16 outside 0/8, 10/8, 127/8 and 224/3 becomes one network, four
// /18s or sixteen /20s; each /8 has a home country that most of its
// networks get, the rest are drawn from about 40 countries with weights
// loosely like real address allocations. 127.1.0.0/16 is split into /29s
// with countries too, so that geo-sources' 127.1.x.y clients (bench/ecsload
// -sources) land in different networks; 127.0.0.0/16 stays out, so the
// bench's readiness checks from 127.0.0.1 are unaffected. The documentation
// networks of the test database are kept with their countries.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

type country struct {
	iso, continent string
	weight         int
}

// Weights: roughly the share of IPv4 space, rounded; enough spread that
// every rule of the bench's geo map (EU, US, JP, OC, default) is hit.
var countries = []country{
	{"US", "NA", 300}, {"CN", "AS", 90}, {"JP", "AS", 50}, {"DE", "EU", 30}, {"GB", "EU", 30},
	{"KR", "AS", 28}, {"BR", "SA", 22}, {"FR", "EU", 22}, {"CA", "NA", 18}, {"IT", "EU", 14},
	{"NL", "EU", 12}, {"AU", "OC", 12}, {"RU", "EU", 12}, {"IN", "AS", 10}, {"TW", "AS", 9},
	{"ES", "EU", 8}, {"SE", "EU", 7}, {"MX", "NA", 7}, {"ZA", "AF", 6}, {"EG", "AF", 5},
	{"PL", "EU", 5}, {"ID", "AS", 5}, {"AR", "SA", 5}, {"VN", "AS", 4}, {"TR", "EU", 4},
	{"CH", "EU", 4}, {"CO", "SA", 3}, {"TH", "AS", 3}, {"BE", "EU", 3}, {"NO", "EU", 3},
	{"FI", "EU", 3}, {"AT", "EU", 3}, {"DK", "EU", 3}, {"SG", "AS", 3}, {"NZ", "OC", 3},
	{"CL", "SA", 2}, {"NG", "AF", 2}, {"KE", "AF", 2}, {"IL", "AS", 2}, {"HK", "AS", 2},
}

var docNets = []struct{ cidr, iso, continent string }{
	{"192.0.2.0/25", "DE", "EU"}, {"192.0.2.128/25", "US", "NA"},
	{"198.51.100.0/24", "JP", "AS"}, {"203.0.113.0/26", "AU", "OC"},
}

func main() {
	out := flag.String("out", "", "mmdb file to write")
	seed := flag.Uint64("seed", 12, "random seed")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: gengeo -out FILE [-seed N]")
		os.Exit(2)
	}
	n, err := write(*out, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gengeo:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d networks\n", *out, n)
}

func write(path string, seed uint64) (int, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "GeoIP2-City",
		Description:             map[string]string{"en": "dnslb bench database, made-up world-like data"},
		BuildEpoch:              1700000000,
		IPVersion:               6,
		RecordSize:              28,
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e6f6c62))
	total := 0
	for _, c := range countries {
		total += c.weight
	}
	draw := func() int {
		x := rng.IntN(total)
		for i, c := range countries {
			if x -= c.weight; x < 0 {
				return i
			}
		}
		return 0
	}
	// One record value per country, shared by all its networks.
	vals := make([]mmdbtype.Map, len(countries))
	for i, c := range countries {
		vals[i] = mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(c.iso)},
			"continent": mmdbtype.Map{"code": mmdbtype.String(c.continent)},
		}
	}
	n := 0
	insert := func(a, b, c, d byte, bits int, ci int) error {
		ipn := &net.IPNet{IP: net.IPv4(a, b, c, d).To4(), Mask: net.CIDRMask(bits, 32)}
		n++
		return tree.Insert(ipn, vals[ci])
	}
	for a := 1; a < 224; a++ {
		if a == 10 || a == 127 {
			continue
		}
		home := draw()
		pick := func() int {
			if rng.IntN(10) < 7 {
				return home
			}
			return draw()
		}
		for b := range 256 {
			switch r := rng.IntN(10); {
			case r < 6:
				err = insert(byte(a), byte(b), 0, 0, 16, pick())
			case r < 9:
				for k := range 4 {
					if err = insert(byte(a), byte(b), byte(k*64), 0, 18, pick()); err != nil {
						break
					}
				}
			default:
				for k := range 16 {
					if err = insert(byte(a), byte(b), byte(k*16), 0, 20, pick()); err != nil {
						break
					}
				}
			}
			if err != nil {
				return 0, err
			}
		}
	}
	for c := range 256 {
		for d := 0; d < 256; d += 8 {
			if err := insert(127, 1, byte(c), byte(d), 29, draw()); err != nil {
				return 0, err
			}
		}
	}
	for _, dn := range docNets {
		_, ipn, _ := net.ParseCIDR(dn.cidr)
		v := mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(dn.iso)},
			"continent": mmdbtype.Map{"code": mmdbtype.String(dn.continent)},
		}
		if err := tree.Insert(ipn, v); err != nil {
			return 0, err
		}
		n++
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		return 0, err
	}
	return n, os.WriteFile(path, buf.Bytes(), 0o644)
}
