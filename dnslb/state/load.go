package state

import (
	"maps"
	"math"
	"net/netip"
	"time"

	"github.com/dnslb/dnslb/healthcheck"
)

// sample is the published load of one target: the smoothed report and
// round-trip time as of the last change big enough to publish.
type sample struct {
	kind  healthcheck.ReportKind
	value float64
	rtt   time.Duration
}

// A new generation drops every memoized reply, so a smoothed value that
// moves a little with every probe must not publish one each time. A load
// is published again only when it has moved by a band from what was
// published (a dead band, so noise around a value does not flip it), and
// load changes publish at most once per loadDelay.
const (
	shareBand  = 0.05 // of capacity
	weightBand = 0.05 // of the weight (relative), and at least weightMin
	weightMin  = 1
	rttBand    = 0.1                  // of the round-trip time (relative)
	rttFloor   = 5 * time.Millisecond // as policy.rttFloor
	loadDelay  = LoadDelay
)

// moved tells whether next differs enough from the published pub to be
// published.
func moved(pub, next sample) bool {
	if pub.kind != next.kind {
		return true
	}
	switch next.kind {
	case healthcheck.ReportLoad:
		if math.Abs(next.value-pub.value) >= shareBand {
			return true
		}
	case healthcheck.ReportWeight:
		if d := math.Abs(next.value - pub.value); d >= weightMin && d >= weightBand*pub.value {
			return true
		}
	}
	a, b := max(pub.rtt, rttFloor), max(next.rtt, rttFloor)
	return math.Abs(float64(b-a)) >= rttBand*float64(a)
}

// SetSample records a target's smoothed load and round-trip time after a
// probe (healthcheck.Scheduler's OnSample). It publishes, within
// loadDelay, only when the values moved past the dead band.
func (s *Store) SetSample(st healthcheck.Status) {
	next := sample{kind: st.Load.Kind, value: st.Load.Value, rtt: st.RTT}
	s.mu.Lock()
	if !s.rttKeys[st.Key] {
		// Only pick = "fastest" reads it: elsewhere it would publish
		// generations for nothing.
		next.rtt = 0
	}
	pub, ok := s.loads[st.Key]
	if !ok && next.kind == healthcheck.NoReport && next.rtt == 0 {
		s.mu.Unlock()
		return
	}
	if ok && !moved(pub, next) {
		s.mu.Unlock()
		return
	}
	if s.loads == nil {
		s.loads = make(map[healthcheck.Key]sample)
	}
	s.loads[st.Key] = next
	s.mu.Unlock()
	select {
	case s.loadDirty <- struct{}{}:
	default:
	}
}

// setRTTKeys notes the targets whose round-trip time a name's pick
// reads. Callers hold s.mu.
func (s *Store) setRTTKeys(names map[string]*Name) {
	s.rttKeys = make(map[healthcheck.Key]bool)
	for _, ns := range names {
		if !ns.Policy.WantsRTT() {
			continue
		}
		for _, ks := range ns.Keys {
			for _, k := range ks {
				s.rttKeys[k] = true
			}
		}
	}
}

// forgetLoads drops the samples of targets no longer probed. Callers
// hold s.mu.
func (s *Store) forgetLoads(keep map[healthcheck.Key]bool) {
	for k := range s.loads {
		if !keep[k] {
			delete(s.loads, k)
		}
	}
}

// LoadDelay is the longest a load change waits to be published.
const LoadDelay = 250 * time.Millisecond

// Feed is a value pushed for an address (POST /api/feed): a reported
// weight or share of capacity (Kind NoReport for none) and a state ("up",
// "down" or ""), until Expires.
type Feed struct {
	Kind    healthcheck.ReportKind
	Value   float64
	State   string
	Expires time.Time
}

// SetFeed records pushed values; queries see them within LoadDelay. A
// pushed load replaces what the address's load check reports; a pushed
// state counts as the checks' verdict (operator overrides still win).
func (s *Store) SetFeed(feeds map[netip.Addr]Feed) {
	s.mu.Lock()
	if s.feeds == nil {
		s.feeds = make(map[netip.Addr]Feed)
	}
	for a, f := range feeds {
		if old, ok := s.feeds[a]; ok {
			// A feed of only a load keeps a state pushed before, and
			// the other way round.
			if f.Kind == healthcheck.NoReport {
				f.Kind, f.Value = old.Kind, old.Value
			}
			if f.State == "" {
				f.State = old.State
			}
		}
		s.feeds[a] = f
	}
	s.mu.Unlock()
	select {
	case s.loadDirty <- struct{}{}:
	default:
	}
}

// expireFeeds drops the feeds expired at now, and reports whether there
// were any. Callers hold s.mu.
func (s *Store) expireFeeds(now time.Time) bool {
	n := len(s.feeds)
	maps.DeleteFunc(s.feeds, func(_ netip.Addr, f Feed) bool { return !now.Before(f.Expires) })
	return len(s.feeds) != n
}

// liveFeeds returns the feeds that hold at now. Callers hold s.mu.
func (s *Store) liveFeeds(now time.Time) map[netip.Addr]Feed {
	if len(s.feeds) == 0 {
		return nil
	}
	out := make(map[netip.Addr]Feed, len(s.feeds))
	for a, f := range s.feeds {
		if now.Before(f.Expires) {
			out[a] = f
		}
	}
	return out
}
