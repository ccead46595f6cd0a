package dnslb

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/cluster"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/geo"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/dnslb/rrl"
	"github.com/dnslb/dnslb/dnslb/share"
	"github.com/dnslb/dnslb/dnslb/sign"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/dnslb/transfer"
	"github.com/dnslb/dnslb/dnslb/zonefile"
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
	// sign is the sign stage over the zones signed online ([dnssec]),
	// their signers swapped in by apply.
	sign    *sign.Stage
	started time.Time

	// reloadMu serialises reloads and guards cfg, loaded and watched.
	reloadMu sync.Mutex
	cfg      config.Config
	logLevel *slog.LevelVar            // the logger's level, if the caller gave it (SetLogLevel)
	xfer     *transfer.Server          // transfers, NOTIFY and the TSIG stage
	cookies  cookieSecrets             // the cookie stage's secrets (cookies.go)
	rrl      atomic.Pointer[rrl.Table] // nil: rate limiting off (ratelimit.go)
	loaded   map[string]*zonefile.Loaded
	// allTargets is every target of the config; the prober has only this
	// node's share of them in a fleet (fleet.go).
	allTargets []healthcheck.Target
	watched    []string

	mu           sync.Mutex // guards addrs, lastReload, ready and allDownSince
	addrs        []net.Addr
	lastReload   admin.ReloadStatus
	ready        bool
	allDownSince map[string]time.Time // owner → when every address went down (watchNames)
	shares       share.Meter          // the counted shares of answers (meterShares)
	startedCh    chan struct{}

	overrides state.OverrideFile // the writer of [health] state_file

	sdAddr   *net.UnixAddr // the service manager's socket; nil: none (systemd.go)
	sdFailed atomic.Bool   // a notification failed, and the log said so
}

// SetLogLevel gives the server the level its logger's handler reads, so
// that a reload can change log.level. Call it before Run.
func (s *Server) SetLogLevel(v *slog.LevelVar) { s.logLevel = v }

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

// stateFile is [health] state_file ("": none).
func (s *Server) stateFile() string {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.cfg.Health.StateFile
}

// Ready reports whether the server is answering.
func (s *Server) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

func (s *Server) lastReloadStatus() admin.ReloadStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastReload
}

// targetLabel is the target label of dnslb_target_up for k.
func targetLabel(k healthcheck.Key) string {
	if k.Addr.IsValid() {
		return k.Addr.String()
	}
	return "explicit" // a check with its own target is one target for every address
}
