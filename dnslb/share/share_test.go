package share

import (
	"net/netip"
	"testing"

	"github.com/dnslb/dnslb/dnslb/config"
)

// TestGroupsFirstByName: an address in several groups is named by the
// first of them in name order, whatever order the map gives; a bad
// address is left out. (The counted and expected shares are checked end
// to end by package dnslb's TestAddressShare.)
func TestGroupsFirstByName(t *testing.T) {
	nc := config.NameConfig{Groups: map[string]config.GroupConfig{
		"west":  {Addresses: []string{"192.0.2.1", "192.0.2.2"}},
		"east":  {Addresses: []string{"192.0.2.2", "2001:db8::1", "not-an-address"}},
		"north": {Addresses: []string{"192.0.2.3", "192.0.2.1"}},
	}}
	for range 20 { // map order varies from run to run
		got := Groups(nc)
		want := map[string]string{"192.0.2.1": "north", "192.0.2.2": "east", "192.0.2.3": "north", "2001:db8::1": "east"}
		if len(got) != len(want) {
			t.Fatalf("Groups = %v, want %v", got, want)
		}
		for a, g := range want {
			if got[netip.MustParseAddr(a)] != g {
				t.Fatalf("Groups = %v, want %v", got, want)
			}
		}
	}
}
