package policy

import (
	"math"
	"net/netip"
	"time"
)

// Load is what one generation knows of an address's load: the smoothed
// report of its load check and the smoothed round-trip time of its probes.
// The values are the ones the generation was published with (the state
// package quantizes them), so selection over one generation is fixed.
type Load struct {
	// HasWeight: the backend reports a weight (a bare number or
	// {"weight": N}), Weight. HasShare: it reports the share of its
	// capacity in use, Share (0 idle, 1 full).
	HasWeight bool
	Weight    float64
	HasShare  bool
	Share     float64
	// RTT is the smoothed probe round-trip time, 0 when unknown.
	RTT time.Duration
	// Shed: the share is above the high watermark (with hysteresis), so
	// the address is left out like a down one.
	Shed bool
}

// Loads is a Health that also knows the addresses' loads. Up must be false
// for a shed address; Unshed returns the same health with shed addresses
// up (nil when nothing is shed), which selection asks only when shedding
// left no address.
type Loads interface {
	Health
	Load(addr netip.Addr) (Load, bool)
	Unshed() Health
	// AnyLoad tells whether some address has a Load, so that a weighted
	// pick without any keeps to its static weights.
	AnyLoad() bool
}

// Watermarks of a name, on the smoothed share of capacity.
type watermarks struct {
	on        bool
	low, high float64
	margin    float64
}

// DefaultMargin is how far below high_watermark a shed address must come
// back before it is served again.
const DefaultMargin = 0.05

// DefaultTolerance is the band of pick = "fastest": the addresses within
// 20% of the fastest round-trip time share the answers.
const DefaultTolerance = 0.2

// rttFloor is the shortest round-trip time fastest tells apart: on a LAN
// or loopback the probe times are noise below it.
const rttFloor = 5 * time.Millisecond

// Watermarked tells whether the name has watermarks, so that the state
// package knows to track shedding for it.
func (p *Policy) Watermarked() bool { return p.wm.on }

// WantsRTT tells whether the pick reads the probes' round-trip time.
func (p *Policy) WantsRTT() bool { return p.pick == pickFastest }

// Shed tells whether an address with smoothed share is shed, given
// whether it was shed in the previous generation: it is shed at or above
// the high watermark and comes back only below high minus the margin, so
// an address hovering at the watermark does not flap.
func (p *Policy) Shed(was bool, share float64) bool {
	if !p.wm.on {
		return false
	}
	if was {
		return share >= p.wm.high-p.wm.margin
	}
	return share >= p.wm.high
}

// minWeight keeps an address with no capacity left (or weight 0) in the
// ranking, behind every address that has some.
const minWeight = 1e-6

// loadWeight is the weight of an address of static weight w with load l:
// a reported weight replaces w; least-loaded multiplies by the capacity
// left; between the watermarks the weight falls in proportion, to nothing
// at high.
func (p *Policy) loadWeight(w uint32, l Load) float64 {
	x := float64(w)
	if l.HasWeight {
		x = l.Weight
	}
	if l.HasShare {
		if p.pick == pickLeastLoaded {
			x *= max(0, 1-l.Share)
		}
		if p.wm.on && l.Share > p.wm.low {
			if p.wm.high > p.wm.low {
				x *= max(0, (p.wm.high-l.Share)/(p.wm.high-p.wm.low))
			} else {
				x = 0
			}
		}
	}
	return max(x, minWeight)
}

// unitFloat maps a hash to (0, 1).
func unitFloat(h uint64) float64 { return (float64(h>>11) + 0.5) / (1 << 53) }

// rendezvousScore is the weighted rendezvous (highest random weight) score
// of weight w for hash h: -w/ln(u) wins with probability proportional to
// w, and a change of one weight moves only the clients it must.
func rendezvousScore(w float64, h uint64) float64 { return -w / math.Log(unitFloat(h)) }

// unshed is lv.Unshed(), nil for a nil lv.
func unshed(lv Loads) Health {
	if lv == nil {
		return nil
	}
	return lv.Unshed()
}

// loadOf returns the load of address a, or the zero Load.
func loadOf(lv Loads, a netip.Addr) Load {
	if lv == nil {
		return Load{}
	}
	l, _ := lv.Load(a)
	return l
}

// pickRendezvous orders the candidates by weighted rendezvous hashing of
// the client subnet, weights from loadWeight, highest score first. With
// fastest, the addresses within the tolerance band of the fastest come
// first (hashed among themselves), then the rest by round-trip time.
func (p *Policy) pickRendezvous(g *group, cands []uint16, lv Loads, client netip.Addr, bits int, out []netip.Addr, tr *trace) []netip.Addr {
	key := subnetHash(client, bits)
	var sbuf [32]float64 // larger groups allocate
	score := sbuf[:0]
	if len(cands) > len(sbuf) {
		score = make([]float64, 0, len(cands))
	}
	var fastest time.Duration
	if p.pick == pickFastest {
		for _, c := range cands {
			if rtt := loadOf(lv, g.addrs[c]).RTT; rtt > 0 && (fastest == 0 || rtt < fastest) {
				fastest = rtt
			}
		}
		fastest = max(fastest, rttFloor)
	}
	band := time.Duration(float64(fastest) * (1 + p.tolerance))
	for _, c := range cands {
		l := loadOf(lv, g.addrs[c])
		s := rendezvousScore(p.loadWeight(g.weights[c], l), mix64(key^g.hashes[c]))
		if p.pick == pickFastest {
			if rtt := max(l.RTT, rttFloor); l.RTT > 0 && rtt > band {
				// Outside the band: after every address in it, the
				// faster first.
				s = -float64(rtt)
			}
		}
		score = append(score, s)
	}
	k := p.limit(len(cands))
	for i := 0; i < k; i++ {
		best := i
		for j := i + 1; j < len(cands); j++ {
			if score[j] > score[best] {
				best = j
			}
		}
		cands[i], cands[best] = cands[best], cands[i]
		score[i], score[best] = score[best], score[i]
		out = append(out, g.addrs[cands[i]])
	}
	if tr != nil {
		pf, _ := client.Prefix(bits)
		if p.pick == pickFastest {
			tr.add("pick fastest: fastest %v, band %v (tolerance %.0f%%), weighted rendezvous hash of %s over %d addresses", fastest, band, p.tolerance*100, pf, len(cands))
		} else {
			tr.add("pick least-loaded: weighted rendezvous hash of %s over %d addresses", pf, len(cands))
		}
	}
	return out
}

// effWeights fills w with the weights a weighted pick draws by when the
// health knows loads: loadWeight in thousandths.
func (p *Policy) effWeights(g *group, lv Loads, w []uint32) []uint32 {
	for i, a := range g.addrs {
		w = append(w, uint32(math.Round(p.loadWeight(g.weights[i], loadOf(lv, a))*1000)))
		if w[i] == 0 {
			w[i] = 1
		}
	}
	return w
}

// leastLoaded keeps, of the candidates, the one with the smallest share
// (the first on a tie): what a name whose every address is shed serves.
func leastLoaded(g *group, cands []uint16, lv Loads) []uint16 {
	best := 0
	for i, c := range cands {
		if loadOf(lv, g.addrs[c]).Share < loadOf(lv, g.addrs[cands[best]]).Share {
			best = i
		}
	}
	cands[0] = cands[best]
	return cands[:1]
}
