package healthcheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countingChecker counts the results of the checker it wraps.
type countingChecker struct {
	Checker
	ok, failed, latency *atomic.Int64
}

func (c countingChecker) Check(ctx context.Context, addr netip.Addr) Result {
	r := c.Checker.Check(ctx, addr)
	c.latency.Add(int64(r.Latency))
	if r.OK {
		c.ok.Add(1)
	} else {
		c.failed.Add(1)
	}
	return r
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func waitTimer(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

// BenchmarkScheduler10k runs 10,000 TCP targets with a 1s interval against
// 16 listeners on 127.0.0.1..127.0.0.16 (625 check names each). It reports
// the probes per second, the CPU the whole process used in cores (the
// listeners and the kernel's work for both ends of every connection
// included) and the mean probe latency. The schedule is held when probes/s
// is close to 10,000 with no failures; on a loaded host the probes wait for
// a CPU, and the default bound of 256 probes in flight then caps the rate.
func BenchmarkScheduler10k(b *testing.B) {
	if testing.Short() {
		b.Skip("runs 10,000 probes per second for 7s")
	}
	const listeners, perListener = 16, 625
	var targets []Target
	for i := range listeners {
		addr := netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err := lc.Listen(b.Context(), "tcp", netip.AddrPortFrom(addr, 0).String())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		cfg := Config{Type: "tcp", Port: ln.Addr().(*net.TCPAddr).Port,
			Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3}
		for j := range perListener {
			targets = append(targets, Target{Key: Key{Check: fmt.Sprintf("tcp%d", j), Addr: addr}, Config: cfg})
		}
	}
	benchSchedule(b, targets, NewChecker)
}

// nopChecker succeeds at once, to measure the scheduler alone.
type nopChecker struct{}

func (nopChecker) Check(context.Context, netip.Addr) Result { return Result{OK: true, Reason: "ok"} }

// BenchmarkScheduler10kNop is BenchmarkScheduler10k with a checker that
// does nothing: what is left is the cost of the schedule itself.
func BenchmarkScheduler10kNop(b *testing.B) {
	if testing.Short() {
		b.Skip("runs 10,000 probes per second for 7s")
	}
	cfg := Config{Type: "tcp", Port: 80, Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3}
	var targets []Target
	for i := range 10000 {
		addr := netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)})
		targets = append(targets, Target{Key: Key{Check: "nop", Addr: addr}, Config: cfg})
	}
	benchSchedule(b, targets, func(Config) (Checker, error) { return nopChecker{}, nil })
}

// benchSchedule runs targets for 2s of warm-up and 5s of measurement per
// iteration and reports the rate, CPU, failures and latency.
func benchSchedule(b *testing.B, targets []Target, build func(Config) (Checker, error)) {
	var ok, failed, latency atomic.Int64
	newChecker := func(cfg Config) (Checker, error) {
		c, err := build(cfg)
		return countingChecker{c, &ok, &failed, &latency}, err
	}
	const warmup, measure = 2 * time.Second, 5 * time.Second
	var probes, fails int64
	var cpu, wall, lat time.Duration
	b.ReportAllocs()
	for b.Loop() {
		s := New(SchedulerConfig{Rand: rand.New(rand.NewPCG(1, 2)), NewChecker: newChecker})
		if err := s.SetTargets(targets); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(b.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		waitTimer(warmup)
		n0, f0, l0, c0, t0 := ok.Load()+failed.Load(), failed.Load(), latency.Load(), cpuTime(b), time.Now()
		waitTimer(measure)
		lat += time.Duration(latency.Load() - l0)
		probes += ok.Load() + failed.Load() - n0
		fails += failed.Load() - f0
		cpu += cpuTime(b) - c0
		wall += time.Since(t0)
		cancel()
		<-done
	}
	b.ReportMetric(float64(probes)/wall.Seconds(), "probes/s")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(float64(fails), "failures")
	b.ReportMetric(lat.Seconds()*1000/float64(max(probes, 1)), "ms/probe")
}
