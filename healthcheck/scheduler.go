package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// DefaultMaxConcurrent is the default bound on probes in flight at once.
const DefaultMaxConcurrent = 256

// SchedulerConfig configures a Scheduler. The zero value works.
type SchedulerConfig struct {
	// Logger receives one info line per state change and, at debug, one
	// line per probe. Nil discards.
	Logger *slog.Logger
	// Rand draws the first-probe offsets and the jitter. Nil means a
	// randomly seeded source; tests pass a seeded one.
	Rand *rand.Rand
	// OnChange is called when a target's state becomes known and whenever
	// it changes, never for Unknown. Calls are serialised, and none is
	// made for a target after SetTargets has removed it. OnChange may call
	// Snapshot but must not call SetTargets, and should return quickly:
	// recording other results waits for it.
	OnChange func(Status)
	// OnProbe, if set, is called with the result of every probe (for a
	// latency histogram, say), from the probing goroutine, before the
	// result is applied. It must return quickly.
	OnProbe func(Key, Result)
	// OnSample, if set, is called after every probe result is applied,
	// with the target's status: its smoothed load report and round-trip
	// time. It is serialised with OnChange (and called before it) and
	// must return quickly.
	OnSample func(Status)
	// MaxConcurrent bounds the probes in flight across all targets.
	// Default DefaultMaxConcurrent.
	MaxConcurrent int
	// NewChecker builds the checker of each target. Default NewChecker;
	// tests substitute fakes.
	NewChecker func(Config) (Checker, error)
}

// Scheduler probes a set of targets, each on its own interval, and keeps
// their status. Its goroutines run inside Run.
type Scheduler struct {
	log        *slog.Logger
	onChange   func(Status)
	onProbe    func(Key, Result)
	onSample   func(Status)
	newChecker func(Config) (Checker, error)
	sem        chan struct{} // one token per probe in flight

	setMu sync.Mutex // serialises SetTargets

	randMu sync.Mutex // guards rnd, which is not safe for concurrent use
	rnd    *rand.Rand

	// notifyMu serialises OnChange calls. SetTargets holds it too, so no
	// callback for a removed target can follow SetTargets. Lock order:
	// notifyMu, then mu.
	notifyMu sync.Mutex

	mu      sync.Mutex // guards the fields below and every runner.status
	runners map[Key]*runner
	unknown int           // runners still in state Unknown
	changed chan struct{} // closed and replaced when unknown drops
	ctx     context.Context
	stopped bool
	wg      sync.WaitGroup
}

// runner is the state of one target. Its goroutine is the only one that
// probes it, which is what keeps one probe in flight per target.
type runner struct {
	target  Target
	fp      string // fingerprint of target.Config, to notice a change
	checker Checker
	cancel  context.CancelFunc // nil until started
	removed bool
	status  Status
}

// New returns a Scheduler with no targets. Call SetTargets and Run.
func New(cfg SchedulerConfig) *Scheduler {
	s := &Scheduler{
		log:        cfg.Logger,
		onChange:   cfg.OnChange,
		onProbe:    cfg.OnProbe,
		onSample:   cfg.OnSample,
		newChecker: cfg.NewChecker,
		rnd:        cfg.Rand,
		runners:    make(map[Key]*runner),
		changed:    make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.onChange == nil {
		s.onChange = func(Status) {}
	}
	if s.newChecker == nil {
		s.newChecker = NewChecker
	}
	if s.rnd == nil {
		s.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	n := cfg.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	s.sem = make(chan struct{}, n)
	return s
}

// maxErrors is how many errors SetTargets reports before it summarises.
const maxErrors = 10

type keyedError struct {
	key Key
	err error
}

// joinErrors sorts errs by key and joins the first maxErrors of them.
func joinErrors(errs []keyedError) error {
	slices.SortStableFunc(errs, func(a, b keyedError) int { return compareKeys(a.key, b.key) })
	var out []error
	for _, e := range errs[:min(len(errs), maxErrors)] {
		out = append(out, e.err)
	}
	if n := len(errs) - maxErrors; n > 0 {
		out = append(out, fmt.Errorf("(and %d more errors)", n))
	}
	return errors.Join(out...)
}

// fingerprint identifies a Config by value; fmt prints maps sorted by key.
func fingerprint(c Config) string { return fmt.Sprintf("%#v", c) }

// SetTargets replaces the set of targets. Targets whose key and config
// are unchanged keep their state and schedule; removed ones stop; new or
// changed ones start as Unknown. The same key may appear several times
// (several names sharing a check and address) and is probed once, but
// only with one config. If any checker cannot be built, SetTargets returns
// every error and changes nothing.
func (s *Scheduler) SetTargets(targets []Target) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	want := make(map[Key]*runner, len(targets))
	var errs []keyedError
	bad := func(k Key, err error) { errs = append(errs, keyedError{k, fmt.Errorf("target %s: %w", k, err)}) }
	for _, t := range targets {
		if t.Config.Interval <= 0 || t.Config.Timeout <= 0 {
			bad(t.Key, errors.New("interval and timeout must be positive"))
			continue
		}
		fp := fingerprint(t.Config)
		if prev, ok := want[t.Key]; ok {
			if prev.fp != fp {
				bad(t.Key, fmt.Errorf("check %q given two different configs", t.Key.Check))
			}
			continue
		}
		want[t.Key] = &runner{target: t, fp: fp}
	}
	s.mu.Lock()
	for k, r := range want {
		if old, ok := s.runners[k]; ok && old.fp == r.fp {
			want[k] = old
		}
	}
	s.mu.Unlock()
	// Build checkers off to the side; setMu keeps the runners found
	// above current until the swap below.
	for k, r := range want {
		if r.checker != nil {
			continue
		}
		c, err := s.newChecker(r.target.Config)
		if err != nil {
			bad(k, err)
		}
		r.checker = c
	}
	if len(errs) > 0 {
		return joinErrors(errs)
	}

	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.runners {
		if want[k] != old {
			s.stopLocked(old)
			delete(s.runners, k)
		}
	}
	now := time.Now()
	for k, r := range want {
		if _, ok := s.runners[k]; ok {
			continue
		}
		r.status = Status{Key: k, Since: now}
		s.runners[k] = r
		s.unknown++
		s.startLocked(r)
	}
	s.broadcastLocked()
	return nil
}

func (s *Scheduler) stopLocked(r *runner) {
	r.removed = true
	if r.cancel != nil {
		r.cancel()
	}
	if r.status.State == Unknown {
		s.unknown--
	}
}

// startLocked starts r's goroutine if Run is running.
func (s *Scheduler) startLocked(r *runner) {
	if s.ctx == nil || s.stopped {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r.cancel = cancel
	first := s.randN(r.target.Config.Interval)
	s.wg.Go(func() { s.loop(ctx, r, first) })
}

func (s *Scheduler) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Run probes the targets until ctx is done, then stops every probe and
// returns nil once all its goroutines have finished. It may be called once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ctx != nil {
		s.mu.Unlock()
		return errors.New("healthcheck: Run called twice")
	}
	s.ctx = ctx
	for _, r := range s.runners {
		s.startLocked(r)
	}
	s.mu.Unlock()

	<-ctx.Done()
	s.mu.Lock()
	s.stopped = true // no goroutine starts after this, so Wait is safe
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// loop probes r at a random offset in [0, interval), then every interval
// with ±10% jitter. Each probe is planned from the previous plan, not from
// when the timer fired, so late wake-ups on a busy host do not add up and
// the rate stays one probe per interval. A target that fell behind (a
// probe that overran, a stalled host) skips the slots it missed and keeps
// its phase: no burst of catch-up probes, and targets stay spread out.
func (s *Scheduler) loop(ctx context.Context, r *runner, first time.Duration) {
	next := time.Now().Add(first)
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.probe(ctx, r) {
			return
		}
		interval := r.target.Config.Interval
		next = next.Add(s.jitter(interval))
		if late := time.Since(next); late > 0 {
			next = next.Add((late/interval + 1) * interval)
		}
		t.Reset(time.Until(next))
	}
}

