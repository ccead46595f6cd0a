package dnslb

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/cluster"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/geo"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/dnslb/rrl"
	"github.com/dnslb/dnslb/dnslb/serve"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/dnslb/transfer"
	"github.com/dnslb/dnslb/healthcheck"
)

// Server answers DNS queries for the zones in its store, with the
// policies and health of its names.
type Server struct {
	log     *slog.Logger
	store   *state.Store
	geo     *geo.DB // nil when no name selects by location
	prober  *healthcheck.Scheduler
	cluster *cluster.Cluster // nil without [cluster] (fleet.go)
	metrics *metrics.Registry
	qlog    atomic.Pointer[metrics.QueryLog] // nil: no query log
	// signers are the zones signed online ([dnssec]), swapped by apply.
	signers atomic.Pointer[signers]
	started time.Time

	// reloadMu serialises reloads and guards cfg, loaded and watched.
	reloadMu sync.Mutex
	cfg      config.Config
	logLevel *slog.LevelVar            // the logger's level, if the caller gave it (SetLogLevel)
	xfer     *transfer.Server          // transfers, NOTIFY and the TSIG stage
	cookies  cookieSecrets             // the cookie stage's secrets (cookies.go)
	rrl      atomic.Pointer[rrl.Table] // nil: rate limiting off (ratelimit.go)
	loaded   map[string]*loadedZone
	// allTargets is every target of the config; the prober has only this
	// node's share of them in a fleet (fleet.go).
	allTargets []healthcheck.Target
	watched    []string

	mu           sync.Mutex // guards addrs, lastReload, ready and allDownSince
	addrs        []net.Addr
	lastReload   admin.ReloadStatus
	ready        bool
	allDownSince map[string]time.Time // owner → when every address went down (watchNames)
	startedCh    chan struct{}

	sf stateFile // the override state file's writer (statefile.go)

	sdAddr   *net.UnixAddr // the service manager's socket; nil: none (systemd.go)
	sdFailed atomic.Bool   // a notification failed, and the log said so
}

// New loads the config at cfg (as LoadConfig returned it): every zone,
// policy and health check. It starts nothing: Run does.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := state.NewStore()
	if err != nil {
		return nil, err
	}
	s := &Server{
		log:        log,
		store:      st,
		metrics:    metrics.New(),
		started:    time.Now(),
		lastReload: admin.ReloadStatus{Time: time.Now(), OK: true, Trigger: "startup"},
		startedCh:  make(chan struct{}),
	}
	s.xfer = transfer.New(st, log, s.metrics)
	s.prober = healthcheck.New(healthcheck.SchedulerConfig{
		Logger:        log,
		OnChange:      s.healthChanged,
		OnProbe:       func(k healthcheck.Key, r healthcheck.Result) { s.metrics.ProbeLatency(k.Check, r.Latency) },
		OnSample:      s.sampled,
		MaxConcurrent: cfg.Defaults().Health.MaxConcurrent,
	})
	stt, err := buildStateFor(cfg, nil)
	if err != nil {
		return nil, err
	}
	logZoneWarnings(log, stt, nil)
	if cl := stt.cfg.Cluster; cl != nil {
		s.cluster = s.newCluster(*cl)
	}
	if err := s.apply(stt); err != nil {
		return nil, err
	}
	if stt.cfg.NeedsGeo() {
		db, err := geo.Open(stt.cfg.GeoIP.Files, log)
		if err != nil {
			// As dnslb check says; a reload keeps the old data instead.
			return nil, fmt.Errorf("%s: geoip.files: %w", stt.cfg.At("geoip", "files"), err)
		}
		db.Poll = stt.cfg.GeoIP.Poll.Duration
		s.geo = db
		// Each new version of the data publishes a snapshot: answers
		// made from the old one are stale.
		db.OnChange = func(set *geo.Set) { s.store.SetGeo(&countingLocator{geo: set, m: s.metrics}) }
		db.OnChange(db.Current())
	}
	if path := stt.cfg.Log.QueryLog; path != "" {
		ql, err := metrics.OpenQueryLog(path, stt.cfg.Log.QuerySample)
		if err != nil {
			return nil, err
		}
		s.qlog.Store(ql)
	}
	if err := s.loadOverrides(); err != nil {
		log.Error("override state file", "file", stt.cfg.Health.StateFile, "err", err)
	}
	// An alert on dnslb_last_reload_success == 0 must not fire on every
	// restart: the state loaded at startup is a good one.
	s.metrics.Loaded(s.lastReload.Time)
	s.metrics.BuildInfo(Version)
	// The parse's garbage goes back to the system, and what is left is
	// the measure a reload's memory is bounded by (reloadmem.go).
	if s.servedRecords() >= bigZoneRecords {
		settleSoon()
	}
	return s, nil
}

