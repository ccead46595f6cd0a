package dnslb

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/share"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/healthcheck"
)

var _ admin.Backend = (*Server)(nil)

// version is what Status reports; main sets it.
var Version = "devel"

// Status builds what the status page and `dnslb status` show.
func (s *Server) Status() admin.Status {
	st := admin.Status{Version: Version, Started: s.started, LastReload: s.lastReloadStatus()}
	if p := s.overrides.Problem(); p != nil {
		st.StateFile = &admin.StateFileStatus{File: p.File, MovedTo: p.MovedTo, Errors: p.Errors, Time: p.Time}
	}
	if s.cluster != nil {
		cs := s.cluster.Status()
		st.Cluster = &cs
	}
	s.reloadMu.Lock()
	for _, z := range s.store.Zones() {
		zs := admin.ZoneStatus{Name: z.Origin, File: z.File, Serial: z.Serial(), Records: z.Len(), DNSSEC: s.dnssecStatus(z.Origin)}
		if lz := s.loaded[z.Origin]; lz != nil {
			zs.Loaded = lz.At
		}
		st.Zones = append(st.Zones, zs)
	}
	s.reloadMu.Unlock()

	probes, over := s.probes(), s.store.Overrides()
	s.eachName(func(ns *state.Name, v *state.NameView) {
		nc := ns.Config
		wad, _ := v.Policy.WhenAllDown()
		n := admin.NameStatus{Name: ns.Owner, Zone: ns.Zone, Policy: ns.Desc, Checks: ns.Checks,
			WhenAllDown: cmp.Or(nc.WhenAllDown, allDownNames[wad]), Override: over[ns.Owner]}
		h := healthOf(v)
		n.HealthyAddresses, n.AllDownTypes = h.healthy, h.allDown
		if n.AllDown = len(h.allDown) > 0; n.AllDown {
			n.AllDownSince = s.allDownSinceOf(ns.Owner)
		}
		groups := share.Groups(nc)
		expected := share.Expected(v, groups)
		shares, counts := s.shares.Of(ns.Owner)
		for i, a := range ns.Addrs {
			as := admin.AddressStatus{Addr: a, Group: groups[a], Override: overrideOf(over, ns.Owner, a), State: addressState(ns, i, v, probes),
				Share: shares[a], Expected: expected[a], Answers: counts[a]}
			for _, k := range ns.Keys[i] {
				p, ok := probes[k]
				if !ok {
					continue
				}
				as.LastResult, as.LastCheck, as.Latency = p.Last.Reason, p.LastProbe, p.Last.Latency
				if as.LastResult == "" && p.Last.OK {
					as.LastResult = "ok"
				}
				as.Flaps += p.Flaps
				if p.Since.After(as.Since) {
					as.Since = p.Since
				}
			}
			as.Load = addressLoad(v, a, ns.Keys[i], probes)
			n.Addresses = append(n.Addresses, as)
		}
		st.Names = append(st.Names, n)
	})
	return st
}

// eachName calls f with every load-balanced name and its view in the
// current snapshot.
func (s *Server) eachName(f func(ns *state.Name, v *state.NameView)) {
	snap := s.store.Snapshot()
	for _, ns := range s.store.Names() {
		if v := snap.Name(ns.Owner); v != nil { // else a reload added it between the two reads
			f(ns, v)
		}
	}
}

// Sample is what the status page's history records every
// status_interval (admin.Sampler): each address's state and override as
// Status gives them, without the rest of Status.
func (s *Server) Sample(add func(admin.AddressSample)) admin.ReloadStatus {
	probes, over := s.probes(), s.store.Overrides()
	s.eachName(func(ns *state.Name, v *state.NameView) {
		for i, a := range ns.Addrs {
			add(admin.AddressSample{Name: ns.Owner, Addr: a, State: addressState(ns, i, v, probes), Override: overrideOf(over, ns.Owner, a)})
		}
	})
	return s.lastReloadStatus()
}

// overrideOf is the override in force for address a of owner: the
// address's own, else the name's (over is the store's Overrides).
func overrideOf(over map[string]string, owner string, a netip.Addr) string {
	if len(over) == 0 { // most of the time: no address strings
		return ""
	}
	return cmp.Or(over[a.String()], over[owner])
}

