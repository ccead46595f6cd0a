package policy_test

import (
	"fmt"
	"github.com/dnslb/dnslb/dnslb/policy"
	"math"
	"net/netip"
	"slices"
	"testing"

	"github.com/dnslb/dnslb/dnslb/config"
)

func TestPickRoundRobin(t *testing.T) {
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3")
	p := mustCompile(t, config.NameConfig{}, zone)
	out := make([]netip.Addr, 0, 3)
	var firsts []netip.Addr
	for range 6 {
		d := p.Select(query("198.51.100.1", policy.FamilyV4), policy.AllUp{}, nil, seeded(), out)
		if len(d.Addrs) != 3 {
			t.Fatalf("Select = %v, want 3 addresses", d.Addrs)
		}
		firsts = append(firsts, d.Addrs[0])
	}
	if want := append(slices.Clone(zone), zone...); !slices.Equal(firsts, want) {
		t.Errorf("first addresses = %v, want %v", firsts, want)
	}
	// Down addresses are skipped, the rotation goes on over the rest.
	d := p.Select(query("198.51.100.1", policy.FamilyV4), down("192.0.2.2"), nil, seeded(), out)
	if len(d.Addrs) != 2 || slices.Contains(d.Addrs, netip.MustParseAddr("192.0.2.2")) {
		t.Errorf("Select(192.0.2.2 down) = %v, want the 2 others", d.Addrs)
	}
}

func TestPickRandom(t *testing.T) {
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4")
	p := mustCompile(t, config.NameConfig{Pick: "random", MaxAnswers: 1}, zone)
	r := seeded()
	counts := map[netip.Addr]int{}
	const n = 40000
	for range n {
		counts[p.Select(query("198.51.100.1", policy.FamilyV4), policy.AllUp{}, nil, r, nil).Addrs[0]]++
	}
	for _, a := range zone {
		if share := float64(counts[a]) / n; math.Abs(share-0.25) > 0.01 {
			t.Errorf("random share of %s = %.3f, want 0.25 ± 0.01", a, share)
		}
	}
}

// weightShares draws the first answer n times and returns each address's share.
func weightShares(p *policy.Policy, q *policy.Query, health policy.Health, n int) map[netip.Addr]float64 {
	r := seeded()
	out := make([]netip.Addr, 0, p.NumAddrs())
	counts := map[netip.Addr]int{}
	for range n {
		counts[p.Select(q, health, nil, r, out).Addrs[0]]++
	}
	shares := map[netip.Addr]float64{}
	for a, c := range counts {
		shares[a] = float64(c) / float64(n)
	}
	return shares
}

func TestPickWeighted(t *testing.T) {
	const n, tol = 100000, 0.01 // each share within ±1 percentage point
	tests := []struct {
		name   string
		cfg    config.NameConfig
		health policy.Health
		want   map[string]float64
	}{
		{"90/9/1 per address", config.NameConfig{Pick: "weighted", Weights: map[string]int{"192.0.2.1": 90, "192.0.2.2": 9, "192.0.2.3": 1}},
			policy.AllUp{}, map[string]float64{"192.0.2.1": 0.9, "192.0.2.2": 0.09, "192.0.2.3": 0.01}},
		{"1/2/7 with a default weight", config.NameConfig{Pick: "weighted", Weights: map[string]int{"192.0.2.2": 2, "192.0.2.3": 7}},
			policy.AllUp{}, map[string]float64{"192.0.2.1": 0.1, "192.0.2.2": 0.2, "192.0.2.3": 0.7}},
		{"group weights", config.NameConfig{Pick: "weighted", Groups: map[string]config.GroupConfig{
			"eu": {Addresses: []string{"192.0.2.1"}, Weight: 90},
			"us": {Addresses: []string{"192.0.2.2", "192.0.2.3"}, Weight: 5}}},
			policy.AllUp{}, map[string]float64{"192.0.2.1": 0.9, "192.0.2.2": 0.05, "192.0.2.3": 0.05}},
		{"down address takes no share", config.NameConfig{Pick: "weighted", Weights: map[string]int{"192.0.2.1": 90, "192.0.2.2": 5, "192.0.2.3": 5}},
			down("192.0.2.1"), map[string]float64{"192.0.2.2": 0.5, "192.0.2.3": 0.5}},
	}
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.cfg, zone)
			got := weightShares(p, query("198.51.100.1", policy.FamilyV4), tc.health, n)
			for a, want := range tc.want {
				if share := got[netip.MustParseAddr(a)]; math.Abs(share-want) > tol {
					t.Errorf("share of %s = %.4f, want %.2f ± %.2f", a, share, want, tol)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("shares %v, want only %v", got, tc.want)
			}
		})
	}
}

// TestPickWeightedAll checks that a full weighted answer holds every healthy
// address once.
func TestPickWeightedAll(t *testing.T) {
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4")
	p := mustCompile(t, config.NameConfig{Pick: "weighted", Weights: map[string]int{"192.0.2.1": 1000}}, zone)
	r := seeded()
	for range 100 {
		d := p.Select(query("198.51.100.1", policy.FamilyV4), policy.AllUp{}, nil, r, nil)
		got := slices.Clone(d.Addrs)
		slices.SortFunc(got, netip.Addr.Compare)
		if !slices.Equal(got, zone) {
			t.Fatalf("Select = %v, want a permutation of %v", d.Addrs, zone)
		}
	}
}

