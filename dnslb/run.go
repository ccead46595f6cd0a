package dnslb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/cookie"
	"github.com/dnslb/dnslb/dnslb/serve"
	"github.com/dnslb/dnslb/dnslb/watch"
)

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
	wg.Go(func() { s.sign.RunAhead(ctx) })
	wg.Go(func() { s.meterShares(ctx, cfg.Admin.StatusInterval.Duration) })
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
		// Before Started, so no edit after it is missed.
		w := watch.Open(every, s.watchedFiles, func() { _ = s.Reload("file change") }, s.log)
		wg.Go(func() { _ = w.Run(ctx) })
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

// stages are the query path's hooks the serving workers run: TSIG,
// cookies (when [cookies] is on) and the account stage.
func (s *Server) stages() answer.Stages {
	st := answer.Stages{TSIG: s.xfer, Account: s, Limit: s, Sign: s.sign}
	s.reloadMu.Lock()
	on := s.cfg.Cookies.On()
	s.reloadMu.Unlock()
	if on {
		st.Cookies = s.cookieStage()
	}
	return st
}

// cookieStage is the answer path's cookie stage over the server's
// secrets, counting into dnslb_cookies_total.
func (s *Server) cookieStage() *answer.Cookies {
	s.cookies.mu.Lock()
	defer s.cookies.mu.Unlock()
	st := &answer.Cookies{Checker: s.cookies.checker}
	for r := range cookie.NumResults {
		st.Seen[r] = s.metrics.CookieCounter(r.String())
	}
	return st
}
