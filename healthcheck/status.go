package healthcheck

import (
	"cmp"
	"net/netip"
	"time"
)

// Key identifies a target: a named check applied to one address. It is
// comparable, so dnslb can use it as a map key.
type Key struct {
	Check string // the check's name, e.g. "web" for [healthcheck.web]
	Addr  netip.Addr
}

// String returns "check/addr", e.g. "web/192.0.2.1".
func (k Key) String() string { return k.Check + "/" + k.Addr.String() }

func compareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Check, b.Check), a.Addr.Compare(b.Addr))
}

// Target is one thing the scheduler probes: Config applied to Key.Addr.
type Target struct {
	Key    Key
	Config Config
}

// State is the health of a target.
type State uint8

// States of a target. Every target starts Unknown; its first probe result
// makes it Up or Down at once, later results move it only after rise
// successes or fall failures in a row.
const (
	Unknown State = iota
	Up
	Down
)

// String returns "unknown", "up" or "down".
func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// Status is what the scheduler knows about one target. OnChange receives
// it when State changes; Snapshot returns it for every target.
type Status struct {
	Key   Key
	State State
	// Reason is the reason of the result that caused the last change.
	Reason string
	// Since is when State last changed (when the target was added while
	// State is Unknown).
	Since time.Time
	// Last is the most recent probe result and LastProbe when it ended.
	Last      Result
	LastProbe time.Time
	// Successes and Failures count consecutive results; one is always 0.
	Successes int
	Failures  int
	// Flaps counts changes between Up and Down (not from Unknown).
	Flaps int
	// Probes counts completed probes.
	Probes int
	// Load is the smoothed load report (an EWMA with the check's
	// half_life), Kind NoReport until a load check's first report. RTT is
	// the smoothed round-trip time of the successful probes.
	Load Report
	RTT  time.Duration
}

// Up reports whether the target is up.
func (s Status) Up() bool { return s.State == Up }

// apply records one probe result and reports whether State changed.
func (s *Status) apply(r Result, now time.Time, rise, fall int, hl time.Duration) bool {
	s.sample(r, s.LastProbe, now, hl)
	s.Last, s.LastProbe = r, now
	s.Probes++
	if r.OK {
		s.Successes++
		s.Failures = 0
	} else {
		s.Failures++
		s.Successes = 0
	}
	next := s.State
	switch {
	case s.State == Unknown && r.OK, s.State == Down && s.Successes >= rise:
		next = Up
	case s.State == Unknown && !r.OK, s.State == Up && s.Failures >= fall:
		next = Down
	}
	if next == s.State {
		return false
	}
	if s.State != Unknown {
		s.Flaps++
	}
	s.State, s.Reason, s.Since = next, r.Reason, now
	return true
}
