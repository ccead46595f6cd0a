package state

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/healthcheck"
	"github.com/dnslb/dnslb/zones"
)

// Name is one load-balanced owner name: its compiled policy, the
// checks that watch its addresses, and those addresses (from the zone).
// It is immutable; health and overrides live beside it in the store.
type Name struct {
	Owner  string            // lower case, fully qualified
	Config config.NameConfig // as written in [name."…"], for the status page
	Zone   string
	Policy *policy.Policy
	Checks []string
	Addrs  []netip.Addr
	// Keys[i][j] is the prober's key for Checks[j] on Addrs[i].
	Keys        [][]healthcheck.Key
	DegradedTTL uint32
	HasDegraded bool
	Desc        string // "geo+weighted" and the like, for status and metrics
	// Answers counts the answers that led with each address (by
	// Policy.Addr index): the one part of a Name that changes, written by
	// the query path, read by the status sampler.
	Answers *Answers
}

// CompileNames builds the state of every [name."…"] table against the
// zones that will be served, and lists every error.
// failed, if not nil, gives the deepest zone that holds a name but did not
// load ("" if none): names below it whose own zone is not deeper are
// skipped, as the zone's errors say why.
func CompileNames(cfg *config.Config, zs []*zones.Zone, failed func(owner string) string) (map[string]*Name, []string) {
	out := make(map[string]*Name, len(cfg.Names))
	var errs []string
	for _, key := range slices.Sorted(maps.Keys(cfg.Names)) {
		nc := cfg.Names[key]
		owner := strings.ToLower(dns.Fqdn(key))
		// Finding the line reads the file text: only for names with errors.
		loc := func() string { return cfg.At("name", key) }
		prefix := func() string { return fmt.Sprintf("%s: name.%q", loc(), key) }
		z := ZoneFor(zs, owner)
		// Without the name's addresses (its zone did not load, or it is
		// in none) every value is checked but its addresses' membership.
		unknown := false
		if f := ""; failed != nil {
			// The zone's errors say why it is not there.
			f = failed(owner)
			unknown = f != "" && (z == nil || len(f) > len(z.Origin))
		}
		var addrs []netip.Addr
		switch {
		case unknown:
		case z == nil:
			errs = append(errs, fmt.Sprintf("%s: %s is not inside any served zone%s", prefix(), owner, nearZone(zs, owner)))
			unknown = true
		default:
			if addrs = ZoneAddrs(z, owner); len(addrs) == 0 {
				errs = append(errs, fmt.Sprintf("%s: %s has no A or AAAA records in zone %s", prefix(), owner, z.Origin))
				unknown = true
			}
		}
		var p *policy.Policy
		var perrs []error
		if unknown {
			perrs = policy.CheckPolicy(owner, nc)
		} else {
			p, perrs = policy.CompilePolicy(owner, nc, addrs)
		}
		for _, e := range perrs {
			where := cfg.Path()
			if ke := (*policy.KeyError)(nil); errors.As(e, &ke) {
				// The key as the file writes the name (its case, a
				// trailing dot), for finding it there.
				written := fmt.Sprintf("name.%q", key) + strings.TrimPrefix(ke.Key, fmt.Sprintf("name.%q", strings.TrimSuffix(owner, ".")))
				if cfg.Undecoded(written) {
					continue // its value did not decode: said already
				}
				where = cfg.AtPath(written)
			}
			if where == cfg.Path() {
				where = loc()
			}
			errs = append(errs, fmt.Sprintf("%s: %v", where, e))
		}
		if len(perrs) > 0 || unknown {
			continue
		}
		ns := &Name{Owner: owner, Config: nc, Zone: z.Origin, Policy: p, Checks: nc.CheckNames(), Addrs: addrs, Desc: PolicyDesc(nc),
			Answers: newAnswers(p.NumAddrs())}
		ns.Keys = make([][]healthcheck.Key, len(addrs))
		for i, a := range addrs {
			for _, chk := range ns.Checks {
				ns.Keys[i] = append(ns.Keys[i], CheckKey(cfg, chk, a))
			}
		}
		if nc.DegradedTTL != nil {
			ns.DegradedTTL, ns.HasDegraded = *nc.DegradedTTL, true
		}
		out[owner] = ns
	}
	return out, errs
}

