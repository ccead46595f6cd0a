package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeChecker records when each address is probed and answers from a
// script. It uses no sockets, so it runs inside a synctest bubble.
type fakeChecker struct {
	delay     time.Duration // how long a probe takes
	ignoreCtx bool          // keep going past the context's deadline
	result    func(addr netip.Addr, n int) Result

	mu          sync.Mutex
	calls       map[netip.Addr][]time.Time
	inFlight    map[netip.Addr]int
	maxInFlight int // per address
	global      int
	maxGlobal   int
}

func (f *fakeChecker) Check(ctx context.Context, addr netip.Addr) Result {
	f.mu.Lock()
	if f.calls == nil {
		f.calls, f.inFlight = make(map[netip.Addr][]time.Time), make(map[netip.Addr]int)
	}
	n := len(f.calls[addr])
	f.calls[addr] = append(f.calls[addr], time.Now())
	f.inFlight[addr]++
	f.global++
	f.maxInFlight = max(f.maxInFlight, f.inFlight[addr])
	f.maxGlobal = max(f.maxGlobal, f.global)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight[addr]--
		f.global--
		f.mu.Unlock()
	}()
	if f.delay > 0 {
		t := time.NewTimer(f.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			if !f.ignoreCtx {
				return Result{Reason: "timeout"}
			}
			<-t.C
		}
	}
	if f.result == nil {
		return Result{OK: true, Reason: "ok"}
	}
	return f.result(addr, n)
}

func (f *fakeChecker) callTimes(addr netip.Addr) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls[addr]...)
}

var fakeConfig = Config{Type: "tcp", Port: 80, Interval: 10 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3}

func docAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }

func fakeTargets(n int) []Target {
	var ts []Target
	for i := 1; i <= n; i++ {
		ts = append(ts, Target{Key: Key{Check: "web", Addr: docAddr(i)}, Config: fakeConfig})
	}
	return ts
}

// start runs a scheduler with checker f inside the current bubble and
// returns it with a function that stops it and waits for Run to return.
func start(t *testing.T, f *fakeChecker, cfg SchedulerConfig, targets []Target) (*Scheduler, func()) {
	t.Helper()
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	cfg.NewChecker = func(Config) (Checker, error) { return f, nil }
	s := New(cfg)
	if err := s.SetTargets(targets); err != nil {
		t.Fatalf("SetTargets: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	return s, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
}

func TestSchedulerTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeChecker{}
		t0 := time.Now()
		_, stop := start(t, f, SchedulerConfig{}, fakeTargets(20))
		time.Sleep(300 * time.Second)
		stop()
		firsts, gaps := map[time.Duration]bool{}, map[time.Duration]bool{}
		for i := 1; i <= 20; i++ {
			calls := f.callTimes(docAddr(i))
			if len(calls) < 27 || len(calls) > 34 {
				t.Errorf("%v: %d probes in 300s, want about 30", docAddr(i), len(calls))
				continue
			}
			first := calls[0].Sub(t0)
			if first < 0 || first >= fakeConfig.Interval {
				t.Errorf("%v: first probe at %v, want in [0, 10s)", docAddr(i), first)
			}
			firsts[first] = true
			for j := 1; j < len(calls); j++ {
				gap := calls[j].Sub(calls[j-1])
				if gap < 9*time.Second || gap > 11*time.Second {
					t.Errorf("%v: probe %d came %v after the previous, want 9s..11s", docAddr(i), j, gap)
				}
				gaps[gap] = true
			}
		}
		// Jitter: offsets and intervals must actually vary.
		if len(firsts) < 15 || len(gaps) < 100 {
			t.Errorf("%d distinct first offsets and %d distinct intervals, want spread", len(firsts), len(gaps))
		}
	})
}

func TestSchedulerRiseFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		//             0   1  2  3  4  5  6  7  8  9  10
		script := []bool{true, false, false, true, false, false, false, false, true, true, true}
		broken := docAddr(2)
		f := &fakeChecker{result: func(addr netip.Addr, n int) Result {
			if addr == broken || n >= len(script) || !script[n] {
				return Result{Reason: "status 503"}
			}
			return Result{OK: true, Reason: "ok"}
		}}
		var (
			mu      sync.Mutex
			changes []Status
			probes  = map[netip.Addr]int{}
			logs    bytes.Buffer
		)
		cfg := SchedulerConfig{
			Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
			OnChange: func(s Status) { mu.Lock(); changes = append(changes, s); mu.Unlock() },
			OnProbe:  func(k Key, _ Result) { mu.Lock(); probes[k.Addr]++; mu.Unlock() },
		}
		_, stop := start(t, f, cfg, fakeTargets(2))
		time.Sleep(10*time.Second + 10*11*time.Second) // at least 11 probes each
		stop()

		// OnProbe sees every probe, not only those that change a state.
		for _, a := range []netip.Addr{docAddr(1), broken} {
			if probes[a] < 11 {
				t.Errorf("OnProbe called %d times for %v, want at least 11", probes[a], a)
			}
		}

		var got []string
		for _, s := range changes {
			got = append(got, fmt.Sprintf("%v %v %q probes=%d ok=%d fail=%d flaps=%d",
				s.Key.Addr, s.State, s.Reason, s.Probes, s.Successes, s.Failures, s.Flaps))
		}
		want := []string{
			`192.0.2.1 up "ok" probes=1 ok=1 fail=0 flaps=0`,
			`192.0.2.2 down "status 503" probes=1 ok=0 fail=1 flaps=0`,
			`192.0.2.1 down "status 503" probes=7 ok=0 fail=3 flaps=1`,
			`192.0.2.1 up "ok" probes=10 ok=2 fail=0 flaps=2`,
		}
		// The two targets' first probes may come in either order.
		if len(got) == len(want) && strings.HasPrefix(got[0], "192.0.2.2") {
			got[0], got[1] = got[1], got[0]
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("OnChange calls:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// One line per change, except a target found up at start; down at
		// warn, up at info.
		if n := strings.Count(logs.String(), "\n"); n != 3 {
			t.Errorf("%d lines, want 3:\n%s", n, logs.String())
		}
		if n := strings.Count(logs.String(), `level=WARN msg="target down" `); n != 2 {
			t.Errorf("%d warn lines for a target going down, want 2:\n%s", n, logs.String())
		}
		if !strings.Contains(logs.String(), `level=WARN msg="target down" target=web/192.0.2.1 err="status 503"`) {
			t.Errorf("log lacks the down line for 192.0.2.1:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), "level=INFO msg=\"target up\" target=web/192.0.2.1\n") {
			t.Errorf("log lacks the up line for 192.0.2.1, without err:\n%s", logs.String())
		}
	})
}

func TestSchedulerOneInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Probes that overrun the interval must not overlap.
		f := &fakeChecker{delay: 25 * time.Second, ignoreCtx: true}
		_, stop := start(t, f, SchedulerConfig{}, fakeTargets(3))
		time.Sleep(200 * time.Second)
		stop()
		if f.maxInFlight != 1 {
			t.Errorf("%d probes of one target in flight at once, want 1", f.maxInFlight)
		}
		// A 25s probe misses the next slot; the one after comes in phase,
		// 20s after the missed one: 29s..31s after the start.
		calls := f.callTimes(docAddr(1))
		for i := 1; i < len(calls); i++ {
			if gap := calls[i].Sub(calls[i-1]); gap < 29*time.Second || gap > 31*time.Second {
				t.Errorf("probe %d came %v after the previous, want 29s..31s", i, gap)
			}
		}
		if len(calls) < 6 {
			t.Errorf("%d probes of 25s in 200s, want 6 or more", len(calls))
		}
	})
}

func TestSchedulerMaxConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeChecker{delay: time.Second}
		_, stop := start(t, f, SchedulerConfig{MaxConcurrent: 2}, fakeTargets(20))
		time.Sleep(60 * time.Second)
		stop()
		if f.maxGlobal != 2 {
			t.Errorf("at most %d probes in flight, want exactly the bound 2", f.maxGlobal)
		}
	})
}

func TestSchedulerSetTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeChecker{}
		var mu sync.Mutex
		changed := map[Key]int{}
		cfg := SchedulerConfig{OnChange: func(s Status) { mu.Lock(); changed[s.Key]++; mu.Unlock() }}
		one := fakeTargets(1)
		// Three names share the check "web" on 192.0.2.1: one probe.
		s, stop := start(t, f, cfg, []Target{one[0], one[0], one[0]})
		defer stop()
		time.Sleep(100 * time.Second)
		if n := len(f.callTimes(docAddr(1))); n < 9 || n > 11 {
			t.Errorf("%d probes of a shared target in 100s, want about 10", n)
		}

		conflict := one[0]
		conflict.Config.Rise = 5
		if err := s.SetTargets([]Target{one[0], conflict}); err == nil {
			t.Error("SetTargets with two configs for one key succeeded")
		}
		bad := errors.New("no checker")
		s.newChecker = func(Config) (Checker, error) { return nil, bad }
		if err := s.SetTargets(fakeTargets(2)); !errors.Is(err, bad) {
			t.Errorf("SetTargets = %v, want the checker error", err)
		}
		// 192.0.2.1 keeps its checker; the 14 new targets fail.
		err := s.SetTargets(fakeTargets(15))
		if got := strings.Count(err.Error(), "no checker"); got != 10 ||
			!strings.HasPrefix(err.Error(), "target web/192.0.2.2: no checker\n") ||
			!strings.HasSuffix(err.Error(), "\n(and 4 more errors)") {
			t.Errorf("SetTargets with 14 bad targets = %v, want the first 10 by address and a count", err)
		}
		s.newChecker = func(Config) (Checker, error) { return f, nil }
		if snap := s.Snapshot(); len(snap) != 1 || snap[0].State != Up {
			t.Fatalf("failed SetTargets changed the targets: %+v", snap)
		}

		// Keep 192.0.2.1, add .2 and .3.
		probes := s.Snapshot()[0].Probes
		if err := s.SetTargets(fakeTargets(3)); err != nil {
			t.Fatal(err)
		}
		snap := s.Snapshot()
		if len(snap) != 3 || snap[0].Probes != probes || snap[0].State != Up || snap[1].State != Unknown {
			t.Errorf("after adding targets: %+v", snap)
		}
		time.Sleep(20 * time.Second)

		// Change .2's config, drop .3.
		ts := fakeTargets(2)
		ts[1].Config.Fall = 1
		if err := s.SetTargets(ts); err != nil {
			t.Fatal(err)
		}
		snap = s.Snapshot()
		if len(snap) != 2 || snap[1].State != Unknown || snap[1].Probes != 0 {
			t.Errorf("after changing a config: %+v", snap)
		}
		dropped := len(f.callTimes(docAddr(3)))
		time.Sleep(50 * time.Second)
		if n := len(f.callTimes(docAddr(3))); n != dropped {
			t.Errorf("removed target probed %d more times", n-dropped)
		}
		mu.Lock()
		defer mu.Unlock()
		if n := changed[Key{"web", docAddr(3)}]; n != 1 {
			t.Errorf("%d OnChange calls for the removed target, want 1", n)
		}
		if n := changed[Key{"web", docAddr(2)}]; n != 2 {
			t.Errorf("%d OnChange calls for the changed target, want 2 (one per config)", n)
		}
	})
}

func TestWaitInitial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeChecker{delay: 5 * time.Second} // times out after 2s: down
		s, stop := start(t, f, SchedulerConfig{}, fakeTargets(50))
		defer stop()
		start := time.Now()
		err := s.WaitInitial(t.Context(), time.Second)
		if err == nil || !strings.HasSuffix(err.Error(), "targets still unknown after 1s") {
			t.Errorf("WaitInitial(1s) = %v, want targets still unknown", err)
		}
		if err := s.WaitInitial(t.Context(), time.Minute); err != nil {
			t.Errorf("WaitInitial(1m) = %v", err)
		}
		if d := time.Since(start); d >= 12*time.Second {
			t.Errorf("WaitInitial took %v, want under interval + timeout", d)
		}
		for _, st := range s.Snapshot() {
			if st.State != Down || st.Reason != "timeout" {
				t.Errorf("%v: %v %q, want down timeout", st.Key, st.State, st.Reason)
			}
		}
	})
}
