package dnslb

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layers ranks the module's packages: a package imports only packages of
// a lower rank, so the arrows of the import graph all point down
// (docs/ARCHITECTURE.md draws it). Test-only helpers (geo/geotest) sit
// beside what they serve.
var layers = map[string]int{
	"zones/zonetext":       0,
	"healthcheck":          0,
	"geodata":              0,
	"example":              0,
	"dnslb/cookie":         0,
	"dnslb/dnssec":         0,
	"dnslb/admin/pagetest": 0,
	"zones":                1,
	"dnslb/config":         1,
	"dnslb/wire":           1,
	"dnslb/watch":          1,
	"dnslb/policy":         2,
	"dnslb/zonefile":       2,
	"dnslb/geo":            3,
	"dnslb/geo/geotest":    3,
	"dnslb/state":          3,
	"dnslb/rrl":            3,
	"dnslb/cluster":        3,
	"dnslb/answer":         4,
	"dnslb/metrics":        4,
	"dnslb/share":          4,
	"dnslb/serve":          5,
	"dnslb/admin":          5,
	"dnslb/transfer":       5,
	"dnslb/sign":           5,
	"dnslb":                6,
	"cmd/dnslb":            7,
}

// TestImportDirection fails when a package imports one of its own rank or
// higher, when a package of the module is missing from layers, or when a
// library is imported outside the one package that owns it.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/dnslb/dnslb/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// Each library in the one package (or packages) allowed to import it.
	owners := map[string][]string{
		"github.com/oschwald/maxminddb-golang/v2":                 {"dnslb/geo"},
		"github.com/hashicorp/go-memdb":                           {"dnslb/state"},
		"github.com/BurntSushi/toml":                              {"dnslb/config"},
		"github.com/hashicorp/memberlist":                         {"dnslb/cluster"},
		"github.com/fsnotify/fsnotify":                            {"dnslb/watch"},
		"github.com/prometheus/client_golang/prometheus":          {"dnslb/metrics"},
		"github.com/prometheus/client_golang/prometheus/promhttp": {"dnslb/metrics"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], mod)
		if !ok || strings.HasPrefix(pkg, "bench/") {
			continue // the benchmark tools are programs of their own
		}
		rank, ok := layers[pkg]
		if !ok {
			t.Errorf("package %s has no rank in layers: place it", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if own, ok := owners[imp]; ok && !slices.Contains(own, pkg) {
				t.Errorf("%s imports %s, which only %v may import", pkg, imp, own)
			}
			if pkg == "dnslb/policy" && strings.HasPrefix(imp, "github.com/miekg/dns") {
				t.Errorf("dnslb/policy imports %s: policies decide over addresses, not DNS messages", imp)
			}
			dep, ok := strings.CutPrefix(imp, mod)
			if !ok {
				continue
			}
			if r, known := layers[dep]; known && r >= rank && !(pkg == "dnslb/geo/geotest" || dep == "dnslb/geo/geotest") {
				t.Errorf("%s (rank %d) imports %s (rank %d): imports must point down", pkg, rank, dep, r)
			}
		}
	}
}
