package dnslb

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/dnslb/state"
)

// nameHealth is how one load-balanced name stands in one snapshot.
type nameHealth struct {
	healthy int // addresses neither down nor drained
	shed    int // of those, shed (above the high watermark)
	// allDown lists the record types ("A", "AAAA") for which the name has
	// addresses but none is up, so its when_all_down answers them.
	allDown []string
	addrs   string // the name's addresses, to drop the share series of removed ones
	// name and view say what the name answers: its compiled state (a
	// reload makes a new one) and each address's standing (aheadView).
	// When either changes, its RRsets are signed ahead (sign.Stage.Ahead).
	name *state.Name
	view string
}

// aheadView is each of v's addresses' standing, as selection sees it: up,
// healthy (up or shed), drained.
func aheadView(v *state.NameView) string {
	b := make([]byte, len(v.Addrs))
	for i, a := range v.Addrs {
		if v.Up(a) {
			b[i] |= 1
		}
		if v.Healthy(a) {
			b[i] |= 2
		}
		if v.Drained(a) {
			b[i] |= 4
		}
	}
	return string(b)
}

// healthOf counts the up addresses of v, per family. It reads the
// snapshot's view, as selection does, so it says what queries get.
func healthOf(v *state.NameView) nameHealth {
	var h nameHealth
	var has, up [2]bool // 0 IPv4, 1 IPv6
	for _, a := range v.Addrs {
		f := 0
		if a.Is6() { // as selection tells families apart
			f = 1
		}
		has[f] = true
		if v.Healthy(a) { // a shed address counts: shedding never empties a name
			up[f] = true
			h.healthy++
			if v.Shed(a) {
				h.shed++
			}
		}
	}
	for f, typ := range [2]string{"A", "AAAA"} {
		if has[f] && !up[f] {
			h.allDown = append(h.allDown, typ)
		}
	}
	return h
}

// watchNames follows the published snapshots (health verdicts, overrides,
// reloads) and, for every load-balanced name, keeps the healthy-address
// gauges current and logs at warn when the name enters or leaves the
// state where every address is down and when_all_down answers. It runs
// beside the query path, from the store's publish signal, so queries
// neither log nor pay for it.
func (s *Server) watchNames(ctx context.Context) {
	prev := make(map[string]nameHealth)
	var last *state.Snapshot
	for {
		if sn := s.store.Snapshot(); sn != last {
			last = sn
			prev = s.observeNames(sn, prev, time.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-s.store.Published():
		}
	}
}

// observeNames compares the names of sn with prev, logs and exports the
// changes, and returns the new state.
func (s *Server) observeNames(sn *state.Snapshot, prev map[string]nameHealth, now time.Time) map[string]nameHealth {
	next := make(map[string]nameHealth, len(prev))
	var changed []string // what signing ahead gets
	for _, owner := range sn.Owners() {
		v := sn.Name(owner)
		h := healthOf(v)
		h.addrs = fmt.Sprint(v.Addrs)
		h.name, h.view = v.Name, aheadView(v)
		next[owner] = h
		old, seen := prev[owner]
		if seen && (old.name != h.name || old.view != h.view) || !seen && len(prev) > 0 {
			changed = append(changed, owner)
		}
		s.metrics.NameHealth(owner, h.healthy, len(h.allDown) > 0)
		if seen && old.addrs != h.addrs {
			s.metrics.ForgetShares(owner) // a reload changed its addresses
			s.shares.Forget(owner)
		}
		if v.Policy.Watermarked() {
			s.metrics.NameShed(owner, h.shed)
		}
		was, is := strings.Join(old.allDown, "+"), strings.Join(h.allDown, "+")
		if was == is && seen {
			continue
		}
		wad, _ := v.Policy.WhenAllDown()
		action := cmp.Or(v.Config.WhenAllDown, allDownNames[wad])
		switch {
		case is != "" && was == "":
			s.setAllDownSince(owner, now)
			s.log.Warn("every address of a name is down: when_all_down answers", "name", owner, "qtype", is, "when_all_down", action)
		case is == "" && was != "":
			since := s.setAllDownSince(owner, time.Time{})
			s.log.Warn("a name has addresses up again: when_all_down no longer answers", "name", owner, "healthy", h.healthy, "duration", now.Sub(since).Round(time.Millisecond))
		case is != "":
			// From A to A+AAAA, say: still all down, for other types.
			s.log.Warn("every address of a name is down: when_all_down answers", "name", owner, "qtype", is, "when_all_down", action)
		}
	}
	// Signing ahead runs on its own goroutine (sign.Stage.RunAhead):
	// queued here, it holds up neither this reader nor the publish.
	s.sign.Ahead(sn, changed)
	for owner, old := range prev {
		if _, ok := next[owner]; ok {
			continue
		}
		s.metrics.ForgetName(owner)
		if len(old.allDown) > 0 {
			s.setAllDownSince(owner, time.Time{})
		}
	}
	return next
}

// setAllDownSince records when owner went all down (zero t: it is not)
// and returns the time recorded before.
func (s *Server) setAllDownSince(owner string, t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.allDownSince[owner]
	if t.IsZero() {
		delete(s.allDownSince, owner)
	} else {
		if s.allDownSince == nil {
			s.allDownSince = make(map[string]time.Time)
		}
		s.allDownSince[owner] = t
	}
	return old
}

func (s *Server) allDownSinceOf(owner string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allDownSince[owner]
}

var allDownNames = map[policy.AllDownAction]string{policy.ServeAll: "serve-all", policy.Servfail: "servfail", policy.Nodata: "nodata", policy.ServeGroup: "group"}

// meterShares samples the names' answer counters every interval until
// ctx ends, the first sample at once, and exports the shares
// (dnslb_name_address_share) and the counts (dnslb_name_address_answers_total,
// which goes on across reloads: a name's new counters add from zero).
func (s *Server) meterShares(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 5 * time.Second // status_interval's default
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		sn := s.store.Snapshot()
		s.shares.Sample(sn)
		// Only what changed: a config of 10,000 names has 60,000 series,
		// and setting each every sample was a hundredth of a core.
		s.shares.Export(func(owner string, shares map[netip.Addr]float64) {
			for a, share := range shares {
				s.metrics.AddressShare(owner, a.String(), share)
			}
		})
		s.shares.Added(func(owner string, a netip.Addr, n uint64) {
			if n > 0 {
				s.metrics.AddressAnswers(owner, a.String(), n)
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
