package share

import (
	"maps"
	"net/netip"
	"slices"
	"sync"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/state"
)

// Samples is how many samples (of [admin] status_interval) the
// counted shares span: a minute at the default 5s.
const Samples = 12

// Meter turns the answers the query path counted per address
// (state.Answers: memo hits and decided replies alike) into each
// address's share of its name's answers over the last Samples
// samples. It runs beside the query path, which only adds to the
// counters.
type Meter struct {
	mu    sync.Mutex
	rings map[string]*ring // by owner
}

// ring is one name's counts at each of the last samples.
type ring struct {
	ans    *state.Answers // the counters sampled: a reload makes new ones
	addrs  []netip.Addr   // by Policy.Addr index
	totals [][]uint64     // ring of Samples+1 samples of the counters
	n      int            // samples taken
	shares map[netip.Addr]float64
	counts map[netip.Addr]uint64 // the answers counted so far
	added  []uint64              // the answers counted since the sample before, by index
	// dirty: the shares are not exported as they are (new, changed, or
	// their series forgotten).
	dirty bool
}

// Sample reads the counters of every name of sn and works out the shares.
func (m *Meter) Sample(sn *state.Snapshot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rings == nil {
		m.rings = make(map[string]*ring)
	}
	seen := make(map[string]bool)
	for _, owner := range sn.Owners() {
		v := sn.Name(owner)
		seen[owner] = true
		r := m.rings[owner]
		if r == nil || r.ans != v.Answers {
			// New counters start at zero: the window starts with zeros.
			r = &ring{ans: v.Answers, totals: make([][]uint64, Samples+1)}
			for i := range v.Policy.NumAddrs() {
				r.addrs = append(r.addrs, v.Policy.Addr(i))
			}
			r.totals[0] = make([]uint64, len(r.addrs))
			r.n, r.dirty = 1, true
			m.rings[owner] = r
		}
		r.add()
	}
	for owner := range m.rings {
		if !seen[owner] {
			delete(m.rings, owner)
		}
	}
}

// add takes one sample of r's counters and works out its shares: each
// address's answers in the window over those of its family (0 for all
// when the family had none).
func (r *ring) add() {
	prev := r.totals[(r.n-1)%len(r.totals)]
	i := r.n % len(r.totals)
	r.totals[i] = r.ans.Counts(r.totals[i])
	r.added = r.added[:0]
	for j := range r.addrs {
		r.added = append(r.added, r.totals[i][j]-prev[j])
	}
	r.n++
	oldest := r.totals[r.n%len(r.totals)]
	if r.n < len(r.totals) {
		oldest = r.totals[0]
	}
	now := r.totals[i]
	var sum [2]uint64
	for j, a := range r.addrs {
		sum[family(a)] += now[j] - oldest[j]
	}
	if r.shares != nil && slices.Equal(now, oldest) && allZero(r.shares) {
		// No answers in the window, and all 0 already (the counts too
		// are as they were: now is prev).
		return
	}
	old := r.shares
	r.shares = make(map[netip.Addr]float64, len(r.addrs))
	r.counts = make(map[netip.Addr]uint64, len(r.addrs))
	for j, a := range r.addrs {
		r.counts[a] = now[j]
		if s := sum[family(a)]; s > 0 {
			r.shares[a] = float64(now[j]-oldest[j]) / float64(s)
		} else {
			r.shares[a] = 0
		}
	}
	r.dirty = r.dirty || !maps.Equal(old, r.shares)
}

func allZero(m map[netip.Addr]float64) bool {
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

// Export calls f with the shares of each name whose shares are not
// exported as they are, and notes them exported.
func (m *Meter) Export(f func(owner string, shares map[netip.Addr]float64)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for owner, r := range m.rings {
		if r.dirty && r.shares != nil {
			f(owner, r.shares)
			r.dirty = false
		}
	}
}

// Forget notes that owner's share series were dropped: the next export
// sets them again.
func (m *Meter) Forget(owner string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.rings[owner]; r != nil {
		r.dirty = true
	}
}

// Added calls f with each address of each name and the answers counted
// for it since the sample before.
func (m *Meter) Added(f func(owner string, a netip.Addr, n uint64)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for owner, r := range m.rings {
		for j, a := range r.addrs {
			f(owner, a, r.added[j])
		}
	}
}

// Of returns the shares and counts of owner's addresses at the last
// sample (nil before the first).
func (m *Meter) Of(owner string) (shares map[netip.Addr]float64, counts map[netip.Addr]uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.rings[owner]; r != nil {
		return r.shares, r.counts
	}
	return nil, nil
}

// Expected estimates, for each address of a load-balanced name, the share
// of the name's answers that lead with it now: the address's weight
// (pick = "weighted": its own, else its group's, else 1; any other pick:
// 1) over the weights of the addresses of its family that are up. Down
// and drained addresses get 0. It reads the config and the snapshot's
// health, not counted answers: a geo, nearest or failover name sends each
// client to one group, and this is the share over the whole name. The
// status shows it beside the counted share (Meter) as the expected
// one. groups is Groups(v.Config).
func Expected(v *state.NameView, groups map[netip.Addr]string) map[netip.Addr]float64 {
	nc := v.Config
	weight := func(a netip.Addr) float64 {
		if nc.Pick != "weighted" {
			return 1
		}
		if w, ok := nc.Weights[a.String()]; ok && w > 0 {
			return float64(w)
		}
		if g := groups[a]; g != "" && nc.Groups[g].Weight > 0 {
			return float64(nc.Groups[g].Weight)
		}
		return 1
	}
	var sum [2]float64 // 0 IPv4, 1 IPv6
	out := make(map[netip.Addr]float64, len(v.Addrs))
	for _, a := range v.Addrs {
		out[a] = 0
		if v.Up(a) {
			sum[family(a)] += weight(a)
		}
	}
	for _, a := range v.Addrs {
		if v.Up(a) && sum[family(a)] > 0 {
			out[a] = weight(a) / sum[family(a)]
		}
	}
	return out
}

func family(a netip.Addr) int {
	if a.Is6() {
		return 1
	}
	return 0
}

// Groups names the config group each address of nc's groups belongs
// to: the first by name when it is in several.
func Groups(nc config.NameConfig) map[netip.Addr]string {
	out := make(map[netip.Addr]string)
	for _, g := range slices.Sorted(maps.Keys(nc.Groups)) {
		for _, s := range nc.Groups[g].Addresses {
			if p, err := netip.ParseAddr(s); err == nil {
				if _, ok := out[p]; !ok {
					out[p] = g
				}
			}
		}
	}
	return out
}