// apply swaps a built state in: the store in one transaction, then the
// prober's targets. Callers hold reloadMu (or are New).
func (s *Server) apply(st *loadResult) error {
	targets := state.HealthTargets(&st.cfg, st.names)
	before := s.prober.Snapshot()
	if err := s.prober.SetTargets(s.probed(targets)); err != nil {
		return err
	}
	keep := make(map[healthcheck.Key]bool, len(targets))
	checks := make(map[string]bool)
	for _, t := range targets {
		keep[t.Key] = true
		checks[t.Key.Check] = true
	}
	s.store.ForgetHealth(keep)
	// SetTargets has returned, so the prober reports nothing more on the
	// targets it dropped: their series can go.
	for _, p := range before {
		switch {
		case !checks[p.Key.Check]:
			s.metrics.ForgetCheck(p.Key.Check)
		case !keep[p.Key]:
			s.metrics.ForgetTarget(p.Key.Check, targetLabel(p.Key))
		}
	}
	sv := serving(st.cfg.Server)
	s.signers.Store(&st.signers) // before the zones: a signed zone is never memoized
	if err := s.store.Replace(st.zones, st.names, sv); err != nil {
		return err
	}
	origins := make([]string, len(st.zones))
	for i, z := range st.zones {
		origins[i] = z.Origin
	}
	s.metrics.SetZones(origins)
	for origin, lz := range st.loaded {
		s.metrics.ZoneLoaded(origin, lz.zone.Serial(), lz.loaded)
	}
	for origin, lz := range st.loaded {
		if s.loaded[origin] != lz {
			s.log.Info("zone loaded", "zone", origin, "file", lz.zone.File, "serial", lz.zone.Serial(), "records", lz.zone.Len())
		}
	}
	for origin := range s.loaded {
		if _, ok := st.loaded[origin]; !ok {
			s.log.Info("zone removed", "zone", origin)
		}
	}
	s.cookies.apply(st.cfg.Cookies, s.log)
	s.xfer.Apply(transfer.NewSettings(st.cfg.Transfer, st.cfg.TSIG))
	for _, z := range st.zones {
		if old, ok := s.loaded[z.Origin]; !ok || old.zone.Serial() != z.Serial() {
			s.xfer.Notify(z.Origin, z.SOA)
		}
	}
	s.setRRL(st.cfg.RRL)
	s.cfg, s.loaded, s.watched = st.cfg, st.loaded, st.files
	s.fleetDigests()
	return nil
}

// serving is the serving settings of sc, with the host name and the
// version filled in.
func serving(sc config.ServerConfig) state.Serving {
	sv := state.Serving{UDPSize: sc.UDPSize, Random: sc.Rotate == "random"}
	host, _ := os.Hostname()
	if b, _ := sc.NSIDBytes(host); len(b) > 0 { // checked at load
		sv.NSID = hex.EncodeToString(b)
	}
	if !sc.HideIdentity {
		sv.Identity = cmp.Or(sc.Identity, host)
	}
	if !sc.HideVersion {
		sv.Version = cmp.Or(sc.Version, "dnslb "+Version)
	}
	return sv
}

// SetLogLevel gives the server the level its logger's handler reads, so
// that a reload can change log.level. Call it before Run.
func (s *Server) SetLogLevel(v *slog.LevelVar) { s.logLevel = v }

