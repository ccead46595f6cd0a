package policy

import (
	"math/rand/v2"
	"net/netip"
)

// The pick step orders the healthy addresses of the chosen group (cands are
// positions in g.addrs) and appends at most p.max of them to out. Each pick
// works in place on cands, which belongs to the current call.

func (p *Policy) limit(n int) int {
	if p.max > 0 && p.max < n {
		return p.max
	}
	return n
}

// pickOrder runs the round-robin, random or weighted pick.
// It also returns the rotation a round-robin pick used.
func (p *Policy) pickOrder(g *group, cands []uint16, q *Query, lv Loads, r *rand.Rand, out []netip.Addr, tr *trace) ([]netip.Addr, int) {
	n := len(cands)
	k := p.limit(n)
	switch p.pick {
	case pickRandom:
		// Partial Fisher-Yates: only the first k places are drawn.
		for i := 0; i < k; i++ {
			j := i + r.IntN(n-i)
			cands[i], cands[j] = cands[j], cands[i]
		}
		if tr != nil {
			tr.add("pick random: shuffled %d addresses", n)
		}
	case pickWeighted:
		w := g.weights
		if lv != nil {
			// Reported weights and watermarks change the draw.
			var wbuf [stackCands]uint32
			w = p.effWeights(g, lv, wbuf[:0])
		}
		drawWeighted(w, cands, k, r)
		if tr != nil {
			tr.add("pick weighted: drew %d of %d by weight", k, n)
		}
	default:
		// Round-robin: rotate by a shared lock-free counter. Explain only
		// looks at the counter, so running it doesn't shift real answers.
		var start int // one candidate: no rotation, and the counter stays
		switch {
		case n < 2:
		case q.Pinned:
			start = q.Pin % n
		case tr != nil:
			start = int(p.rr.Load() % uint64(n))
		default:
			start = p.NextRotation(n)
		}
		for i, j := 0, start; i < k; i++ {
			out = append(out, g.addrs[cands[j]])
			if j++; j == n { // (start+i)%n without a division
				j = 0
			}
		}
		if tr != nil {
			tr.add("pick round-robin: rotation %d of %d", start, n)
		}
		return out, start
	}
	for _, c := range cands[:k] {
		out = append(out, g.addrs[c])
	}
	return out, 0
}

// drawWeighted moves k addresses drawn by weight, without replacement, to
// the front of cands: each place is a fresh draw among the addresses not yet
// drawn, so the first address follows the weights exactly.
func drawWeighted(weights []uint32, cands []uint16, k int, r *rand.Rand) {
	var total uint64
	for _, c := range cands {
		total += uint64(weights[c])
	}
	for i := 0; i < k; i++ {
		x := r.Uint64N(total)
		j := i
		for ; j < len(cands)-1; j++ {
			w := uint64(weights[cands[j]])
			if x < w {
				break
			}
			x -= w
		}
		total -= uint64(weights[cands[j]])
		cands[i], cands[j] = cands[j], cands[i]
	}
}

// stickyBits returns the client prefix length sticky hashes: the /24 (IPv4)
// or /56 (IPv6) the client is in, or the ECS source prefix when shorter.
func stickyBits(q *Query) int {
	bits := 56
	if q.Client.Is4() {
		bits = 24
	}
	if q.ECS && q.SourcePrefix < bits {
		bits = max(q.SourcePrefix, 0)
	}
	return bits
}

// pickSticky orders the candidates by rendezvous (highest random weight)
// hashing of the client subnet: each address scores hash(subnet, address)
// and the highest scores win. A subnet keeps its address while that address
// is up, and when an address goes down only the subnets it had move, each to
// its own next-highest score, so the load spreads over the rest.
func (p *Policy) pickSticky(g *group, cands []uint16, client netip.Addr, bits int, out []netip.Addr, tr *trace) []netip.Addr {
	key := subnetHash(client, bits)
	k := p.limit(len(cands))
	// Partial selection sort by score, highest first: k is small.
	for i := 0; i < k; i++ {
		best, bestScore := i, mix64(key^g.hashes[cands[i]])
		for j := i + 1; j < len(cands); j++ {
			if s := mix64(key ^ g.hashes[cands[j]]); s > bestScore {
				best, bestScore = j, s
			}
		}
		cands[i], cands[best] = cands[best], cands[i]
		out = append(out, g.addrs[cands[i]])
	}
	if tr != nil {
		pf, _ := client.Prefix(bits)
		tr.add("pick sticky: rendezvous hash of %s over %d addresses", pf, len(cands))
	}
	return out
}

// subnetHash hashes the first bits of client. The hash is fixed (not seeded
// per process) so that every server and every restart maps a subnet to the
// same address.
func subnetHash(client netip.Addr, bits int) uint64 {
	pf, err := client.Prefix(bits)
	if err != nil {
		return 0
	}
	b := pf.Addr().As16()
	h := fnv64(b[:])
	return mix64(h ^ uint64(bits))
}

func addrHash(a netip.Addr) uint64 {
	b := a.As16()
	return mix64(fnv64(b[:]) + 0x9e3779b97f4a7c15)
}

func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finalizer: it spreads every input bit over the
// output, which rendezvous hashing needs for an even split.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
