package dnslb

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/state"
)

// ecsSubnet is client subnet i: a /56 of 2001:db8::/32 (the IPv4
// documentation ranges have too few /24s for a distribution test).
func ecsSubnet(i int) net.IP {
	ip := make(net.IP, 16)
	copy(ip, []byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i)})
	return ip
}

// firstAnswers asks www.example.org A once for each client subnet in
// [0, n), over UDP from a few sockets at once, and returns the first
// address of each answer ("" for none, "SERVFAIL" for that rcode).
func firstAnswers(t *testing.T, addr string, n int) []string {
	t.Helper()
	out := make([]string, n)
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			conn, err := c.Dial(addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			for i := w; i < n; i += workers {
				m := new(dns.Msg)
				m.SetQuestion("www.example.org.", dns.TypeA)
				m.SetEdns0(1232, false)
				m.IsEdns0().Option = append(m.IsEdns0().Option,
					&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 2, SourceNetmask: 56, Address: ecsSubnet(i)})
				r, _, err := c.ExchangeWithConn(m, conn)
				if err != nil {
					errs <- fmt.Errorf("query %d: %w", i, err)
					return
				}
				switch {
				case r.Rcode == dns.RcodeServerFailure:
					out[i] = "SERVFAIL"
				case len(r.Answer) > 0:
					out[i] = r.Answer[0].(*dns.A).A.String()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

func shares(firsts []string) map[string]float64 {
	s := map[string]float64{}
	for _, a := range firsts {
		s[a] += 1 / float64(len(firsts))
	}
	return s
}

// addrStatus returns the status of address a of www.example.org.
func addrStatus(t *testing.T, srv *Server, a string) (admin.NameStatus, admin.AddressStatus) {
	t.Helper()
	for _, n := range srv.Status().Names {
		for _, as := range n.Addresses {
			if as.Addr.String() == a {
				return n, as
			}
		}
	}
	t.Fatalf("no status for %s", a)
	return admin.NameStatus{}, admin.AddressStatus{}
}

// sampleMatchesStatus checks that what the status page's history samples
// (Server.Sample) is what Status says of each address's state and
// override, and returns the states it saw.
func sampleMatchesStatus(t *testing.T, srv *Server) []string {
	t.Helper()
	var want, got []string
	for _, n := range srv.Status().Names {
		for _, as := range n.Addresses {
			want = append(want, n.Name+" "+as.Addr.String()+" "+as.State+" "+as.Override)
		}
	}
	lr := srv.Sample(func(s admin.AddressSample) {
		got = append(got, s.Name+" "+s.Addr.String()+" "+s.State+" "+s.Override)
	})
	if !slices.Equal(got, want) {
		t.Errorf("Sample gives\n%s\nStatus says\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := srv.Status().LastReload; !lr.Time.Equal(st.Time) || lr.Trigger != st.Trigger {
		t.Errorf("Sample's last reload %v, Status's %v", lr, st)
	}
	return got
}

// TestSampleCheap: the history's sample allocates nothing per address
// without overrides, a few objects per call and per name (the store's
// rows); Status, which it replaced, made tens per address. So a config of
// many names costs little every status_interval.
func TestSampleCheap(t *testing.T) {
	srv, _ := startServer(t, writeLBConfig(t, `
[name."www.example.org"]
pick = "weighted"
weights = { "127.0.0.1" = 1, "127.0.0.2" = 2, "127.0.0.3" = 1 }
`+failoverName))
	n := 0
	count := func(admin.AddressSample) { n++ }
	srv.Sample(count)
	if n != 6 {
		t.Fatalf("Sample gave %d addresses, want 6", n)
	}
	per := testing.AllocsPerRun(20, func() { srv.Sample(count) })
	st := testing.AllocsPerRun(20, func() { srv.Status() })
	t.Logf("allocations per sample: %v (Status: %v)", per, st)
	if per > 20 {
		t.Errorf("Sample allocates %v objects for 2 names of 6 addresses, want at most 20", per)
	}
}

// smoothedIs tells whether the generation has address a at value v.
func smoothedIs(t *testing.T, srv *Server, a string, v float64) bool {
	_, as := addrStatus(t, srv, a)
	return as.Load != nil && as.Load.Smoothed != nil && math.Abs(*as.Load.Smoothed-v) < 0.01*max(1, v)
}

// TestLoadWeightsEndToEnd: three HTTP backends report weights as a bare
// number and as JSON; over 50,000 queries with ECS from 50,000 subnets
// each address's share is its weight's within ±3 points, and when one
// weight grows by 10% at least 95% of the subnets keep their address.
func TestLoadWeightsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for probes, 60,000 queries")
	}
	bs, port := startBackends(t, 3)
	bs[0].body.Store("50\n")
	bs[1].body.Store(`{"weight": 30}`)
	bs[2].body.Store("20")
	cfgPath := writeLBConfig(t, fmt.Sprintf(`
[healthcheck.lb]
type = "load"
port = %d
path = "/load"
interval = "1s"
timeout = "500ms"
half_life = "1ms"

[name."www.example.org"]
check = "lb"
pick = "least-loaded"
max_answers = 1
`, port))
	srv, addr := startServer(t, cfgPath)
	waitFor(t, "the three weights", func() bool {
		return smoothedIs(t, srv, "127.0.0.1", 50) && smoothedIs(t, srv, "127.0.0.2", 30) && smoothedIs(t, srv, "127.0.0.3", 20)
	})
	const n = 50000
	before := firstAnswers(t, addr, n)
	got := shares(before)
	for a, want := range map[string]float64{"127.0.0.1": 0.5, "127.0.0.2": 0.3, "127.0.0.3": 0.2} {
		if math.Abs(got[a]-want) > 0.03 {
			t.Errorf("share of %s = %.3f, want %.2f ± 0.03", a, got[a], want)
		}
	}
	t.Logf("shares at 50/30/20: %.3f %.3f %.3f", got["127.0.0.1"], got["127.0.0.2"], got["127.0.0.3"])

	bs[1].body.Store(`{"weight": 33}`)
	waitFor(t, "weight 33", func() bool { return smoothedIs(t, srv, "127.0.0.2", 33) })
	const m = 10000
	after := firstAnswers(t, addr, m)
	kept := 0
	for i := range after {
		if after[i] == before[i] {
			kept++
		} else if after[i] != "127.0.0.2" {
			t.Fatalf("subnet %d moved from %s to %s: only moves to the grown 127.0.0.2 are due", i, before[i], after[i])
		}
	}
	if frac := float64(kept) / m; frac < 0.95 {
		t.Errorf("after 30 -> 33, %.3f of subnets kept their address, want >= 0.95", frac)
	} else {
		t.Logf("after 30 -> 33, %.4f of subnets kept their address", frac)
	}
}

// TestShedEndToEnd: an address whose load goes above the high watermark
// gets no share within one check interval, is shown as shed (not down)
// in the status and the metrics, comes back only below high minus the
// margin, and a name whose every address is shed still answers, with the
// least loaded, and is not all down.
func TestShedEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for probes")
	}
	bs, port := startBackends(t, 3)
	for i, b := range bs {
		b.body.Store(fmt.Sprintf(`{"connections": %d}`, 300+100*i)) // 0.3, 0.4, 0.5
	}
	cfgPath := writeLBConfig(t, fmt.Sprintf(`
[healthcheck.lb]
type = "load"
port = %d
capacity = 1000
interval = "1s"
timeout = "500ms"
half_life = "1ms"

[name."www.example.org"]
check = "lb"
pick = "least-loaded"
low_watermark = 0.6
high_watermark = 0.8
watermark_margin = 0.1
when_all_down = "servfail"
`, port))
	srv, addr := startServer(t, cfgPath)
	waitFor(t, "the first loads", func() bool {
		return smoothedIs(t, srv, "127.0.0.1", 0.3) && smoothedIs(t, srv, "127.0.0.3", 0.5)
	})
	www := func() []string { return answerAddrs(queryA(t, addr, "www.example.org.")) }
	if got := www(); len(got) != 3 {
		t.Fatalf("at start: %v, want all three", got)
	}

	start := time.Now()
	bs[0].body.Store(`{"connections": 850}`)
	waitFor(t, "127.0.0.1 shed", func() bool { return !slices.Contains(www(), "127.0.0.1") })
	// One interval (1s, +10% jitter) and the load publish delay.
	if took := time.Since(start); took > 1100*time.Millisecond+state.LoadDelay+500*time.Millisecond {
		t.Errorf("shedding took %v, want within one check interval (1.1s) and the publish delay", took)
	} else {
		t.Logf("shed %v after the report", took)
	}
	ex, err := srv.Explain("www.example.org", "A", "192.0.2.1", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.0.0.1 shed load 0.85 (smoothed), watermarks shed", "load report: 127.0.0.1 last reported load 0.85, smoothed 0.85"} {
		if !strings.Contains(ex, want) {
			t.Errorf("explain lacks %q:\n%s", want, ex)
		}
	}
	n, as := addrStatus(t, srv, "127.0.0.1")
	if as.State != "shed" || as.Load == nil || !as.Load.Shed || n.AllDown || n.HealthyAddresses != 3 {
		t.Errorf("status of a shed address: state %q load %+v, name all down %v, healthy %d; want shed, healthy 3", as.State, as.Load, n.AllDown, n.HealthyAddresses)
	}
	if got := sampleMatchesStatus(t, srv); !slices.Contains(got, "www.example.org. 127.0.0.1 shed ") {
		t.Errorf("the history's sample lacks 127.0.0.1 shed: %v", got)
	}
	waitFor(t, "the shed gauge", func() bool {
		return metricValue(t, srv, `dnslb_name_shed_addresses{name="www.example.org"}`) == 1
	})

	// Hysteresis: 0.75 is below high (0.8) but not below high - margin.
	bs[0].body.Store(`{"connections": 750}`)
	waitFor(t, "the 0.75 report", func() bool { return smoothedIs(t, srv, "127.0.0.1", 0.75) })
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		if got := www(); slices.Contains(got, "127.0.0.1") {
			t.Fatalf("at 0.75 (margin 0.1 below high 0.8) 127.0.0.1 is back: %v", got)
		}
		time.Sleep(50 * time.Millisecond) // pacing the queries, not waiting for a state
	}
	bs[0].body.Store(`{"connections": 650}`)
	waitFor(t, "127.0.0.1 back below the margin", func() bool { return slices.Contains(www(), "127.0.0.1") })

	// Every address shed: the least loaded stays, nothing is all down.
	for i, b := range bs {
		b.body.Store(fmt.Sprintf(`{"connections": %d}`, 990-20*i)) // 0.99, 0.97, 0.95
	}
	waitFor(t, "only the least loaded", func() bool { return slices.Equal(www(), []string{"127.0.0.3"}) })
	if r := queryA(t, addr, "www.example.org."); r.Rcode != dns.RcodeSuccess {
		t.Errorf("every address shed: rcode %s, want NOERROR (when_all_down servfail must not answer)", dns.RcodeToString[r.Rcode])
	}
	if n, _ := addrStatus(t, srv, "127.0.0.1"); n.AllDown {
		t.Errorf("every address shed: status says all down")
	}
	if v := metricValue(t, srv, `dnslb_name_all_down{name="www.example.org"}`); v != 0 {
		t.Errorf("every address shed: dnslb_name_all_down = %v, want 0", v)
	}
	if v := metricValue(t, srv, `dnslb_name_healthy_addresses{name="www.example.org"}`); v != 3 {
		t.Errorf("every address shed: dnslb_name_healthy_addresses = %v, want 3", v)
	}
	// Down is still down: the backends stopping gives when_all_down.
	for _, b := range bs {
		b.stop()
	}
	waitFor(t, "SERVFAIL with every backend down", func() bool {
		return queryA(t, addr, "www.example.org.").Rcode == dns.RcodeServerFailure
	})
}

