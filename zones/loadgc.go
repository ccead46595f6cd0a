package zones

import (
	"runtime/debug"
	"sync"
)

// A large load makes garbage at a great rate (the zone parser's records,
// dropped once build has kept their data) while what stays live grows to
// the whole zone: with the collector's default target (GOGC=100) it ran
// through about 13% of a million-record load, and preempted the parsers
// at every cycle. While files of parallelMinLines lines or more load, the
// target is loadGCPercent, restored when the last such load ends. A
// reload's memory stays bounded all the same: the soft memory limit the
// server sets for it (dnslb/reloadmem.go) makes the collector run
// whatever the target. A higher target set by the operator (or GOGC=off)
// is left alone.
const loadGCPercent = 400

var (
	gcMu     sync.Mutex
	gcLoads  int // loads running under loadGCPercent
	gcBefore int // the target before the first of them
)

// relaxGC raises the collector's target for one large load; the function
// it returns ends that load's part in it.
func relaxGC() (restore func()) {
	gcMu.Lock()
	defer gcMu.Unlock()
	if gcLoads == 0 {
		gcBefore = debug.SetGCPercent(loadGCPercent)
		if gcBefore < 0 || gcBefore >= loadGCPercent {
			debug.SetGCPercent(gcBefore)
		}
	}
	gcLoads++
	return func() {
		gcMu.Lock()
		defer gcMu.Unlock()
		if gcLoads--; gcLoads == 0 && gcBefore >= 0 && gcBefore < loadGCPercent {
			debug.SetGCPercent(gcBefore)
		}
	}
}
