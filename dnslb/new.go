package dnslb

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/geo"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/dnslb/sign"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/dnslb/transfer"
	"github.com/dnslb/dnslb/dnslb/zonefile"
	"github.com/dnslb/dnslb/healthcheck"
)

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
	s.sign = sign.New(log)
	s.metrics.DNSSEC(s.dnssecMetrics)
	s.prober = healthcheck.New(healthcheck.SchedulerConfig{
		Logger:        log,
		OnChange:      s.healthChanged,
		OnProbe:       func(k healthcheck.Key, r healthcheck.Result) { s.metrics.ProbeLatency(k.Check, r.Latency) },
		OnSample:      s.sampled,
		MaxConcurrent: cfg.Defaults().Health.MaxConcurrent,
	})
	restoreGC := zonefile.LoosenStartupGC()
	stt, err := buildStateFor(cfg, nil)
	restoreGC()
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
		db.OnChange = func(set *geo.Set) { s.store.SetGeo(set.Counted(s.metrics.GeoLookup)) }
		db.OnChange(db.Current())
	}
	if path := stt.cfg.Log.QueryLog; path != "" {
		ql, err := metrics.OpenQueryLog(path, stt.cfg.Log.QuerySample)
		if err != nil {
			return nil, err
		}
		s.qlog.Store(ql)
	}
	err = s.overrides.Load(stt.cfg.Health.StateFile, s.store)
	s.metrics.StateFileCorrupt(s.overrides.Problem() != nil)
	if err != nil {
		log.Error("override state file", "file", stt.cfg.Health.StateFile, "err", err)
	}
	// An alert on dnslb_last_reload_success == 0 must not fire on every
	// restart: the state loaded at startup is a good one.
	s.metrics.Loaded(s.lastReload.Time)
	s.metrics.BuildInfo(Version)
	// The parse's garbage goes back to the system, and what is left is
	// the measure a reload's memory is bounded by (dnslb/zonefile/memory.go).
	if zonefile.Records(s.loaded) >= zonefile.BigZoneRecords {
		zonefile.SettleSoon()
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
	s.sign.Apply(st.signers) // before the zones (sign.Stage.Apply)
	s.warnSignedTransfers(&st.cfg, st.signers)
	if err := s.store.Replace(st.zones, st.names, sv); err != nil {
		return err
	}
	origins := make([]string, len(st.zones))
	for i, z := range st.zones {
		origins[i] = z.Origin
	}
	s.metrics.SetZones(origins)
	for origin, lz := range st.loaded {
		s.metrics.ZoneLoaded(origin, lz.Zone.Serial(), lz.At)
	}
	for origin, lz := range st.loaded {
		if s.loaded[origin] != lz {
			s.log.Info("zone loaded", "zone", origin, "file", lz.Zone.File, "serial", lz.Zone.Serial(), "records", lz.Zone.Len())
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
		if old, ok := s.loaded[z.Origin]; !ok || old.Zone.Serial() != z.Serial() {
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
