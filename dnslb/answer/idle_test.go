package answer

import (
	"runtime"
	"testing"
	"weak"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

// TestIdleLetsGoOfOldGeneration: a worker that answered from one
// generation keeps it (its memo holds the snapshot) until it answers
// again; Idle, which the serving loops call when they have waited with
// nothing to do, lets it go, so that a reload's old zones can be
// collected on a quiet server.
func TestIdleLetsGoOfOldGeneration(t *testing.T) {
	st := stageStore(t)
	w := NewWorker(st, Stages{}, nil)
	for range 3 { // the memo keeps a reply from its key's second query
		if r := stageQuery(t, w); r == nil || len(r.Answer) != 2 {
			t.Fatalf("reply %v", r)
		}
	}
	if w.MemoStats().Entries == 0 {
		t.Fatal("the memo kept nothing: the test would prove nothing")
	}
	old := weak.Make(st.Snapshot())
	// The decided reply's records (the plan's Scratch) point into the
	// zone's addresses: Idle lets go of those too.
	addrs := func() weak.Pointer[byte] {
		set := st.Snapshot().Zone("www.example.org.").Node("www.example.org.").Set(dns.TypeA)
		return weak.Make(&set.AppendRR(nil, 0, nil)[0].(*dns.A).A[0])
	}()

	// A reload: a new generation with a new copy of the zone.
	z, err := zones.Parse("example.org.", "example.org.zone", []byte(stageZone))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Replace([]*zones.Zone{z}, nil, state.Serving{UDPSize: 1232}); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	if old.Value() == nil {
		t.Fatal("the old generation was collected while the worker's memo held it: the test would prove nothing")
	}

	w.Idle()
	if n := w.MemoStats().Entries; n != 0 {
		t.Errorf("after Idle the memo holds %d entries of the old generation", n)
	}
	for range 3 {
		runtime.GC()
	}
	if old.Value() != nil {
		t.Error("after Idle the old generation is still reachable")
	}
	if addrs.Value() != nil {
		t.Error("after Idle the old zone's addresses are still reachable (the last reply's records)")
	}
	// The worker still answers, from the new generation.
	if r := stageQuery(t, w); r == nil || len(r.Answer) != 2 {
		t.Fatalf("reply after Idle %v", r)
	}
	runtime.KeepAlive(w)
}
