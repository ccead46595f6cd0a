package cluster

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/dnslb/dnslb/healthcheck"
)

func key(i int) healthcheck.Key {
	return healthcheck.Key{Check: "web", Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})}
}

// TestProbersMoveOnlyTheLeaversTargets: rendezvous hashing gives each
// target n probers, spreads them, and a member leaving changes the set of
// only the targets it probed.
func TestProbersMoveOnlyTheLeaversTargets(t *testing.T) {
	members := []string{"a", "b", "c", "d", "e"}
	count := map[string]int{}
	for i := 1; i <= 200; i++ {
		k := key(i % 250)
		p := Probers(k, members, 3)
		if len(p) != 3 {
			t.Fatalf("Probers(%v) = %v, want 3", k, p)
		}
		for _, m := range p {
			count[m]++
		}
		rest := slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == "c" })
		q := Probers(k, rest, 3)
		if !slices.Contains(p, "c") && !slices.Equal(p, q) {
			t.Errorf("%v: probers %v became %v when c (not one of them) left", k, p, q)
		}
		if slices.Contains(p, "c") {
			for _, m := range p {
				if m != "c" && !slices.Contains(q, m) {
					t.Errorf("%v: prober %s dropped when c left (%v to %v)", k, m, p, q)
				}
			}
		}
	}
	// 600 prober slots over 5 members: 120 each, within 25%.
	for _, m := range members {
		if c := count[m]; c < 90 || c > 150 {
			t.Errorf("member %s probes %d targets, want 120±30", m, c)
		}
	}
	if got := Probers(key(1), []string{"a"}, 3); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Probers with one member = %v, want [a]", got)
	}
}

func testCluster(name string, members ...string) *Cluster {
	c := New(Config{Name: name, Bind: netip.MustParseAddr("127.0.0.1"), Port: 7946, Probers: 3})
	for _, m := range members {
		c.memberEvent(&memberlist.Node{Name: m}, true)
	}
	c.SetTargets([]healthcheck.Target{{Key: key(1), Config: healthcheck.Config{Interval: time.Second}}})
	return c
}

// TestMergeIdempotentCommutative: the same observations in any order, any
// number of times, leave the same state: the highest sequence wins.
func TestMergeIdempotentCommutative(t *testing.T) {
	var in []wireObs
	for n, node := range []string{"b", "c", "d"} {
		for seq := uint64(1); seq <= 5; seq++ {
			st := healthcheck.Up
			if (seq+uint64(n))%2 == 0 {
				st = healthcheck.Down
			}
			in = append(in, wire(node, key(1), &observation{State: st, Since: time.UnixMilli(int64(seq)), Seq: seq}))
		}
	}
	want := ""
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		c := testCluster("a", "b", "c", "d")
		msgs := slices.Clone(in)
		msgs = append(msgs, in[r.IntN(len(in))], in[r.IntN(len(in))]) // duplicates
		r.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
		for _, m := range msgs {
			c.merge(message{Obs: []wireObs{m}})
		}
		got := ""
		for _, node := range []string{"b", "c", "d"} {
			o := c.obs[node][key(1)]
			got += fmt.Sprintf("%s:%d:%v ", node, o.Seq, o.State)
		}
		if round == 0 {
			want = got
			if want != "b:5:up c:5:down d:5:up " {
				t.Fatalf("merged = %q, want the seq 5 observations", want)
			}
		}
		if got != want {
			t.Errorf("round %d: merged = %q, want %q", round, got, want)
		}
	}
}

// TestVerdict: quorum of the probers' fresh observations; stale ones are
// absent; too few members and the node's own view decides.
func TestVerdict(t *testing.T) {
	c := testCluster("a", "b", "c")
	now := time.Now()
	set := func(node string, st healthcheck.State, age time.Duration) {
		c.obs[node] = map[healthcheck.Key]*observation{key(1): {State: st, Seq: 1, heard: now.Add(-age)}}
	}
	members := c.memberNames()
	set("a", healthcheck.Down, 0)
	set("b", healthcheck.Up, 0)
	set("c", healthcheck.Up, 0)
	if v := c.verdict(key(1), now, members); v != healthcheck.Up {
		t.Errorf("a down, b and c up: verdict %v, want up (a outvoted)", v)
	}
	set("c", healthcheck.Up, time.Minute) // stale
	c.verdicts[key(1)] = healthcheck.Down
	if v := c.verdict(key(1), now, members); v != healthcheck.Down {
		t.Errorf("a down, b up, c stale, was down: verdict %v, want down (held: no quorum either way)", v)
	}
	set("b", healthcheck.Down, 0)
	if v := c.verdict(key(1), now, members); v != healthcheck.Down {
		t.Errorf("a and b down: verdict %v, want down", v)
	}
	alone := testCluster("a")
	alone.obs["a"] = map[healthcheck.Key]*observation{key(1): {State: healthcheck.Down, Seq: 1, heard: now}}
	if !alone.alone() || alone.verdict(key(1), now, alone.memberNames()) != healthcheck.Down {
		t.Errorf("one member: alone = %v, want its own view to decide", alone.alone())
	}
	if !alone.Local(key(1)) {
		t.Error("one member: Local = false, want every target local")
	}
}

// TestRelay: an observation that is news is gossiped on (memberlist does
// not relay broadcasts itself), once; an old or repeated one is not, nor
// what a push/pull brings.
func TestRelay(t *testing.T) {
	c := testCluster("a", "b", "c")
	obs := func(seq uint64) []byte {
		return encode(message{Obs: []wireObs{wire("b", key(1), &observation{State: healthcheck.Up, Seq: seq})}})
	}
	d := (*delegate)(c)
	d.NotifyMsg(obs(2))
	if n := c.queue.NumQueued(); n != 1 {
		t.Fatalf("after b's news: %d broadcasts queued, want 1 (the relay)", n)
	}
	d.NotifyMsg(obs(2))
	d.NotifyMsg(obs(1))
	if n := c.queue.NumQueued(); n != 1 {
		t.Errorf("after a repeat and an older one: %d broadcasts queued, want 1", n)
	}
	d.NotifyMsg(obs(3)) // replaces the queued relay of seq 2
	if n := c.queue.NumQueued(); n != 1 {
		t.Errorf("after b's next: %d broadcasts queued, want 1 (the newer relay)", n)
	}
	d.MergeRemoteState(obs(4), false)
	if n := c.queue.NumQueued(); n != 1 || c.obs["b"][key(1)].Seq != 4 {
		t.Errorf("after a push/pull: %d queued, seq %d; want 1 queued (not relayed), seq 4 merged", n, c.obs["b"][key(1)].Seq)
	}
}
