package zonefile

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Reloading a zone parses a new copy while the old one keeps serving, so
// for a moment both are live. Left to itself the garbage collector lets
// the heap grow to twice what is live at that moment, and it returns freed
// pages to the system only slowly: a 1,000,000-record zone (about 400 MiB
// resident) reached 1.1 GB after a few reloads. For large zones (at least
// BigZoneRecords records served) two measures keep a reload near one copy
// plus the new one:
//
//   - while the files are read, a soft memory limit (runtime/debug
//     SetMemoryLimit) of reloadMemFactor times what the process held when
//     it last settled (after its first load, or after the last reload gave
//     its old generation back), and never below what it holds now, so the
//     collector works harder instead of growing the heap (never above a
//     limit the operator set with GOMEMLIMIT);
//   - once the new generation serves and the old one is garbage, its pages
//     go back to the system (debug.FreeOSMemory), after a short delay in
//     which serving goroutines drop their last references to it, and once
//     more a few seconds later (one such give-back pending at a time,
//     however often reloads come);
//   - each reload starts with a give-back too, and takes what is held
//     then as settled, so it never grows from garbage the last one left.
//
// Small zones skip both: a forced collection and a tight limit would cost
// more than the memory they save.

// BigZoneRecords is the number of records served from which reloads bound
// their memory.
const BigZoneRecords = 100_000

// reloadMemFactor bounds the process's memory during a reload, as a
// multiple of what it held when it settled (one copy of every zone, the
// heap's slack, the runtime's own).
const reloadMemFactor = 1.8

// reloadFreeDelay is how long after a reload its old generation is given
// back: every serving goroutine has taken the new snapshot by then, or,
// idle, let go of the old one (answer.Worker.Idle, within a second).
const reloadFreeDelay = 2 * time.Second

// startupGCPercent is the collector's GOGC while the first load reads
// the zones. What is live then only grows (the zones being built) and
// the rest is the zone parser's garbage, so each collection mostly marks
// the same zone again: at the default 100 a 1,000,000-record zone was
// marked about eight times over while it loaded, a fifth of the load's
// CPU. At 400 it is marked about three times. The heap grows further
// between collections while loading; settle (package dnslb's New) gives it back once
// loaded, and reloads are bounded by BoundReloadMemory instead.
const startupGCPercent = 400

// LoosenStartupGC sets GOGC to startupGCPercent for the first load, unless
// the operator set GOGC; the function it returns puts it back.
func LoosenStartupGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(startupGCPercent)
	return func() { debug.SetGCPercent(old) }
}

// BoundReloadMemory sets the soft memory limit for one reload when big;
// the function it returns restores the limit before, and gives the old
// generation's memory back when changed says zones were replaced.
func BoundReloadMemory(big bool) (done func(changed bool)) {
	if !big {
		return func(bool) {}
	}
	// The last reload's old generation may not have gone back yet: its
	// give-back is still to come or still running (a forced collection
	// of a large heap takes a while), or it ran while something still
	// held that generation, and the runtime returns pages only slowly by
	// itself. The limit below is never under 1.25x what is held now, so a
	// reload soon after another one grew from both copies: 5,000,000
	// records reloaded 4 s apart peaked at 2.2x settled (1.8x 15 s
	// apart). So each big reload first gives back what is garbage and
	// takes what is left as settled: one forced collection, a small part
	// of a reload that parses a zone this large.
	settle()
	before := debug.SetMemoryLimit(-1) // reads it
	now := runtimeHeld()
	limit := int64(float64(max(settledHeld.Load(), 1)) * reloadMemFactor)
	limit = min(max(limit, now+now/4), before)
	debug.SetMemoryLimit(limit)
	return func(changed bool) {
		debug.SetMemoryLimit(before)
		if changed {
			SettleSoon()
		}
	}
}

var (
	// settledHeld is what the process held after it last gave memory back.
	settledHeld atomic.Int64
	// settling is set while a give-back is pending.
	settling atomic.Bool
	settleMu sync.Mutex
)

// SettleSoon gives freed memory back after reloadFreeDelay, unless a
// give-back is pending already.
func SettleSoon() {
	if settling.CompareAndSwap(false, true) {
		time.AfterFunc(reloadFreeDelay, func() {
			settle()
			// Once more a little later: the first may have come while
			// something still held the old generation (5,000,000 records
			// under load: 798 MiB held 4 s after the reload, 561 when
			// settled), whose pages the runtime would then return only
			// slowly by itself.
			time.AfterFunc(3*reloadFreeDelay, func() {
				settling.Store(false)
				settle()
			})
		})
	}
}

// settle gives freed memory back to the system and notes what is held.
func settle() {
	settleMu.Lock()
	defer settleMu.Unlock()
	debug.FreeOSMemory()
	settledHeld.Store(runtimeHeld())
}

// runtimeHeld is the memory the Go runtime holds from the system and has
// not given back: what the memory limit is measured against.
func runtimeHeld() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	for _, v := range s {
		if v.Value.Kind() != metrics.KindUint64 {
			return 0
		}
	}
	t, r := s[0].Value.Uint64(), s[1].Value.Uint64()
	if r > t || t-r > math.MaxInt64 {
		return 0
	}
	return int64(t - r)
}