func PolicyDesc(nc config.NameConfig) string {
	sel, pick := cmp.Or(nc.Select, "none"), cmp.Or(nc.Pick, "round-robin")
	if sel == "none" {
		return pick
	}
	return sel + "+" + pick
}

// ZoneFor returns the deepest zone that contains name.
func ZoneFor(zs []*zones.Zone, name string) *zones.Zone {
	var best *zones.Zone
	for _, z := range zs {
		if zones.IsSubdomain(name, z.Origin) && (best == nil || len(z.Origin) > len(best.Origin)) {
			best = z
		}
	}
	return best
}

// ZoneAddrs lists the A then AAAA addresses of owner, in zone order.
func ZoneAddrs(z *zones.Zone, owner string) []netip.Addr {
	n := z.Node(owner)
	if n == nil {
		return nil
	}
	var out []netip.Addr
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		set := n.Set(t)
		if set == nil {
			continue
		}
		for i := range set.Len() {
			out = append(out, set.Addr(i))
		}
	}
	return out
}

// RRAddr returns the address of an A or AAAA record.
func RRAddr(rr dns.RR) (netip.Addr, bool) {
	switch r := rr.(type) {
	case *dns.A:
		a, ok := netip.AddrFromSlice(r.A.To4())
		return a, ok
	case *dns.AAAA:
		a, ok := netip.AddrFromSlice(r.AAAA)
		return a, ok
	}
	return netip.Addr{}, false
}

// CheckKey is the prober's key for check chk of address a. A check with an
// explicit target probes that target once, whatever the address: its key
// has no address, and every address it watches shares the verdict.
func CheckKey(cfg *config.Config, chk string, a netip.Addr) healthcheck.Key {
	if cfg.Checks[chk].Target != "" {
		return healthcheck.Key{Check: chk}
	}
	return healthcheck.Key{Check: chk, Addr: a}
}

// HealthTargets lists what the prober must probe: each check of each name
// against each of the name's addresses. Names sharing a check and an
// address share one target.
func HealthTargets(cfg *config.Config, names map[string]*Name) []healthcheck.Target {
	seen := make(map[healthcheck.Key]bool)
	var out []healthcheck.Target
	for _, owner := range slices.Sorted(maps.Keys(names)) {
		ns := names[owner]
		for _, chk := range ns.Checks {
			for _, a := range ns.Addrs {
				k := CheckKey(cfg, chk, a)
				if seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, healthcheck.Target{Key: k, Config: cfg.Checks[chk]})
			}
		}
	}
	slices.SortFunc(out, func(a, b healthcheck.Target) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out
}

// NameView is a name as one snapshot sees it: its state plus which of its
// addresses are down (by the prober or an operator) and which are drained.
// It is the Health that selection asks.
type NameView struct {
	*Name
	down     map[netip.Addr]bool
	drained  map[netip.Addr]bool
	degraded bool
	// loads holds what the load checks and probe times say of the
	// addresses (nil when nothing does); shed the addresses above the
	// high watermark; unshed is this view with them up (nil if none).
	loads  map[netip.Addr]policy.Load
	shed   map[netip.Addr]bool
	unshed *NameView
}

var (
	_ policy.Health  = (*NameView)(nil)
	_ policy.Drainer = (*NameView)(nil)
	_ policy.Loads   = (*NameView)(nil)
)

// AnswerTTL is the TTL the name's answer with decision d carries, and
// whether it overrides the zone's: the degraded TTL while some address is
// down or drained, else the policy's.
func (v *NameView) AnswerTTL(d policy.Decision) (uint32, bool) {
	if v.Degraded() && v.HasDegraded {
		return v.DegradedTTL, true
	}
	return d.TTL, d.HasTTL
}

// Up implements Health: the address is neither down nor shed.
func (v *NameView) Up(a netip.Addr) bool {
	if len(v.down) == 0 && len(v.shed) == 0 {
		return true // a name all up: no map to hash the address for
	}
	return !v.down[a] && !v.shed[a]
}

