package example_test

import (
	"testing"

	"github.com/dnslb/dnslb/dnslb/config"
)

// TestShortTTLs: the example's weighted and failover names set a short ttl
// and a shorter degraded_ttl. With the zone's 300 a resolver keeps handing
// out a drained address for five minutes, and people copy the example.
func TestShortTTLs(t *testing.T) {
	cfg, err := config.Load("dnslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for owner, nc := range cfg.Names {
		if nc.Pick != "weighted" && nc.Select != "failover" {
			continue
		}
		n++
		if nc.TTL == nil || *nc.TTL > 60 {
			t.Errorf("%s: ttl %v, want at most 60", owner, nc.TTL)
		}
		if nc.DegradedTTL == nil || nc.TTL != nil && *nc.DegradedTTL >= *nc.TTL {
			t.Errorf("%s: degraded_ttl %v, want one below ttl", owner, nc.DegradedTTL)
		}
	}
	if n < 2 {
		t.Errorf("%d weighted or failover names in the example, want both kinds", n)
	}
}
