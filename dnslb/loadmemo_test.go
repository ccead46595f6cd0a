package dnslb

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/healthcheck"
)

// TestMemoUnderChangingLoad measures the memo's hit rate for a
// least-loaded name whose three addresses report loads with ±10% noise,
// smoothed as the prober does (half-life one interval): once through the
// store's dead band and publisher, once publishing a generation at every
// interval, as smoothed values without a band would. 2,000 queries from
// 200 client subnets per interval.
func TestMemoUnderChangingLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("20 intervals of 300ms twice")
	}
	path := writePolicyConfig(t)
	rate := func(band bool) (float64, int) {
		w := newConfigWorker(t, path)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go w.s.store.RunPublisher(ctx)
		r := rand.New(rand.NewPCG(5, 6))
		base := []float64{0.3, 0.33, 0.36}
		smoothed := slices3(base)
		var pkts [][]byte
		for i := range 200 {
			m := new(dns.Msg)
			m.SetQuestion("ll.example.org.", dns.TypeA)
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 2,
				SourceNetmask: 56, Address: ecsSubnet(i)})
			pkt, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, pkt)
		}
		buf := make([]byte, 4096)
		const intervals, perInterval = 20, 2000
		hits0 := w.ans.MemoStats().Hits
		gens, last := 0, w.s.store.Snapshot()
		for range intervals {
			for i := range 3 {
				report := base[i] * (1 + 0.1*(2*r.Float64()-1))
				smoothed[i] = smoothed[i]/2 + report/2
				w.s.store.SetSample(healthcheck.Status{
					Key:  healthcheck.Key{Check: "lb", Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})},
					Load: healthcheck.Report{Kind: healthcheck.ReportLoad, Value: smoothed[i]},
				})
			}
			if !band {
				w.s.store.Publish()
			}
			time.Sleep(state.LoadDelay + 50*time.Millisecond) // the publisher's delay, not a state to wait for
			if sn := w.s.store.Snapshot(); sn != last {
				gens, last = gens+1, sn
			}
			for q := range perInterval {
				if w.answer(pkts[q%len(pkts)], netip.MustParseAddrPort("[2001:db8::53]:53"), buf) == nil {
					t.Fatal("no reply")
				}
			}
		}
		return float64(w.ans.MemoStats().Hits-hits0) / (intervals * perInterval), gens
	}
	withBand, gb := rate(true)
	without, gw := rate(false)
	t.Logf("memo hit rate over 20 intervals of noisy loads: %.4f with the dead band (%d new generations), %.4f with a generation per interval (%d)", withBand, gb, without, gw)
	if gb > 4 {
		t.Errorf("%d generations in 20 intervals with the dead band, want at most 4", gb)
	}
	if withBand < without || withBand < 0.95 {
		t.Errorf("memo hit rate %.4f with the dead band, %.4f without: want >= 0.95 and no worse", withBand, without)
	}
}

func slices3(b []float64) []float64 { return append([]float64(nil), b...) }
