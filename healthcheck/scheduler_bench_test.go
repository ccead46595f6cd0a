package healthcheck

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// cpuTime returns the user and system CPU time this process has used.
func cpuTime(b *testing.B) (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func waitTimer(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

// BenchmarkScheduler10k runs 10,000 TCP targets with a 1s interval against
// 16 listeners on 127.0.0.1..127.0.0.16 (625 check names each). The
// listeners run in a child process (TestBenchListeners), so the CPU
// reported is the prober's: scheduler, checkers and the kernel's work for
// the client side of every connection. It reports the probes per second,
// that CPU in cores and the mean probe latency. The schedule is held when
// probes/s is close to 10,000 with no failures.
func BenchmarkScheduler10k(b *testing.B) {
	if testing.Short() {
		b.Skip("runs 10,000 probes per second for 7s")
	}
	const perListener = 625
	var targets []Target
	for _, ap := range benchListeners(b) {
		cfg := Config{Type: "tcp", Port: int(ap.Port()),
			Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3}
		for j := range perListener {
			targets = append(targets, Target{Key: Key{Check: fmt.Sprintf("tcp%d", j), Addr: ap.Addr()}, Config: cfg})
		}
	}
	benchSchedule(b, targets, NewChecker)
}

// benchListeners starts TestBenchListeners in a child process and returns
// the addresses it listens on. The child exits when the benchmark ends.
func benchListeners(b *testing.B) []netip.AddrPort {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchListeners$")
	cmd.Env = append(os.Environ(), "HEALTHCHECK_BENCH_LISTENERS=16")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	var addrs []netip.AddrPort
	sc := bufio.NewScanner(stdout)
	for len(addrs) < 16 && sc.Scan() {
		ap, err := netip.ParseAddrPort(strings.TrimPrefix(sc.Text(), "listening "))
		if err == nil {
			addrs = append(addrs, ap)
		}
	}
	if len(addrs) < 16 {
		b.Fatalf("listener process gave %d addresses: %v", len(addrs), sc.Err())
	}
	go io.Copy(io.Discard, stdout)
	return addrs
}

// TestBenchListeners is the child process of BenchmarkScheduler10k: with
// HEALTHCHECK_BENCH_LISTENERS=n it listens on 127.0.0.1..127.0.0.n, prints
// each address, accepts and closes connections until stdin is closed.
// Otherwise it does nothing.
func TestBenchListeners(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HEALTHCHECK_BENCH_LISTENERS"))
	if n <= 0 || n > 250 {
		return
	}
	for i := range n {
		addr := netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err := lc.Listen(t.Context(), "tcp", netip.AddrPortFrom(addr, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		fmt.Printf("listening %s\n", ln.Addr())
	}
	io.Copy(io.Discard, os.Stdin)
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
	var user, sys, wall, lat time.Duration
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
		n0, f0, l0 := ok.Load()+failed.Load(), failed.Load(), latency.Load()
		u0, s0 := cpuTime(b)
		t0 := time.Now()
		waitTimer(measure)
		lat += time.Duration(latency.Load() - l0)
		probes += ok.Load() + failed.Load() - n0
		fails += failed.Load() - f0
		u1, s1 := cpuTime(b)
		user, sys = user+u1-u0, sys+s1-s0
		wall += time.Since(t0)
		cancel()
		<-done
	}
	b.ReportMetric(float64(probes)/wall.Seconds(), "probes/s")
	b.ReportMetric((user+sys).Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(sys.Seconds()/wall.Seconds(), "sys-cores")
	b.ReportMetric(float64(fails), "failures")
	b.ReportMetric(lat.Seconds()*1000/float64(max(probes, 1)), "ms/probe")
}