// stickyClient returns an address in the i-th /56 of 2001:db8::/32 (the
// IPv4 documentation ranges have too few /24s for a distribution test).
// Different hosts of one /56 must stick together.
func stickyClient(i int, host byte) netip.Addr {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[4], b[5], b[6] = byte(i>>16), byte(i>>8), byte(i)
	b[15] = host
	return netip.AddrFrom16(b)
}

func TestPickSticky(t *testing.T) {
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4")
	p := mustCompile(t, config.NameConfig{Pick: "sticky", MaxAnswers: 1}, zone)
	const n = 20000
	r := seeded()
	before := make([]netip.Addr, n)
	counts := map[netip.Addr]int{}
	for i := range n {
		d := p.Select(&policy.Query{Client: stickyClient(i, 1), Family: policy.FamilyV4}, policy.AllUp{}, nil, r, nil)
		before[i] = d.Addrs[0]
		counts[d.Addrs[0]]++
		if d.Scope != 56 {
			t.Fatalf("Select(%s).Scope = %d, want 56", stickyClient(i, 1), d.Scope)
		}
		if i%100 == 0 {
			if d2 := p.Select(&policy.Query{Client: stickyClient(i, 200), Family: policy.FamilyV4}, policy.AllUp{}, nil, r, nil); d2.Addrs[0] != d.Addrs[0] {
				t.Errorf("%s and %s in the same /56 got %v and %v", stickyClient(i, 1), stickyClient(i, 200), d.Addrs, d2.Addrs)
			}
		}
	}
	// Even spread: each of the 4 addresses gets 25% ± 2 points of the subnets.
	for _, a := range zone {
		if share := float64(counts[a]) / n; math.Abs(share-0.25) > 0.02 {
			t.Errorf("sticky share of %s = %.3f, want 0.25 ± 0.02", a, share)
		}
	}
	// Take one address down: only its subnets move, and they spread over
	// the other three.
	dead := zone[2]
	moved := map[netip.Addr]int{}
	for i := range n {
		a := p.Select(&policy.Query{Client: stickyClient(i, 1), Family: policy.FamilyV4}, down(dead.String()), nil, r, nil).Addrs[0]
		switch {
		case before[i] != dead && a != before[i]:
			t.Fatalf("subnet %d moved from %s to %s though %s is up", i, before[i], a, before[i])
		case before[i] == dead:
			moved[a]++
		}
	}
	for _, a := range zone {
		if a == dead {
			continue
		}
		if share := float64(moved[a]) / float64(counts[dead]); math.Abs(share-1.0/3) > 0.05 {
			t.Errorf("share of %s among moved subnets = %.3f, want 0.33 ± 0.05", a, share)
		}
	}
}

func TestStickyScope(t *testing.T) {
	p := mustCompile(t, config.NameConfig{Pick: "sticky"}, addrs("192.0.2.1", "2001:db8::1"))
	tests := []struct {
		q    policy.Query
		want int
	}{
		{policy.Query{Client: netip.MustParseAddr("198.51.100.7"), Family: policy.FamilyV4}, 24},
		{policy.Query{Client: netip.MustParseAddr("198.51.100.0"), ECS: true, SourcePrefix: 20, Family: policy.FamilyV4}, 20},
		{policy.Query{Client: netip.MustParseAddr("198.51.100.7"), ECS: true, SourcePrefix: 32, Family: policy.FamilyV4}, 24},
		{policy.Query{Client: netip.MustParseAddr("2001:db8:1:2::1"), Family: policy.FamilyV6}, 56},
		{policy.Query{Client: netip.MustParseAddr("2001:db8::"), ECS: true, SourcePrefix: 48, Family: policy.FamilyV6}, 48},
		{policy.Query{Client: netip.MustParseAddr("0.0.0.0"), ECS: true, SourcePrefix: 0, Family: policy.FamilyV4}, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.q.Client, tc.q.SourcePrefix), func(t *testing.T) {
			if d := p.Select(&tc.q, policy.AllUp{}, nil, seeded(), nil); d.Scope != tc.want {
				t.Errorf("Select(%v).Scope = %d, want %d", tc.q, d.Scope, tc.want)
			}
		})
	}
}

func benchPick(b *testing.B, cfg config.NameConfig) {
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.7", "192.0.2.8")
	p := mustCompile(b, cfg, zone)
	r := seeded()
	out := make([]netip.Addr, 0, p.NumAddrs())
	q := query("198.51.100.1", policy.FamilyV4)
	b.ReportAllocs()
	for b.Loop() {
		p.Select(q, policy.AllUp{}, nil, r, out)
	}
}

func BenchmarkPickRoundRobin(b *testing.B) { benchPick(b, config.NameConfig{MaxAnswers: 2}) }
func BenchmarkPickRandom(b *testing.B) {
	benchPick(b, config.NameConfig{Pick: "random", MaxAnswers: 2})
}
func BenchmarkPickWeighted(b *testing.B) {
	benchPick(b, config.NameConfig{Pick: "weighted", MaxAnswers: 2, Weights: map[string]int{"192.0.2.1": 90, "192.0.2.2": 10}})
}
func BenchmarkPickSticky(b *testing.B) {
	benchPick(b, config.NameConfig{Pick: "sticky", MaxAnswers: 2})
}
