package state

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/healthcheck"
)

// noisyLoads reports base[addr] × (1 ± noise), uniformly drawn.
type noisyLoads struct {
	mu    sync.Mutex
	r     *rand.Rand
	base  map[netip.Addr]float64
	noise float64
}

func (n *noisyLoads) Check(ctx context.Context, a netip.Addr) healthcheck.Result {
	n.mu.Lock()
	defer n.mu.Unlock()
	v := n.base[a] * (1 + n.noise*(2*n.r.Float64()-1))
	return healthcheck.Result{OK: true, Reason: "ok", Latency: time.Millisecond,
		Report: healthcheck.Report{Kind: healthcheck.ReportLoad, Value: v}}
}

// TestNoisyLoadsRanking runs the prober, the store and its publisher over
// 100 check intervals of reports with ±10% noise (in a synctest bubble,
// with a fake checker) and counts how often the ranking of the addresses
// by published load changes, and how many generations the loads publish.
func TestNoisyLoadsRanking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")}
		fake := &noisyLoads{r: rand.New(rand.NewPCG(1, 2)), noise: 0.1,
			base: map[netip.Addr]float64{addrs[0]: 0.40, addrs[1]: 0.43, addrs[2]: 0.46}}
		p, errs := policy.CompilePolicy("www.example.org.", config.NameConfig{Pick: "least-loaded"}, addrs)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		cfg := healthcheck.DefaultConfig()
		cfg.Type, cfg.Interval, cfg.Timeout = healthcheck.TypeLoad, 10*time.Second, time.Second
		ns := &Name{Owner: "www.example.org.", Policy: p, Addrs: addrs, Checks: []string{"lb"}}
		var targets []healthcheck.Target
		for _, a := range addrs {
			k := healthcheck.Key{Check: "lb", Addr: a}
			ns.Keys = append(ns.Keys, []healthcheck.Key{k})
			targets = append(targets, healthcheck.Target{Key: k, Config: cfg})
		}
		st, err := NewStore()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Replace(nil, map[string]*Name{ns.Owner: ns}, Serving{}); err != nil {
			t.Fatal(err)
		}
		sched := healthcheck.New(healthcheck.SchedulerConfig{
			Rand:       rand.New(rand.NewPCG(3, 4)),
			OnSample:   st.SetSample,
			NewChecker: func(healthcheck.Config) (healthcheck.Checker, error) { return fake, nil },
		})
		if err := sched.SetTargets(targets); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go sched.Run(ctx)
		go st.RunPublisher(ctx)

		ranking := func(sn *Snapshot) []netip.Addr {
			v := sn.Name(ns.Owner)
			r := slices.Clone(addrs)
			slices.SortStableFunc(r, func(a, b netip.Addr) int {
				la, _ := v.Load(a)
				lb, _ := v.Load(b)
				switch {
				case la.Share < lb.Share:
					return -1
				case la.Share > lb.Share:
					return 1
				}
				return 0
			})
			return r
		}
		time.Sleep(2 * cfg.Interval) // every target has reported
		synctest.Wait()
		prev, last := ranking(st.Snapshot()), st.Snapshot()
		const intervals = 100
		changes, generations := 0, 0
		for range intervals {
			time.Sleep(cfg.Interval)
			synctest.Wait()
			sn := st.Snapshot()
			if sn != last {
				generations++
				last = sn
			}
			if r := ranking(sn); !slices.Equal(r, prev) {
				changes++
				prev = r
			}
		}
		t.Logf("over %d intervals (%d probes): %d ranking changes, %d intervals with a new generation", intervals, intervals*len(addrs), changes, generations)
		if changes > intervals/10 {
			t.Errorf("ranking changed %d times in %d intervals, want at most %d", changes, intervals, intervals/10)
		}
		if generations > intervals/10 {
			t.Errorf("loads published a generation in %d of %d intervals, want at most %d (the memo is dropped each time)", generations, intervals, intervals/10)
		}
		cancel()
	})
}
