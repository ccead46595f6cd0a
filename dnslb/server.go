package dnslb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/netutil"

	"github.com/dnslb/dnslb/zones"
)

var _ dns.Handler = (*Server)(nil)

// Server answers DNS queries for the zones in its store.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *Store
	random  bool
	udpSize int

	// reloadMu serialises reloads and guards cfg, loaded and watched.
	reloadMu sync.Mutex
	loaded   map[string]*loadedZone
	watched  []string

	mu         sync.Mutex // guards addrs and lastReload
	addrs      []net.Addr
	lastReload ReloadStatus
	started    chan struct{}
}

// New loads the config's zones into a new store and returns a server that
// is ready to Run. cfg must come from LoadConfig (or have Defaults applied).
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg = cfg.Defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := NewStore()
	if err != nil {
		return nil, err
	}
	loaded, files, err := loadZones(&cfg, nil)
	if err != nil {
		return nil, err
	}
	zs := make([]*zones.Zone, 0, len(loaded))
	for _, lz := range loaded {
		zs = append(zs, lz.zone)
		log.Info("zone loaded", "zone", lz.zone.Origin, "file", lz.zone.File, "serial", lz.zone.Serial(), "records", lz.zone.Len())
	}
	if err := st.ReplaceZones(zs); err != nil {
		return nil, err
	}
	return &Server{
		cfg:        cfg,
		log:        log,
		store:      st,
		random:     cfg.Server.Rotate == "random",
		udpSize:    cfg.Server.UDPSize,
		loaded:     loaded,
		watched:    append(files, cfg.path),
		lastReload: ReloadStatus{Time: time.Now(), OK: true, Trigger: "startup"},
		started:    make(chan struct{}),
	}, nil
}

// Store is the server's live state.
func (s *Server) Store() *Store { return s.store }

// Started is closed once every listener is open.
func (s *Server) Started() <-chan struct{} { return s.started }

// Addrs returns the bound addresses (UDP then TCP for each listen entry)
// once Started is closed.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs
}

// ServeDNS answers one query for miekg/dns's server loop.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	c := Client{TCP: w.LocalAddr().Network() == "tcp"}
	if ap, err := netip.ParseAddrPort(w.RemoteAddr().String()); err == nil {
		c.Addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	m := s.HandleQuery(req, c)
	if m == nil {
		return
	}
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write reply", "err", err)
	}
}

// acceptAll leaves every decision about a query to HandleQuery, except
// that responses are dropped (they are never answered).
func acceptAll(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&(1<<15) != 0 {
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}

// Run opens the listeners and serves until ctx is done, then shuts down:
// it stops accepting, lets in-flight TCP queries finish, and returns.
func (s *Server) Run(ctx context.Context) error {
	var servers []*dns.Server
	var addrs []net.Addr
	fail := func(err error) error {
		for _, srv := range servers {
			_ = srv.Shutdown()
		}
		return err
	}
	idle := s.cfg.Server.TCPIdleTimeout.Duration
	for _, l := range s.cfg.Server.Listen {
		pc, err := net.ListenPacket("udp", l)
		if err != nil {
			return fail(fmt.Errorf("listen udp %s: %w", l, err))
		}
		// Bind TCP to the port UDP got, so "127.0.0.1:0" serves both on one
		// port; with port 0, try again if that TCP port is taken.
		tl, err := net.Listen("tcp", pc.LocalAddr().String())
		for try := 0; err != nil && strings.HasSuffix(l, ":0") && try < 10; try++ {
			pc.Close()
			if pc, err = net.ListenPacket("udp", l); err != nil {
				break
			}
			tl, err = net.Listen("tcp", pc.LocalAddr().String())
		}
		if err != nil {
			if pc != nil {
				pc.Close()
			}
			return fail(fmt.Errorf("listen tcp %s: %w", l, err))
		}
		ln := netutil.LimitListener(tl, s.cfg.Server.MaxTCPConnections)
		servers = append(servers,
			&dns.Server{PacketConn: pc, Handler: s, MsgAcceptFunc: acceptAll, UDPSize: 65535},
			&dns.Server{Listener: ln, Handler: s, MsgAcceptFunc: acceptAll,
				IdleTimeout: func() time.Duration { return idle }, ReadTimeout: idle, WriteTimeout: idle})
		addrs = append(addrs, pc.LocalAddr(), tl.Addr())
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		ready := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(ready) }
		wg.Go(func() {
			if err := srv.ActivateAndServe(); err != nil {
				errc <- err
			}
		})
		select {
		case <-ready:
		case err := <-errc:
			return fail(err)
		}
	}
	s.mu.Lock()
	s.addrs = addrs
	s.mu.Unlock()
	if every := s.cfg.Server.WatchInterval.Duration; every > 0 && s.cfg.path != "" {
		first := s.stamp() // before Started, so no edit after it is missed
		wg.Go(func() { _ = s.watch(ctx, every, first) })
	}
	close(s.started)
	s.log.Info("serving", "addrs", fmt.Sprint(addrs))

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		if e := srv.ShutdownContext(shutCtx); e != nil && !errors.Is(e, context.DeadlineExceeded) {
			s.log.Debug("shutdown", "err", e)
		}
	}
	wg.Wait()
	return err
}

func (s *Server) lastReloadStatus() ReloadStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastReload
}
