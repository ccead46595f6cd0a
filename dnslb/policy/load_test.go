package policy_test

import (
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/policy"
)

// loads is a Loads health for tests: every address up, unless shed.
type loads map[netip.Addr]policy.Load

func (l loads) Up(a netip.Addr) bool { return !l[a].Shed }
func (l loads) Load(a netip.Addr) (policy.Load, bool) {
	x, ok := l[a]
	return x, ok
}
func (l loads) AnyLoad() bool { return len(l) > 0 }
func (l loads) Unshed() policy.Health {
	for _, x := range l {
		if x.Shed {
			return policy.AllUp{}
		}
	}
	return nil
}

func float(f float64) *float64 { return &f }

// rendezvousFirsts answers n client subnets (ECS /56s) and returns each
// one's first address.
func rendezvousFirsts(p *policy.Policy, health policy.Health, n int) []netip.Addr {
	out := make([]netip.Addr, 0, p.NumAddrs())
	firsts := make([]netip.Addr, n)
	for i := range n {
		q := &policy.Query{Client: stickyClient(i, 1), ECS: true, SourcePrefix: 56, Family: policy.FamilyV6}
		firsts[i] = p.Select(q, health, nil, nil, out).Addrs[0]
	}
	return firsts
}

func shareOf(firsts []netip.Addr) map[netip.Addr]float64 {
	s := map[netip.Addr]float64{}
	for _, a := range firsts {
		s[a] += 1 / float64(len(firsts))
	}
	return s
}

// TestLeastLoadedShares: reported weights and capacity left set each
// address's share within ±3 points over 50,000 subnets, and a 10% change
// of one weight keeps at least 95% of the subnets where they were.
func TestLeastLoadedShares(t *testing.T) {
	zone := addrs("2001:db8::1", "2001:db8::2", "2001:db8::3")
	p := mustCompile(t, config.NameConfig{Pick: "least-loaded"}, zone)
	const n = 50000
	h := loads{
		zone[0]: {HasWeight: true, Weight: 50},
		zone[1]: {HasWeight: true, Weight: 30},
		zone[2]: {HasShare: true, Share: 0.8}, // static weight 1 × 0.2 left
	}
	// Weight 0.2 against 80: the share is about 0.25%.
	want := map[netip.Addr]float64{zone[0]: 50 / 80.2, zone[1]: 30 / 80.2, zone[2]: 0.2 / 80.2}
	before := rendezvousFirsts(p, h, n)
	for a, sh := range shareOf(before) {
		if math.Abs(sh-want[a]) > 0.03 {
			t.Errorf("share of %s = %.3f, want %.3f ± 0.03", a, sh, want[a])
		}
	}
	h[zone[1]] = policy.Load{HasWeight: true, Weight: 33}
	after := rendezvousFirsts(p, h, n)
	kept := 0
	for i := range before {
		if before[i] == after[i] {
			kept++
		}
	}
	if frac := float64(kept) / n; frac < 0.95 {
		t.Errorf("after a 10%% weight change %.3f of subnets kept their address, want >= 0.95", frac)
	}
	// Moved subnets only go to the address whose weight grew.
	for i := range before {
		if before[i] != after[i] && after[i] != zone[1] {
			t.Fatalf("subnet %d moved from %s to %s, want only moves to %s", i, before[i], after[i], zone[1])
		}
	}
}

// TestWatermarks: full weight below low, less in proportion between,
// shed at high and back only below high minus the margin; a name whose
// every address is shed keeps the least loaded.
func TestWatermarks(t *testing.T) {
	zone := addrs("2001:db8::1", "2001:db8::2")
	p := mustCompile(t, config.NameConfig{Pick: "least-loaded", LowWatermark: float(0.5), HighWatermark: float(0.9)}, zone)
	for _, tc := range []struct {
		was   bool
		share float64
		want  bool
	}{
		{false, 0.89, false}, {false, 0.9, true}, {true, 0.86, true}, {true, 0.849, false},
	} {
		if got := p.Shed(tc.was, tc.share); got != tc.want {
			t.Errorf("Shed(%v, %v) = %v, want %v", tc.was, tc.share, got, tc.want)
		}
	}
	// 0.2 below low: weight 0.8; 0.7 between: 0.3 × (0.9-0.7)/(0.4) = 0.15.
	h := loads{zone[0]: {HasShare: true, Share: 0.2}, zone[1]: {HasShare: true, Share: 0.7}}
	sh := shareOf(rendezvousFirsts(p, h, 20000))
	if want := 0.8 / 0.95; math.Abs(sh[zone[0]]-want) > 0.03 {
		t.Errorf("share of %s = %.3f, want %.3f ± 0.03", zone[0], sh[zone[0]], want)
	}
	h = loads{zone[0]: {HasShare: true, Share: 0.95, Shed: true}, zone[1]: {HasShare: true, Share: 0.7}}
	if sh := shareOf(rendezvousFirsts(p, h, 2000)); sh[zone[0]] != 0 {
		t.Errorf("shed %s got share %.3f, want 0", zone[0], sh[zone[0]])
	}
	h = loads{zone[0]: {HasShare: true, Share: 0.95, Shed: true}, zone[1]: {HasShare: true, Share: 0.99, Shed: true}}
	d := p.Select(query("2001:db8:1::1", policy.FamilyV6), h, nil, nil, nil)
	if d.AllDown || len(d.Addrs) != 1 || d.Addrs[0] != zone[0] {
		t.Errorf("Select(all shed) = %v (all down %v), want [%s], the least loaded", d.Addrs, d.AllDown, zone[0])
	}
}