// TestFastestEndToEnd: backends whose answers the test delays; the two
// fast ones share the answers evenly and the slow one gets none; when the
// slow one becomes fast and a fast one slow, the answers follow.
func TestFastestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for probes")
	}
	bs, port := startBackends(t, 3)
	bs[2].delay.Store(int64(150 * time.Millisecond))
	cfgPath := writeLBConfig(t, fmt.Sprintf(`
[healthcheck.web]
type = "http"
port = %d
interval = "1s"
timeout = "800ms"
half_life = "1s"

[name."www.example.org"]
check = "web"
pick = "fastest"
tolerance = 3
max_answers = 1
`, port))
	srv, addr := startServer(t, cfgPath)
	rtt := func(a string) time.Duration {
		_, as := addrStatus(t, srv, a)
		if as.Load == nil {
			return 0
		}
		return as.Load.RTT
	}
	// Loopback round trips of about 1 ms vary by more than the default
	// 20% band (one first probe took 6 ms on a busy machine): the band is
	// 4× the fastest here, still far below the slow one's 150 ms, and the
	// shares are counted once the two fast ones' smoothed times are inside it.
	waitFor(t, "round-trip times", func() bool {
		r1, r2 := rtt("127.0.0.1"), rtt("127.0.0.2")
		return rtt("127.0.0.3") > 100*time.Millisecond && r1 > 0 && r2 > 0 && max(r1, r2) < 3*min(r1, r2)
	})
	got := shares(firstAnswers(t, addr, 4000))
	if got["127.0.0.3"] != 0 || math.Abs(got["127.0.0.1"]-0.5) > 0.05 || math.Abs(got["127.0.0.2"]-0.5) > 0.05 {
		t.Errorf("shares with 127.0.0.3 150ms slower: %v, want 0.5 ± 0.05 for .1 and .2, 0 for .3", got)
	}
	bs[2].delay.Store(0)
	bs[0].delay.Store(int64(150 * time.Millisecond))
	waitFor(t, "the answers to follow the delays", func() bool {
		s := shares(firstAnswers(t, addr, 400))
		return s["127.0.0.1"] == 0 && s["127.0.0.3"] > 0.3
	})
}
