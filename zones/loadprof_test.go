package zones

import (
	"os"
	"runtime"
	"runtime/debug"
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
		// What the process would hold once the server gives memory back
		// (dnslb/reloadmem.go): the heap's pages in use, not only its
		// live objects.
		debug.FreeOSMemory()
		runtime.ReadMemStats(&ms)
		t.Logf("after FreeOSMemory: heap in use %d MiB, held from the system %d MiB (%.0f B/record); heap idle %d KiB, spans %d KiB, GC %d KiB, other %d KiB, stacks %d KiB",
			ms.HeapInuse>>20, (ms.Sys-ms.HeapReleased)>>20, float64(ms.Sys-ms.HeapReleased)/float64(z.Len()),
			(ms.HeapIdle-ms.HeapReleased)>>10, ms.MSpanSys>>10, ms.GCSys>>10, ms.OtherSys>>10, ms.StackSys>>10)
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