// healthChanged is the prober's callback: one target changed state.
// In a fleet the verdict is the cluster's (verdict, fleet.go).
func (s *Server) healthChanged(st healthcheck.Status) {
	if s.cluster == nil {
		s.store.SetHealth(st.Key, st.State)
		s.metrics.HealthState(st.Key.Check, targetLabel(st.Key), st.State == healthcheck.Up)
	}
	if st.State != healthcheck.Unknown {
		s.metrics.StateChange(st.Key.Check, st.State == healthcheck.Up)
	}
}

// targetLabel is the target label of dnslb_target_up for k.
func targetLabel(k healthcheck.Key) string {
	if k.Addr.IsValid() {
		return k.Addr.String()
	}
	return "explicit" // a check with its own target is one target for every address
}

// Store is the server's live state.
func (s *Server) Store() *state.Store { return s.store }

// Metrics is the server's Prometheus registry wrapper.
func (s *Server) Metrics() *metrics.Registry { return s.metrics }

// Started is closed once every listener is open.
func (s *Server) Started() <-chan struct{} { return s.startedCh }

// Addrs returns the bound addresses (UDP then TCP for each listen entry)
// once Started is closed.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs
}

// Ready reports whether the server is answering.
func (s *Server) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// Run opens every listener (DNS over UDP and TCP on each listen address,
// and the admin listener if configured) and returns at once if one cannot
// be opened. Then it starts the prober and waits (at most the startup
// grace) for a first verdict on every target, so the first answers are
// already health-aware; queries that arrive meanwhile wait in the socket
// buffers. It serves until ctx is done; then it stops accepting, lets
// in-flight TCP queries finish, and returns once every goroutine it
// started has ended.
func (s *Server) Run(ctx context.Context) error {
	// Reloads may change s.cfg while Run starts up; Run works from one copy.
	s.reloadMu.Lock()
	cfg := s.cfg
	s.reloadMu.Unlock()
	// Listeners first: a busy port, a missing address or a low port
	// without the capability ends the start here, before the startup
	// grace and before any goroutine, so the process exits at once (and
	// systemd's Restart=on-failure sees it) instead of hanging.
	tcpLns, udp, addrs, err := s.listen(cfg.Server)
	if err != nil {
		return err
	}
	var adm *admin.Server
	var adminLn, metricsLn net.Listener
	if cfg.Admin.Listen != "" || cfg.Admin.MetricsListen != "" {
		adm = admin.New(cfg.Admin, s, s.metrics, s.log)
		if cfg.Admin.Listen != "" {
			adminLn, err = adm.Listen()
		}
		if err == nil {
			metricsLn, err = adm.ListenMetrics()
		}
		if err != nil {
			serve.CloseUDP(udp)
			closeListeners(tcpLns)
			if adminLn != nil {
				adminLn.Close()
			}
			return err
		}
	}
	if s.cluster != nil {
		if err = s.startCluster(); err != nil {
			serve.CloseUDP(udp)
			closeListeners(tcpLns)
			for _, ln := range []net.Listener{adminLn, metricsLn} {
				if ln != nil {
					ln.Close()
				}
			}
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// One defer, in this order: the goroutines end on cancel and on their
	// sockets closing, so waiting for them first would wait forever.
	defer func() {
		cancel()
		serve.CloseUDP(udp)
		closeListeners(tcpLns)
		wg.Wait()
	}()
	wg.Go(func() { _ = s.store.RunPublisher(ctx) })
	wg.Go(func() { _ = s.prober.Run(ctx) })
	if s.cluster != nil {
		wg.Go(func() { _ = s.cluster.Run(ctx) })
	}
	if s.geo != nil {
		wg.Go(func() { _ = s.geo.Run(ctx) })
	}
	errc := make(chan error, 1)
	if adminLn != nil {
		// Served from the start, so /healthz and /readyz answer during
		// the startup grace (/readyz with 503).
		wg.Go(func() {
			if err := adm.Serve(ctx, adminLn); err != nil {
				errc <- err
			}
		})
	}
	if metricsLn != nil {
		wg.Go(func() {
			if err := adm.ServeMetrics(ctx, metricsLn); err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := s.prober.WaitInitial(ctx, cfg.Health.StartupGrace.Duration); err != nil && ctx.Err() == nil {
		s.log.Warn("not every health check answered within the startup grace", "duration", cfg.Health.StartupGrace.Duration, "err", err)
	}
	s.store.Publish() // the first answers see every first verdict
	wg.Go(func() { s.watchNames(ctx) })
	env := serve.Env{Store: s.store, Stages: s.stages(), Log: s.log, Metrics: s.metrics, Transfer: s.xfer.Transfer}
	for _, u := range udp {
		u.Start(&wg, env)
	}
	tcp := serve.NewTCP(env, cfg.Server)
	for _, ln := range tcpLns {
		wg.Go(func() { tcp.Serve(ln) })
	}
	wg.Go(func() { s.xfer.Run(ctx) }) // the listeners are open: secondaries can come
	if every := cfg.Server.WatchInterval.Duration; every > 0 && cfg.Path() != "" {
		// Both before Started, so no edit after it is missed.
		first := s.stamp()
		events, closeWatcher := s.notify()
		wg.Go(func() { _ = s.watch(ctx, every, first, events, closeWatcher) })
	}
	s.mu.Lock()
	s.addrs, s.ready = addrs, true
	s.mu.Unlock()
	close(s.startedCh)
	// addrs holds each UDP and TCP address (one per group): say each once.
	var seen []string
	for _, a := range addrs {
		if !slices.Contains(seen, a.String()) {
			seen = append(seen, a.String())
		}
	}
	s.log.Info("serving", "udp+tcp", strings.Join(seen, " "))
	s.sdNotify("READY=1", "STATUS="+s.sdStatus())

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.sdNotify("STOPPING=1", "STATUS=stopping")
	s.mu.Lock()
	s.ready = false
	s.mu.Unlock()
	cancel()
	serve.CloseUDP(udp)
	closeListeners(tcpLns)
	tcp.Shutdown(5 * time.Second)
	_ = s.qlog.Swap(nil).Close()
	return err
}

// listen opens UDP and TCP on every listen address.
func (s *Server) listen(sc config.ServerConfig) ([]net.Listener, []*serve.UDPSocket, []net.Addr, error) {
	var tcp []net.Listener
	var udp []*serve.UDPSocket
	var addrs []net.Addr
	for _, l := range sc.Listen {
		pcs, tl, err := listenPair(l)
		if err != nil {
			serve.CloseUDP(udp)
			closeListeners(tcp)
			return nil, nil, nil, listenHint(l, err)
		}
		tcp = append(tcp, tl) // limited by tcpServer: max_tcp_connections is the total
		udp = append(udp, pcs...)
		addrs = append(addrs, pcs[0].Addr(), tl.Addr())
	}
	return tcp, udp, addrs, nil
}

// listenPair opens UDP on l and TCP on the port UDP got, so "127.0.0.1:0"
// serves both on one port; with port 0 it tries again if that TCP port is
// taken. The TCP listener does not share its port (no SO_REUSEPORT), so a
// second server on the same address fails here instead of splitting the
// UDP traffic with the first.
func listenPair(l string) ([]*serve.UDPSocket, net.Listener, error) {
	for try := 0; ; try++ {
		pcs, err := serve.ListenUDP(l)
		if err != nil {
			return nil, nil, err
		}
		tl, err := net.Listen("tcp", pcs[0].Addr().String())
		if err == nil {
			return pcs, tl, nil
		}
		serve.CloseUDP(pcs)
		if !strings.HasSuffix(l, ":0") || try == 10 {
			return nil, nil, err // "listen tcp ADDRESS: cause" already
		}
	}
}

// listenHint adds what to do to the causes an operator meets most
// when a listen address cannot be opened.
func listenHint(l string, err error) error {
	switch {
	case errors.Is(err, syscall.EACCES):
		if ap, perr := netip.ParseAddrPort(l); perr == nil && ap.Port() < 1024 {
			return fmt.Errorf("%w (port %d needs root or CAP_NET_BIND_SERVICE: see docs/operations.md)", err, ap.Port())
		}
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w (another process listens there: ss -lunpt | grep %s)", err, portOf(l))
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%w (no interface of this host has that address)", err)
	}
	return err
}

func portOf(l string) string {
	_, port, _ := net.SplitHostPort(l)
	return ":" + port
}

func closeListeners(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}

func (s *Server) lastReloadStatus() admin.ReloadStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastReload
}
