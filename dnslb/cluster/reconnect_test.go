package cluster

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestRejoinAddrs: the members that died are tried, a few at a time, until
// reconnectFor; those that left (their meta says so) never; a member that
// rejoins is forgotten; the seeds are tried too while this node is alone.
func TestRejoinAddrs(t *testing.T) {
	c := testCluster("a", "b", "c", "d", "e", "f", "g", "h")
	c.cfg.Seeds = []string{"192.0.2.100:7946"}
	node := func(name string, last byte, meta string) *memberlist.Node {
		return &memberlist.Node{Name: name, Addr: net.IPv4(192, 0, 2, last), Port: 7946, Meta: []byte(meta)}
	}
	c.memberEvent(node("b", 2, ""), false)
	c.memberEvent(node("c", 3, leavingMeta), false)
	now := time.Now()
	if got := c.rejoinAddrs(now); !slices.Equal(got, []string{"192.0.2.2:7946"}) {
		t.Errorf("b dead, c left: rejoin %v, want b's address only", got)
	}
	if st := c.Status(); len(st.Gone) != 2 || st.Gone[0].State != "dead" || st.Gone[1].State != "left" {
		t.Errorf("gone = %+v, want b dead and c left", st.Gone)
	}
	if got := c.rejoinAddrs(now.Add(reconnectFor)); len(got) != 0 {
		t.Errorf("after %v: rejoin %v, want b forgotten", reconnectFor, got)
	}
	for i, n := range []string{"d", "e", "f", "g"} {
		c.memberEvent(node(n, byte(4+i), ""), false)
	}
	seen := map[string]bool{}
	for range 50 {
		got := c.rejoinAddrs(now)
		if len(got) != reconnectBatch {
			t.Fatalf("five dead: rejoin %v, want %d of them", got, reconnectBatch)
		}
		for _, a := range got {
			seen[a] = true
		}
	}
	if len(seen) != 5 {
		t.Errorf("five dead: tried %v over 50 rounds, want all five in turn", seen)
	}
	c.memberEvent(node("b", 2, ""), true) // b is back
	for range 20 {
		if got := c.rejoinAddrs(now); slices.Contains(got, "192.0.2.2:7946") {
			t.Fatalf("b rejoined: rejoin %v, want b forgotten", got)
		}
	}
	alone := testCluster("a")
	alone.cfg.Seeds = []string{"192.0.2.100:7946"}
	alone.memberEvent(node("b", 2, ""), false)
	if got := alone.rejoinAddrs(now); !slices.Equal(got, []string{"192.0.2.2:7946", "192.0.2.100:7946"}) {
		t.Errorf("alone: rejoin %v, want b and the seed", got)
	}
}
