package cluster

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOverridesLastWriterWins: overrides from several nodes, in any
// order and any number of times, leave every node with the same winner
// per target (latest time, then node name), and OnOverride hears only
// the changes of what the node holds.
func TestOverridesLastWriterWins(t *testing.T) {
	in := []wireOverride{
		{Target: "192.0.2.1", State: "drain", By: "b", At: 1000},
		{Target: "192.0.2.1", State: "", By: "c", At: 2000}, // the clear wins
		{Target: "192.0.2.2", State: "down", By: "b", At: 3000},
		{Target: "192.0.2.2", State: "up", By: "d", At: 3000}, // same time: d > b
		{Target: "www.example.org.", State: "drain", By: "c", At: 5000},
		{Target: "www.example.org.", State: "up", By: "b", At: 4000},
	}
	want := map[string]string{"192.0.2.1": "", "192.0.2.2": "up", "www.example.org.": "drain"}
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		c := testCluster("a", "b", "c", "d")
		store := map[string]string{}
		c.cfg.OnOverride = func(ch map[string]string) {
			for k, v := range ch {
				if v == "" {
					delete(store, k)
				} else {
					store[k] = v
				}
			}
		}
		msgs := slices.Clone(in)
		msgs = append(msgs, in[r.IntN(len(in))], in[r.IntN(len(in))])
		r.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
		for i, m := range msgs {
			c.merge(message{Over: []wireOverride{m}})
			if i%2 == 0 {
				c.deliver()
			}
		}
		c.deliver()
		for target, st := range want {
			if got := c.over[target].State; got != st {
				t.Errorf("round %d: %s = %q, want %q", round, target, got, st)
			}
			if store[target] != st {
				t.Errorf("round %d: delivered %s = %q, want %q", round, target, store[target], st)
			}
		}
	}
}

// TestSetOverrideWinsOverAClockAhead: a node's own override wins over the
// one it replaces even when that one's time is ahead of the node's clock;
// one read from a state file loses to any set in the fleet.
func TestSetOverrideWinsOverAClockAhead(t *testing.T) {
	c := testCluster("a", "b")
	ahead := time.Now().Add(time.Hour).UnixMilli()
	c.merge(message{Over: []wireOverride{{Target: "192.0.2.1", State: "down", By: "b", At: ahead}}})
	applied := false
	c.SetOverride("192.0.2.1", "up", func() { applied = true })
	if o := c.over["192.0.2.1"]; !applied || o.State != "up" || o.At <= ahead || o.By != "a" {
		t.Errorf("after SetOverride: %+v applied=%v, want up by a after %d", o, applied, ahead)
	}
	// A restart: the state file's drain, then the fleet's clear.
	d := testCluster("a", "b")
	d.LoadOverrides(map[string]string{"192.0.2.9": "drain"})
	var got map[string]string
	d.cfg.OnOverride = func(ch map[string]string) { got = ch }
	d.merge(message{Over: []wireOverride{{Target: "192.0.2.9", State: "", By: "b", At: 1}}})
	d.deliver()
	if got["192.0.2.9"] != "" || len(got) != 1 {
		t.Errorf("state-file drain then the fleet's clear: delivered %v, want the clear", got)
	}
	if st := d.Overrides(); len(st) != 1 || st[0].By != "b" || st[0].At.IsZero() {
		t.Errorf("Overrides = %+v, want the clear by b", st)
	}
}

// TestDrift: a member whose config or zone differs is named, zone by
// zone, and not once the digests agree.
func TestDrift(t *testing.T) {
	c := testCluster("a", "b", "c")
	zones := []ZoneHash{{Zone: "example.org.", Serial: 5, Digest: "aa"}, {Zone: "example.net.", Serial: 1, Digest: "bb"}}
	c.SetDigests("cfg1", zones)
	b := testCluster("b", "a", "c")
	b.SetDigests("cfg2", []ZoneHash{{Zone: "example.org.", Serial: 6, Digest: "cc"}, {Zone: "example.net.", Serial: 1, Digest: "bb"}})
	c.merge(message{Dig: []wireDigest{*b.digests["b"]}})
	cc := testCluster("c", "a", "b")
	cc.SetDigests("cfg1", zones)
	c.merge(message{Dig: []wireDigest{*cc.digests["c"]}})
	drift := c.Status().Drift
	joined := strings.Join(drift, "\n")
	if len(drift) != 2 || !strings.Contains(joined, "b has config digest cfg2, this node (a) cfg1") ||
		!strings.Contains(joined, "b has zone example.org. at serial 6 digest cc, this node (a) at serial 5 digest aa") {
		t.Errorf("drift = %q, want b's config and example.org. only", drift)
	}
	// An older digest of b changes nothing; a newer one that agrees clears it.
	old := *b.digests["b"]
	b.SetDigests("cfg1", zones)
	c.merge(message{Dig: []wireDigest{*b.digests["b"]}})
	c.merge(message{Dig: []wireDigest{old}})
	if drift := c.Status().Drift; len(drift) != 0 {
		t.Errorf("drift after b agreed = %q, want none", drift)
	}
	for _, m := range c.Status().Members {
		if m.Config != "cfg1" || m.Zones == "" || m.State != "alive" {
			t.Errorf("member %+v, want cfg1, a zones digest, alive", m)
		}
	}
}