// probe runs one check under the global bound and records the result. It
// returns false when ctx is done, and then records nothing.
func (s *Scheduler) probe(ctx context.Context, r *runner) bool {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, r.target.Config.Timeout)
	res := r.checker.Check(pctx, r.target.Key.Addr)
	if !res.OK && errors.Is(pctx.Err(), context.DeadlineExceeded) {
		res.Reason = "timeout"
	}
	cancel()
	<-s.sem
	if ctx.Err() != nil {
		return false
	}
	s.record(r, res)
	return true
}

func (s *Scheduler) record(r *runner, res Result) {
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("probe", "target", r.target.Key.String(), "status", okWord(res.OK),
			"err", res.Reason, "duration", res.Latency)
	}
	if s.onProbe != nil {
		s.onProbe(r.target.Key, res)
	}
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	s.mu.Lock()
	if r.removed {
		s.mu.Unlock()
		return
	}
	was := r.status.State
	cfg := r.target.Config
	changed := r.status.apply(res, time.Now(), cfg.Rise, cfg.Fall, cfg.halfLife())
	if was == Unknown {
		s.unknown--
		s.broadcastLocked()
	}
	st := r.status
	s.mu.Unlock()
	if s.onSample != nil {
		s.onSample(st)
	}
	if !changed {
		return
	}
	// A target found up at startup is the expected case, so only its
	// later changes are logged at info; a target going down is a warning.
	level := slog.LevelInfo
	switch {
	case st.State == Down:
		level = slog.LevelWarn
	case was == Unknown && st.State == Up:
		level = slog.LevelDebug
	}
	attrs := []any{"target", st.Key.String()}
	if st.State != Up {
		attrs = append(attrs, "err", st.Reason)
	}
	s.log.Log(context.Background(), level, "target "+st.State.String(), attrs...)
	s.onChange(st)
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "fail"
}

// WaitInitial blocks until every current target has had its first result,
// the grace period has passed, or ctx is done. dnslb calls it before it
// starts answering so that the first answers already reflect health. The
// error says how many targets are still unknown; the caller may go on.
func (s *Scheduler) WaitInitial(ctx context.Context, grace time.Duration) error {
	t := time.NewTimer(grace)
	defer t.Stop()
	for {
		s.mu.Lock()
		n, ch := s.unknown, s.changed
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return fmt.Errorf("%d targets still unknown after %v", n, grace)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Snapshot returns the status of every target, sorted by key.
func (s *Scheduler) Snapshot() []Status {
	s.mu.Lock()
	out := make([]Status, 0, len(s.runners))
	for _, r := range s.runners {
		out = append(out, r.status)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int { return compareKeys(a.Key, b.Key) })
	return out
}

// randN returns a random duration in [0, d).
func (s *Scheduler) randN(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return time.Duration(s.rnd.Int64N(int64(d)))
}

// jitter returns d changed by a random amount within ±10%.
func (s *Scheduler) jitter(d time.Duration) time.Duration {
	return d - d/10 + s.randN(d/5+1)
}
