package policy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/config"
)

// TestCheckPolicy: without the zone's addresses every other value is
// still checked, and any address is taken for one of the name's.
func TestCheckPolicy(t *testing.T) {
	cfg := config.NameConfig{
		Select: "failover", Pick: "weigthed", WhenAllDown: "fail",
		Order: []string{"primary", "backup"},
		Groups: map[string]config.GroupConfig{
			"primary": {Addresses: []string{"192.0.2.1", "192.0.2.300"}},
			"prmary2": {Addresses: []string{"198.51.100.7"}, Weight: 5000},
		},
		Weights: map[string]int{"203.0.113.9": 3},
	}
	const key = `name."www.example.org".`
	want := []string{
		key + `groups.primary.addresses[1]: "192.0.2.300" is not an IP address`,
		key + `groups.prmary2.weight: weight 5000 out of range 1..1000`,
		key + `order[1]: unknown group "backup"`,
		key + `pick: "weigthed" is not one of round-robin, random, weighted, sticky, least-loaded, fastest (did you mean weighted?)`,
		key + `when_all_down: "fail" is not one of serve-all, servfail, nodata, group:<name> (did you mean servfail?)`,
	}
	var got []string
	for _, e := range CheckPolicy("www.example.org.", cfg) {
		got = append(got, e.Error())
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("CheckPolicy:\n%s\nwant:\n%s", g, w)
	}
	// With the zone, the addresses are checked too, each named.
	_, errs := CompilePolicy("www.example.org.", cfg, []netip.Addr{netip.MustParseAddr("192.0.2.1")})
	found := false
	for _, e := range errs {
		found = found || e.Error() == key+`weights."203.0.113.9": address 203.0.113.9 is not an A/AAAA record of www.example.org.`
	}
	if !found {
		t.Errorf("CompilePolicy errors do not name 203.0.113.9: %v", errs)
	}
}

func TestGroupSuggestion(t *testing.T) {
	cfg := config.NameConfig{Select: "failover", Order: []string{"primray"}, WhenAllDown: "group:backpu",
		Groups: map[string]config.GroupConfig{
			"primary": {Addresses: []string{"192.0.2.1"}},
			"backup":  {Addresses: []string{"192.0.2.1"}},
		}}
	_, errs := CompilePolicy("www.example.org.", cfg, []netip.Addr{netip.MustParseAddr("192.0.2.1")})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := `name."www.example.org".order[0]: unknown group "primray" (did you mean primary?)` + "\n" +
		`name."www.example.org".when_all_down: unknown group "backpu" (did you mean backup?)`
	if g := strings.Join(got, "\n"); g != want {
		t.Errorf("errors:\n%s\nwant:\n%s", g, want)
	}
}
