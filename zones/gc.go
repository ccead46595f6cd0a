package zones

import (
	"runtime/debug"
	"sync"
)

// The collector is about a sixth of a large load on one core (a zone of a
// million records): the heap grows from nothing to the zone's 110 MB, and
// at the default GOGC of 100 it is marked again each time it doubles, with
// the parser's garbage (two to three times the zone) going by. While a
// large file is read, the collector waits for the heap to grow by
// loadGCPercent instead, so it marks the growing zone two or three times
// rather than six or seven. The peak this adds is garbage: the server gives
// it back to the system once the zone serves (dnslb/reloadmem.go), and a
// reload's soft memory limit, set there, still bounds the heap (a memory
// limit overrides GOGC).

// loadGCPercent is GOGC while a large zone loads.
const loadGCPercent = 400

// loadGCMinLines is the size, in lines, from which a load raises GOGC: a
// small file costs the collector little.
const loadGCMinLines = 100_000

var loadGC struct {
	sync.Mutex
	n      int // loads under way with GOGC raised
	before int // GOGC before the first of them
}

// raiseGC raises GOGC to loadGCPercent for a load of about lines lines,
// unless it is higher already (or off), and returns the function that
// puts it back once no such load is under way (loads may overlap: the
// zones of one reload are read side by side).
func raiseGC(lines int) (restore func()) {
	if lines < loadGCMinLines {
		return func() {}
	}
	loadGC.Lock()
	defer loadGC.Unlock()
	if loadGC.n == 0 {
		loadGC.before = debug.SetGCPercent(loadGCPercent)
		if loadGC.before < 0 || loadGC.before >= loadGCPercent {
			debug.SetGCPercent(loadGC.before) // off, or higher: the operator's
		}
	}
	loadGC.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			loadGC.Lock()
			defer loadGC.Unlock()
			if loadGC.n--; loadGC.n == 0 {
				debug.SetGCPercent(loadGC.before)
			}
		})
	}
}
