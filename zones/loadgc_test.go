package zones

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestRelaxGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	first := relaxGC()
	second := relaxGC()
	if p := gcPercent(); p != loadGCPercent {
		t.Fatalf("during two loads: GOGC %d, want %d", p, loadGCPercent)
	}
	first()
	if p := gcPercent(); p != loadGCPercent {
		t.Fatalf("after the first of two loads: GOGC %d, want %d", p, loadGCPercent)
	}
	second()
	if p := gcPercent(); p != 150 {
		t.Fatalf("after both loads: GOGC %d, want 150 restored", p)
	}
	// The operator's higher target, or none, is left alone.
	for _, op := range []int{-1, 1000} {
		debug.SetGCPercent(op)
		done := relaxGC()
		if p := gcPercent(); p != op {
			t.Errorf("GOGC %d: %d during a load", op, p)
		}
		done()
		if p := gcPercent(); p != op {
			t.Errorf("GOGC %d: %d after a load", op, p)
		}
	}
}