// TestFastest: the addresses within the band of the fastest share the
// answers evenly; the slow one gets none, and comes after them.
func TestFastest(t *testing.T) {
	zone := addrs("2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4")
	p := mustCompile(t, config.NameConfig{Pick: "fastest"}, zone)
	ms := time.Millisecond
	h := loads{zone[0]: {RTT: 10 * ms}, zone[1]: {RTT: 11 * ms}, zone[2]: {RTT: 30 * ms}, zone[3]: {RTT: 90 * ms}}
	sh := shareOf(rendezvousFirsts(p, h, 20000))
	for _, a := range zone[:2] {
		if math.Abs(sh[a]-0.5) > 0.03 {
			t.Errorf("share of %s = %.3f, want 0.5 ± 0.03", a, sh[a])
		}
	}
	if sh[zone[2]]+sh[zone[3]] != 0 {
		t.Errorf("slow addresses got %.3f, %.3f, want 0", sh[zone[2]], sh[zone[3]])
	}
	d := p.Select(query("2001:db8:1::1", policy.FamilyV6), h, nil, nil, nil)
	if len(d.Addrs) != 4 || d.Addrs[2] != zone[2] || d.Addrs[3] != zone[3] {
		t.Errorf("Select = %v, want the band first, then %s, %s", d.Addrs, zone[2], zone[3])
	}
	// A wider band takes in the 30ms one.
	p = mustCompile(t, config.NameConfig{Pick: "fastest", Tolerance: float(2)}, zone)
	if sh := shareOf(rendezvousFirsts(p, h, 20000)); math.Abs(sh[zone[2]]-1.0/3) > 0.03 {
		t.Errorf("tolerance 2: share of %s = %.3f, want 0.333 ± 0.03", zone[2], sh[zone[2]])
	}
}

func BenchmarkPickLeastLoaded(b *testing.B) {
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.7", "192.0.2.8")
	p := mustCompile(b, config.NameConfig{Pick: "least-loaded", MaxAnswers: 2, LowWatermark: float(0.5), HighWatermark: float(0.9)}, zone)
	h := loads{}
	for i, a := range zone {
		h[a] = policy.Load{HasShare: true, Share: float64(i) / 10}
	}
	out := make([]netip.Addr, 0, p.NumAddrs())
	q := query("198.51.100.1", policy.FamilyV4)
	b.ReportAllocs()
	for b.Loop() {
		p.Select(q, h, nil, nil, out)
	}
}

func BenchmarkPickFastest(b *testing.B) {
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.7", "192.0.2.8")
	p := mustCompile(b, config.NameConfig{Pick: "fastest", MaxAnswers: 2}, zone)
	h := loads{}
	for i, a := range zone {
		h[a] = policy.Load{RTT: time.Duration(i+1) * time.Millisecond}
	}
	out := make([]netip.Addr, 0, p.NumAddrs())
	q := query("198.51.100.1", policy.FamilyV4)
	b.ReportAllocs()
	for b.Loop() {
		p.Select(q, h, nil, nil, out)
	}
}

// TestExplainLoads: explain shows each address's smoothed load, its
// watermark state and the weight the pick used.
func TestExplainLoads(t *testing.T) {
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3")
	p := mustCompile(t, config.NameConfig{Pick: "least-loaded", LowWatermark: float(0.5), HighWatermark: float(0.8)}, zone)
	h := loads{
		zone[0]: {HasShare: true, Share: 0.2},
		zone[1]: {HasShare: true, Share: 0.65},
		zone[2]: {HasShare: true, Share: 0.9, Shed: true},
	}
	got := p.Explain(query("192.0.2.200", policy.FamilyV4), h, nil).String()
	for _, want := range []string{
		"policy: select none, pick least-loaded, max_answers 0",
		"192.0.2.1 up load 0.20 (smoothed), watermarks below low 0.5: full weight, weight 1, load-aware weight 0.8",
		"192.0.2.2 up load 0.65 (smoothed), watermarks between low 0.5 and high 0.8: reduced, weight 1, load-aware weight 0.175",
		"192.0.2.3 shed load 0.90 (smoothed), watermarks shed (at or above high 0.8, back below 0.75)",
		"pick least-loaded: weighted rendezvous hash of 192.0.2.0/24 over 2 addresses",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain() lacks %q; got:\n%s", want, got)
		}
	}
}