// probes is the prober's status of every target, by key.
func (s *Server) probes() map[healthcheck.Key]healthcheck.Status {
	probes := make(map[healthcheck.Key]healthcheck.Status)
	for _, p := range s.prober.Snapshot() {
		probes[p.Key] = p
	}
	return probes
}

// addressState is the state the status shows for the i-th address of ns
// (AddressStatus.State): "unchecked" without checks, else the worst of
// its checks' verdicts ("up", "unknown", "down"), and "shed" for one up
// that its load sheds.
func addressState(ns *state.Name, i int, v *state.NameView, probes map[healthcheck.Key]healthcheck.Status) string {
	st := "unchecked"
	if len(ns.Checks) > 0 {
		st = "up"
	}
	for _, k := range ns.Keys[i] {
		if p, ok := probes[k]; ok && (p.State == healthcheck.Down || (p.State == healthcheck.Unknown && st == "up")) {
			st = p.State.String()
		}
	}
	if l, ok := v.Load(ns.Addrs[i]); ok && l.Shed && st == "up" {
		st = "shed"
	}
	return st
}

// SetOverride forces an address or a name to drain, up or down, or
// clears the override (state ""). Overrides outlive reloads, and restarts
// when [health] state_file is set.
func (s *Server) SetOverride(target, state string) error {
	if !slices.Contains(admin.OverrideStates, state) {
		return fmt.Errorf("state %q is not one of drain, up, down or empty", state)
	}
	key, err := s.overrideKey(target)
	if err != nil {
		return err
	}
	s.setOverride(key, state) // fleet.go: to every node in a fleet
	return s.overrides.Save(s.stateFile(), s.store)
}

// overrideKey normalises a target: an address of some load-balanced name,
// or a load-balanced name.
func (s *Server) overrideKey(target string) (string, error) {
	names := s.store.Names()
	if a, err := netip.ParseAddr(target); err == nil {
		a = a.Unmap()
		for _, ns := range names {
			if slices.Contains(ns.Addrs, a) {
				return a.String(), nil
			}
		}
		return "", fmt.Errorf("%s is not an address of a load-balanced name: %w", target, admin.ErrUnknownTarget)
	}
	owner := strings.ToLower(dns.Fqdn(target))
	for _, ns := range names {
		if ns.Owner == owner {
			return owner, nil
		}
	}
	return "", fmt.Errorf("%s is not a load-balanced name (add a [name.%q] table): %w", target, strings.TrimSuffix(owner, "."), admin.ErrUnknownTarget)
}

// StateFileProblem is what was wrong with the state file at startup, in
// one line for /readyz: "" if nothing.
func (s *Server) StateFileProblem() string {
	if p := s.overrides.Problem(); p != nil {
		return p.String()
	}
	return ""
}

// addressLoad is the load of address a of v for the status page: the
// generation's smoothed value and the prober's last report.
func addressLoad(v *state.NameView, a netip.Addr, keys []healthcheck.Key, probes map[healthcheck.Key]healthcheck.Status) *admin.AddressLoad {
	l, ok := v.Load(a)
	if !ok {
		return nil
	}
	out := &admin.AddressLoad{RTT: l.RTT, Shed: l.Shed}
	switch {
	case l.HasWeight:
		out.Kind, out.Smoothed = "weight", &l.Weight
	case l.HasShare:
		out.Kind, out.Smoothed = "load", &l.Share
	}
	for _, k := range keys {
		if p, ok := probes[k]; ok && p.Last.Report.Kind != healthcheck.NoReport {
			r := p.Last.Report.Value
			out.Reported = &r
			break
		}
	}
	return out
}

// healthChanged is the prober's callback: one target changed state.
// In a fleet the verdict is the cluster's (verdict, fleet.go).
func (s *Server) healthChanged(st healthcheck.Status) {
	if s.cluster == nil {
		s.store.SetHealth(st.Key, st.State)
		s.metrics.HealthState(st.Key.Check, targetLabel(st.Key), st.State == healthcheck.Up)
	}
	if st.State != healthcheck.Unknown {
		s.metrics.StateChange(st.Key.Check, st.State == healthcheck.Up)
	}
}
