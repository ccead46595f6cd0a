package sign

import (
	"context"
	"maps"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

// Signing ahead is bounded per batch of changes: at most AheadSets RRsets
// looked at, or AheadTime spent, whichever comes first. What is left is
// signed by the first query that asks, as without signing ahead.
const (
	AheadSets = 2000
	AheadTime = 250 * time.Millisecond
)

// ahead is the queue of signing ahead: the owners whose answers changed
// since the last batch, and the newest snapshot to sign them from.
type ahead struct {
	mu     sync.Mutex
	snap   *state.Snapshot
	owners map[string]bool
	wake   chan struct{}
}

// Ahead asks for the address RRsets of owners (load-balanced names of
// snap whose health, overrides or records changed) to be signed before
// the first query asks for them, by RunAhead. It never blocks and never
// signs: it adds the owners to the queue and wakes RunAhead. Owners
// queued and not signed yet are signed from the newest snapshot.
func (s *Stage) Ahead(snap *state.Snapshot, owners []string) {
	if len(owners) == 0 || len(s.Signers()) == 0 {
		return
	}
	q := s.queue()
	q.mu.Lock()
	q.snap = snap
	if q.owners == nil {
		q.owners = make(map[string]bool, len(owners))
	}
	for _, o := range owners {
		q.owners[o] = true
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // a batch is already due
	}
}

func (s *Stage) queue() *ahead {
	s.aheadOnce.Do(func() { s.ahead = &ahead{wake: make(chan struct{}, 1)} })
	return s.ahead
}

// RunAhead signs what Ahead queues, one batch at a time (bounded by
// AheadSets and AheadTime), until ctx is done. It yields the processor
// after every RRset, so that serving goroutines coming back from their
// system calls wait at most one signature for it.
func (s *Stage) RunAhead(ctx context.Context) {
	q := s.queue()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		q.mu.Lock()
		snap, owners := q.snap, q.owners
		q.snap, q.owners = nil, nil
		q.mu.Unlock()
		if snap == nil {
			continue
		}
		st := s.SignAhead(snap, slices.Sorted(maps.Keys(owners)), time.Now(), AheadSets, AheadTime)
		if st.Sets > 0 {
			s.log.Debug("dnssec: signed ahead", "names", len(owners), "rrsets", st.Sets, "made", st.Made, "left", st.Left, "took", st.Took)
		}
	}
}

// AheadStats is what one batch of signing ahead did: the RRsets looked
// at, the signatures made for them (the others were in the cache), the
// owners left out by the bounds, and the time it took.
type AheadStats struct {
	Sets, Made, Left int
	Took             time.Duration
}

// SignAhead signs, at now, the address RRsets of owners in the forms a
// query will ask for, into their zone signer's cache, looking at no more
// than maxSets RRsets and spending no more than budget (then it stops
// and counts the owners left). The forms, for each family:
//
//   - what the policy answers a client it cannot place (no ECS, no
//     location: a geo name's default group) — for round-robin and the
//     other picks that answer every servable address, that is the whole
//     servable set, in its canonical order, the one signature every
//     rotation shares;
//   - the whole servable set (every address up, not drained), when that
//     differs;
//   - each servable address alone, when the policy answers one address
//     (max_answers = 1, whatever the pick).
//
// Not signed ahead: subsets of more than one address that depend on the
// client or on chance (geo groups other than the default, max_answers
// between 1 and all, sticky or weighted picks of several), and names
// answered under another owner (a CNAME into the name): the first query
// signs those.
func (s *Stage) SignAhead(snap *state.Snapshot, owners []string, now time.Time, maxSets int, budget time.Duration) AheadStats {
	var st AheadStats
	set := s.Signers()
	start := time.Now()
	r := rand.New(rand.NewPCG(1, 2))
	for i, owner := range owners {
		if st.Sets >= maxSets || time.Since(start) >= budget {
			st.Left = len(owners) - i
			break
		}
		v := snap.Name(owner)
		if v == nil {
			continue
		}
		z := snap.Zone(owner)
		if z == nil || set[z.Origin] == nil {
			continue
		}
		n := z.Node(owner)
		if n == nil {
			continue
		}
		for _, t := range [2]uint16{dns.TypeA, dns.TypeAAAA} {
			if rs := n.Set(t); rs != nil {
				for _, rrs := range aheadForms(snap, v, rs, r) {
					made, err := set[z.Origin].Ahead(rrs, now)
					if err != nil {
						s.log.Debug("dnssec: sign ahead", "name", owner, "err", err)
					}
					st.Sets++
					if made {
						st.Made++
					}
					runtime.Gosched()
				}
			}
		}
	}
	st.Took = time.Since(start)
	return st
}

// aheadForms are the RRsets of rs (an A or AAAA RRset of a load-balanced
// name) that SignAhead signs: see there. They are the records
// answer.Plan.selectRRs would answer, with its TTL rules.
func aheadForms(snap *state.Snapshot, v *state.NameView, rs *zones.RRset, r *rand.Rand) [][]dns.RR {
	fam := policy.FamilyV4
	if rs.Type == dns.TypeAAAA {
		fam = policy.FamilyV6
	}
	q := policy.Query{Client: netip.IPv4Unspecified(), Family: fam, Pinned: true}
	d := v.Policy.Select(&q, v, snap.Geo(), r, make([]netip.Addr, 0, v.Policy.NumAddrs()))
	if d.AllDown && (d.Action == policy.Servfail || d.Action == policy.Nodata) {
		return nil
	}
	ttl, setTTL := v.AnswerTTL(d)
	records := func(addrs []netip.Addr) []dns.RR {
		var out []dns.RR
		for i := range rs.Len() {
			a := rs.Addr(i)
			if !slices.Contains(addrs, a) || v.Drained(a) {
				continue
			}
			out = rs.AppendRR(out, i, nil) // a record of its own
			if setTTL {
				out[len(out)-1].Header().Ttl = ttl
			}
		}
		return out
	}
	var servable []netip.Addr
	for i := range rs.Len() {
		if a := rs.Addr(i); v.Up(a) && !v.Drained(a) {
			servable = append(servable, a)
		}
	}
	var forms [][]dns.RR
	seen := map[string]bool{}
	add := func(addrs []netip.Addr) {
		k := key(addrs)
		if len(addrs) == 0 || seen[k] {
			return
		}
		seen[k] = true
		if rrs := records(addrs); len(rrs) > 0 {
			forms = append(forms, rrs)
		}
	}
	add(d.Addrs)
	if !d.AllDown {
		add(servable)
		if len(d.Addrs) == 1 {
			for _, a := range servable {
				add([]netip.Addr{a})
			}
		}
	}
	return forms
}

// key names a set of addresses whatever their order.
func key(addrs []netip.Addr) string {
	s := slices.Clone(addrs)
	slices.SortFunc(s, netip.Addr.Compare)
	b := make([]byte, 0, 16*len(s))
	for _, a := range s {
		b = append(b, a.AsSlice()...)
		b = append(b, byte(a.BitLen()))
	}
	return string(b)
}