// Healthy tells whether the address is not down (it may be shed): what
// counts toward when_all_down.
func (v *NameView) Healthy(a netip.Addr) bool { return !v.down[a] }

// Shed tells whether the address is shed: up, but above its name's high
// watermark.
func (v *NameView) Shed(a netip.Addr) bool { return v.shed[a] }

// Load implements policy.Loads.
func (v *NameView) Load(a netip.Addr) (policy.Load, bool) {
	l, ok := v.loads[a]
	return l, ok
}

// AnyLoad implements policy.Loads.
func (v *NameView) AnyLoad() bool { return len(v.loads) > 0 }

// Unshed implements policy.Loads.
func (v *NameView) Unshed() policy.Health {
	if v.unshed == nil {
		return nil // not a typed nil
	}
	return v.unshed
}

// Drained implements Drainer.
func (v *NameView) Drained(a netip.Addr) bool { return v.drained[a] }

// Degraded tells whether some address of the name is down or drained.
func (v *NameView) Degraded() bool { return v.degraded }

// newNameView applies the prober's verdicts and the operator overrides to
// one name. An address is down when an override says drain or down, or,
// with no override, when any of the name's checks found it down. An
// address not probed yet counts as up (fail open, as Route 53 does).
func newNameView(ns *Name, health map[healthcheck.Key]healthcheck.State, over map[string]string, loads map[healthcheck.Key]sample, feeds map[netip.Addr]Feed, prev *NameView) *NameView {
	v := &NameView{Name: ns}
	mark := func(m *map[netip.Addr]bool, a netip.Addr) {
		if *m == nil {
			*m = make(map[netip.Addr]bool)
		}
		(*m)[a] = true
	}
	for i, a := range ns.Addrs {
		state := over[a.String()]
		if state == "" {
			state = over[ns.Owner]
		}
		switch state {
		case "drain":
			mark(&v.down, a)
			mark(&v.drained, a)
		case "down":
			mark(&v.down, a)
		case "up":
		default:
			switch feeds[a].State {
			case "down":
				mark(&v.down, a)
				continue
			case "up":
				continue
			}
			for _, k := range ns.Keys[i] {
				if health[k] == healthcheck.Down {
					mark(&v.down, a)
					break
				}
			}
		}
	}
	v.degraded = len(v.down) > 0
	v.addLoads(loads, feeds, prev)
	return v
}

// addLoads fills in the loads of the name's addresses, from the first of
// its checks that reports one (and the first that has a round-trip time),
// and which are shed: by the watermarks, with prev's verdict for the
// hysteresis.
func (v *NameView) addLoads(loads map[healthcheck.Key]sample, feeds map[netip.Addr]Feed, prev *NameView) {
	if len(loads) == 0 && len(feeds) == 0 {
		return
	}
	for i, a := range v.Addrs {
		var l policy.Load
		found := false
		switch f := feeds[a]; f.Kind {
		case healthcheck.ReportWeight:
			l.HasWeight, l.Weight, found = true, f.Value, true
		case healthcheck.ReportLoad:
			l.HasShare, l.Share, found = true, f.Value, true
		}
		for _, k := range v.Keys[i] {
			sm, ok := loads[k]
			if !ok {
				continue
			}
			found = true
			if l.RTT == 0 {
				l.RTT = sm.rtt
			}
			if l.HasWeight || l.HasShare {
				continue
			}
			switch sm.kind {
			case healthcheck.ReportWeight:
				l.HasWeight, l.Weight = true, sm.value
			case healthcheck.ReportLoad:
				l.HasShare, l.Share = true, sm.value
			}
		}
		if !found {
			continue
		}
		if l.HasShare && !v.down[a] {
			was := prev != nil && prev.shed[a]
			if l.Shed = v.Policy.Shed(was, l.Share); l.Shed {
				if v.shed == nil {
					v.shed = make(map[netip.Addr]bool)
				}
				v.shed[a] = true
			}
		}
		if v.loads == nil {
			v.loads = make(map[netip.Addr]policy.Load, len(v.Addrs))
		}
		v.loads[a] = l
	}
	if len(v.shed) > 0 {
		u := *v
		u.shed, u.unshed = nil, nil
		v.unshed = &u
	}
}
