package zones

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestLoadProfileZone loads the zone named by DNSLB_PROFILE_ZONE (a
// bench/genzone file) and reports the time and the live heap: run with
// -cpuprofile/-memprofile to see where loading goes. Without it, nothing
// to measure. DNSLB_PROFILE_ONCE=1 leaves out the second load (LoadShared).
func TestLoadProfileZone(t *testing.T) {
	path := os.Getenv("DNSLB_PROFILE_ZONE")
	if path == "" {
		t.Skip("DNSLB_PROFILE_ZONE not set")
	}
	t0, c0 := time.Now(), cpuTime(t)
	z, err := Load("bench.example.", path)
	if err != nil {
		t.Fatal(err)
	}
	d, c := time.Since(t0), cpuTime(t)-c0
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d records in %v (CPU %v, GOMAXPROCS %d), live heap %d MiB (%.0f B/record)", z.Len(), d, c, runtime.GOMAXPROCS(0), ms.HeapAlloc>>20, float64(ms.HeapAlloc)/float64(z.Len()))
	if os.Getenv("DNSLB_PROFILE_ONCE") != "" {
		return
	}
	// The same file again over the first: what a reload that changes
	// nothing but the serial holds beside the zone it replaces.
	t0 = time.Now()
	z2, err := LoadShared("bench.example.", path, z)
	if err != nil {
		t.Fatal(err)
	}
	d = time.Since(t0)
	before := ms.HeapAlloc
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("again over it (LoadShared) in %v: both zones %d MiB, the second adds %.0f B/record", d, ms.HeapAlloc>>20, float64(ms.HeapAlloc-before)/float64(z.Len()))
	runtime.KeepAlive(z)
	runtime.KeepAlive(z2)
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
