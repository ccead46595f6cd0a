package dnslb

import (
	"math"
	"testing"

	"github.com/miekg/dns"
)

// TestAddressShare: weights 1, 2 and 1 over real queries give counted
// shares near 25%, 50%, 25%, every answer counted once (memo hits and
// decided replies, UDP and TCP); with the heavy one drained the window
// moves to the other two, half each. The status and /metrics agree, and
// the expected shares say the same from the config;
// dnslb_name_address_answers_total counts every answer.
func TestAddressShare(t *testing.T) {
	cfgPath := writeLBConfig(t, `
[admin]
status_interval = "100ms"
[name."www.example.org"]
pick = "weighted"
weights = { "127.0.0.1" = 1, "127.0.0.2" = 2, "127.0.0.3" = 1 }
`)
	srv, addr := startServer(t, cfgPath)
	addrs := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	total := make(map[string]uint64) // every answer's first address
	ask := func(n int) map[string]int {
		t.Helper()
		leads := make(map[string]int)
		for i := range n {
			m := new(dns.Msg)
			m.SetQuestion("www.example.org.", dns.TypeA)
			transport := "udp"
			if i%10 == 0 {
				transport = "tcp"
			}
			r := exchange(t, addr, transport, m)
			if len(r.Answer) == 0 {
				t.Fatalf("no answer: %v", r)
			}
			leads[r.Answer[0].(*dns.A).A.String()]++
			total[r.Answer[0].(*dns.A).A.String()]++
		}
		return leads
	}
	answers := func() map[string]uint64 {
		out := make(map[string]uint64)
		for _, a := range srv.Status().Names[0].Addresses {
			out[a.Addr.String()] = a.Answers
		}
		return out
	}
	// near checks the counted shares (status and metric) against want,
	// within tol, while queries go on (the window is 1.2s).
	near := func(want []float64, tol float64) {
		t.Helper()
		waitFor(t, "counted shares", func() bool {
			ask(50)
			for i, a := range srv.Status().Names[0].Addresses {
				series := `dnslb_name_address_share{address="` + a.Addr.String() + `",name="www.example.org"}`
				if math.Abs(a.Share-want[i]) > tol || (want[i] == 0) != (a.Share == 0) || math.Abs(metricValue(t, srv, series)-want[i]) > tol {
					return false
				}
			}
			return true
		})
		for i, a := range srv.Status().Names[0].Addresses {
			t.Logf("%s: share %.3f (want %.2f), expected %.2f, answers %d", a.Addr, a.Share, want[i], a.Expected, a.Answers)
		}
	}

	// Every reply counted once, under the address it led with.
	allCounted := func() {
		t.Helper()
		waitFor(t, "every answer counted", func() bool {
			got := answers()
			for _, a := range addrs {
				series := `dnslb_name_address_answers_total{address="` + a + `",name="www.example.org"}`
				if got[a] != total[a] || metricValue(t, srv, series) != float64(total[a]) {
					return false
				}
			}
			return true
		})
	}
	const n = 2000
	ask(n)
	allCounted()
	near([]float64{0.25, 0.5, 0.25}, 0.05)
	for i, a := range srv.Status().Names[0].Addresses {
		if want := []float64{0.25, 0.5, 0.25}[i]; a.Expected != want {
			t.Errorf("expected share of %s = %v, want %v", a.Addr, a.Expected, want)
		}
	}

	if err := srv.SetOverride("127.0.0.2", "drain"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drain in the answers", func() bool {
		l := ask(20)
		return l["127.0.0.2"] == 0
	})
	leads := ask(n)
	if leads["127.0.0.2"] != 0 {
		t.Fatalf("a drained address led %d answers", leads["127.0.0.2"])
	}
	// The window (12 samples of 100ms) holds only answers after the drain.
	near([]float64{0.5, 0, 0.5}, 0.06)
	allCounted()
	for i, a := range srv.Status().Names[0].Addresses {
		if want := []float64{0.5, 0, 0.5}[i]; a.Expected != want {
			t.Errorf("expected share of %s = %v, want %v", a.Addr, a.Expected, want)
		}
	}

	// A reload compiles new counters: the status counts from zero, the
	// metric goes on.
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	since := make(map[string]uint64)
	for a, n := range total {
		since[a] = n
	}
	ask(200)
	waitFor(t, "the counts after the reload", func() bool {
		got := answers()
		for _, a := range addrs {
			series := `dnslb_name_address_answers_total{address="` + a + `",name="www.example.org"}`
			if got[a] != total[a]-since[a] || metricValue(t, srv, series) != float64(total[a]) {
				return false
			}
		}
		return true
	})
}
