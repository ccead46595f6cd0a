package sign

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/dnssec"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

// TestSignAhead: after an override takes an address of a round-robin name
// out, signing ahead makes the one signature of what the name answers
// now, and the next DO query for it is a cache hit, not a new signature,
// whatever rotation it gets; the reply verifies. An RRset already cached
// is not signed again, and the bound stops a batch.
func TestSignAhead(t *testing.T) {
	s := newSigned(t, dns.ECDSAP256SHA256, false)
	sg := s.stage.Signers()["example.org."]
	w := answer.NewWorker(s.store, answer.Stages{Sign: s.stage}, nil)
	ask(t, w, "lb.example.org.", dns.TypeA, true, false, false, 1232)
	before := sg.Stats()

	s.store.SetOverride("192.0.2.11", "down")
	owners := []string{"lb.example.org."}
	if st := s.stage.SignAhead(s.store.Snapshot(), owners, time.Now(), 0, time.Second); st.Left != 1 || st.Sets != 0 {
		t.Errorf("bound of 0 RRsets: %+v, want the owner left", st)
	}
	st := s.stage.SignAhead(s.store.Snapshot(), owners, time.Now(), AheadSets, AheadTime)
	if st.Sets != 1 || st.Made != 1 || st.Left != 0 {
		t.Fatalf("signed ahead %+v, want 1 RRset (192.0.2.10 and .12), 1 made", st)
	}
	mid := sg.Stats()
	if mid.Made != before.Made+1 || mid.Hits != before.Hits {
		t.Errorf("after signing ahead: %+v, before %+v: want one more made, no hit", mid, before)
	}
	for i := range 3 { // three rotations, one signature
		r := ask(t, w, "lb.example.org.", dns.TypeA, true, false, false, 1232)
		var a []dns.RR
		var sig *dns.RRSIG
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				a = append(a, rr)
			case *dns.RRSIG:
				sig = rr
			}
		}
		if len(a) != 2 || sig == nil || sig.Verify(s.keys[0].DNSKEY, a) != nil {
			t.Fatalf("query %d after the override: %v", i, r.Answer)
		}
	}
	if after := sg.Stats(); after.Made != mid.Made || after.Hits == mid.Hits {
		t.Errorf("queries after signing ahead: %+v, before them %+v: want hits, no new signature", after, mid)
	}
	if again := s.stage.SignAhead(s.store.Snapshot(), owners, time.Now(), AheadSets, AheadTime); again.Made != 0 || again.Sets != 1 {
		t.Errorf("signing ahead again: %+v, want the RRset found in the cache", again)
	}
}

// TestAheadQueue: Ahead queues and returns without signing (its caller,
// the reader of the published snapshots, never waits for a signature);
// RunAhead signs what was queued, from the newest snapshot.
func TestAheadQueue(t *testing.T) {
	s := newSigned(t, dns.ED25519, false)
	sg := s.stage.Signers()["example.org."]
	s.store.SetOverride("192.0.2.11", "down")
	s.stage.Ahead(s.store.Snapshot(), []string{"lb.example.org."})
	s.store.SetOverride("192.0.2.11", "")
	s.store.SetOverride("192.0.2.10", "drain")
	s.stage.Ahead(s.store.Snapshot(), []string{"lb.example.org."})
	if st := sg.Stats(); st.Made != 0 {
		t.Fatalf("Ahead signed %d itself, want it to queue only", st.Made)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.stage.RunAhead(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for sg.Stats().Made == 0 {
		if time.Now().After(deadline) {
			t.Fatal("RunAhead signed nothing in 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // nothing more comes
	if st := sg.Stats(); st.Made != 1 || st.Cached != 1 {
		t.Errorf("after RunAhead: %+v, want 1 RRset signed (192.0.2.11 and .12)", st)
	}
	w := answer.NewWorker(s.store, answer.Stages{Sign: s.stage}, nil)
	ask(t, w, "lb.example.org.", dns.TypeA, true, false, false, 1232)
	if st := sg.Stats(); st.Made != 1 || st.Hits != 1 {
		t.Errorf("the query after RunAhead: %+v, want a hit: the newest snapshot's RRset signed", st)
	}
}

// TestSignAheadSingles: for a name that answers one address
// (max_answers = 1, a random pick), signing ahead signs each servable
// address alone, so whichever a query draws is a cache hit.
func TestSignAheadSingles(t *testing.T) {
	txt := strings.Repeat("x", 200)
	z, err := zones.Parse("example.org.", "example.org.zone", fmt.Appendf(nil, testZone, txt+"1", txt+"2", txt+"3", txt+"4", txt+"5"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("dnslb.toml", []byte(`[[zone]]
name = "example.org"
file = "example.org.zone"
[name."lb.example.org"]
pick = "random"
max_answers = 1
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.Defaults()
	names, errs := state.CompileNames(&cfg, []*zones.Zone{z}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, _ := state.NewStore()
	if err := st.Replace([]*zones.Zone{z}, names, state.Serving{UDPSize: 1232}); err != nil {
		t.Fatal(err)
	}
	k, _ := dnssec.Generate("example.org.", dns.ED25519, true)
	sg, _ := dnssec.NewSigner("example.org.", []*dnssec.Key{k}, 300)
	stage := New(nil)
	stage.Apply(Signers{"example.org.": sg})
	st.SetOverride("192.0.2.11", "down")
	// {.10}, {.12} and the servable {.10, .12} (one of the singles is
	// also what the policy answered the unplaced client).
	if a := stage.SignAhead(st.Snapshot(), []string{"lb.example.org."}, time.Now(), AheadSets, AheadTime); a.Sets != 3 || a.Made != 3 {
		t.Fatalf("signed ahead %+v, want 3 RRsets made", a)
	}
	w := answer.NewWorker(st, answer.Stages{Sign: stage}, nil)
	before := sg.Stats()
	seen := map[string]bool{}
	for range 40 {
		r := ask(t, w, "lb.example.org.", dns.TypeA, true, false, false, 1232)
		if count(r.Answer, dns.TypeA) != 1 || count(r.Answer, dns.TypeRRSIG) != 1 {
			t.Fatalf("reply: %v", r.Answer)
		}
		seen[r.Answer[0].(*dns.A).A.String()] = true
	}
	if after := sg.Stats(); after.Made != before.Made {
		t.Errorf("queries made %d new signatures after signing ahead (answered %v)", after.Made-before.Made, seen)
	}
	if len(seen) != 2 || seen["192.0.2.11"] {
		t.Errorf("answered %v, want 192.0.2.10 and .12", seen)
	}
}
