package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/dnslb/state"
)

// Backend is what the admin listener needs from the running server.
// The core implements it; tests use a fake.
type Backend interface {
	// Status builds the current status on request.
	Status() Status
	// SetOverride forces target, an address ("192.0.2.10") or an owner
	// name ("www.example.org"), to state "drain", "up" or "down", or
	// clears the override with "". It returns an error wrapping
	// ErrUnknownTarget when no name or address matches.
	SetOverride(target, state string) error
	// Reload reloads the config and zones, as SIGHUP does; trigger says
	// why ("api"). It returns the reload's errors; the old state keeps
	// being served when it fails.
	Reload(trigger string) error
	// Ready reports whether zones are loaded and the DNS listeners serve.
	Ready() bool
}

// ErrUnknownTarget is returned (wrapped) by Backend.SetOverride when
// the target matches no name or address; the API answers 404 for it.
var ErrUnknownTarget = errors.New("no such name or address")

// OverrideStates are the states Backend.SetOverride accepts: those an
// override may have (state.OverrideStates, what the state file holds), and
// "" to clear one.
var OverrideStates = append(slices.Clone(state.OverrideStates), "")

// Server is the admin HTTP listener: status page, JSON API, actions,
// metrics and health endpoints. It is for operators, not for the public:
// when Token is set every endpoint but /healthz needs it.
type Server struct {
	cfg            config.AdminConfig
	backend        Backend
	metrics        *metrics.Registry
	log            *slog.Logger
	handler        http.Handler
	metricsHandler http.Handler // the metrics_listen listener's: /metrics alone
	hist           *history     // what the status page draws (history.go)

	mu      sync.Mutex
	addr    net.Addr
	started chan struct{}
}

// New returns the admin listener for cfg. m may be nil (then /metrics
// answers 404) and log may be nil.
func New(cfg config.AdminConfig, backend Backend, m *metrics.Registry, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Server{cfg: cfg, backend: backend, metrics: m, log: log, started: make(chan struct{}), hist: newHistory()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /readyz", a.auth(http.HandlerFunc(a.readyz)))
	mux.Handle("GET /{$}", a.auth(http.HandlerFunc(a.statusPage)))
	mux.Handle("GET /api/status", a.auth(http.HandlerFunc(a.apiStatus)))
	mux.Handle("POST /api/override", a.auth(http.HandlerFunc(a.apiOverride)))
	mux.Handle("POST /api/reload", a.auth(http.HandlerFunc(a.apiReload)))
	mux.Handle("POST /api/feed", a.auth(http.HandlerFunc(a.apiFeed)))
	mux.Handle("GET /api/explain", a.auth(http.HandlerFunc(a.apiExplain)))
	if m != nil {
		mux.Handle("GET /metrics", a.auth(m.Handler()))
	}
	// CrossOriginProtection rejects POSTs that a browser marks as coming
	// from another site (Sec-Fetch-Site, or Origin not matching Host), so
	// a page elsewhere cannot drain targets through an operator's browser.
	a.handler = http.NewCrossOriginProtection().Handler(mux)
	// The metrics listener has nothing that changes state, so it needs no
	// token: Prometheus scrapes it without the one that allows drains.
	mm := http.NewServeMux()
	if m != nil {
		mm.Handle("GET /metrics", m.Handler())
	}
	a.metricsHandler = mm
	return a
}

// MetricsHandler is the handler of the metrics_listen listener: GET
// /metrics, read-only, without the token.
func (a *Server) MetricsHandler() http.Handler { return a.metricsHandler }

// ListenMetrics opens cfg.MetricsListen, or returns nil when it is not
// set. Like Listen, it is called with the DNS listeners.
func (a *Server) ListenMetrics() (net.Listener, error) {
	if a.cfg.MetricsListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("admin: metrics_listen: %w", err)
	}
	return ln, nil
}

// ServeMetrics serves the metrics listener on ln (from ListenMetrics)
// until ctx is done; it closes ln.
func (a *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	a.log.Info("metrics listening", "addr", ln.Addr().String())
	return a.serveHTTP(ctx, ln, a.metricsHandler)
}

// Handler is the admin HTTP handler, for tests and for mounting elsewhere.
func (a *Server) Handler() http.Handler { return a.handler }

// Started is closed once Run is listening.
func (a *Server) Started() <-chan struct{} { return a.started }

// Addr is the bound address once Started is closed, else nil.
func (a *Server) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// Run listens on cfg.Listen and serves until ctx is done, then shuts down
// gracefully, giving in-flight requests 5 seconds. It returns nil after a
// shutdown caused by ctx. Call it once per Admin.
func (a *Server) Run(ctx context.Context) error {
	ln, err := a.Listen()
	if err != nil {
		return err
	}
	return a.Serve(ctx, ln)
}

// Listen opens cfg.Listen. Server.Run calls it with the DNS listeners, so
// that a busy admin port fails the start like a busy DNS port.
func (a *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		// The error says "listen tcp ADDRESS: cause" already.
		return nil, fmt.Errorf("admin: %w", err)
	}
	return ln, nil
}

// Serve is Run on a listener already open; it closes ln.
func (a *Server) Serve(ctx context.Context, ln net.Listener) error {
	a.mu.Lock()
	a.addr = ln.Addr()
	a.mu.Unlock()
	close(a.started)
	a.log.Info("admin listening", "addr", ln.Addr().String())
	every := a.cfg.StatusInterval.Duration
	if every <= 0 {
		every = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.sampleStatus(ctx, every) })
	defer wg.Wait()
	defer cancel() // before Wait: an error from serveHTTP stops the sampler too
	return a.serveHTTP(ctx, ln, a.handler)
}

// serveHTTP serves h on ln until ctx is done, then shuts down gracefully,
// giving in-flight requests 5 seconds.
func (a *Server) serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		a.log.Debug("admin shutdown", "err", err)
		srv.Close()
	}
	<-errc // Serve returns ErrServerClosed once Shutdown starts
	return nil
}

// auth enforces the token, when one is set, from "Authorization: Bearer
// TOKEN" or, for a browser, ?token= (or a token form field on POST).
// Without a token the listener is loopback-only (the config insists), and
// then the Host header must name a loopback address or localhost, so a
// DNS-rebinding page cannot reach the API through a browser.
func (a *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.Token == "" {
			if !loopbackHost(r.Host) {
				httpError(w, r, http.StatusForbidden, "admin: without a token only a loopback or localhost Host is accepted")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if !a.tokenOK(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dnslb"`)
			httpError(w, r, http.StatusUnauthorized, "missing or wrong token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *Server) tokenOK(r *http.Request) bool {
	got := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			got = strings.TrimSpace(tok)
		}
	} else if t := r.URL.Query().Get("token"); t != "" {
		got = t
	} else if r.Method == http.MethodPost && isForm(r) {
		got = r.PostFormValue("token")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.Token)) == 1
}

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (a *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !a.backend.Ready() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
	if b, ok := a.backend.(interface{ StateFileProblem() string }); ok && b.StateFileProblem() != "" {
		fmt.Fprintln(w, "state file invalid at startup: "+b.StateFileProblem())
	}
}

func (a *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.backend.Status())
}

// OverrideRequest is the body of POST /api/override. State "" clears the
// override. Form values target and state are accepted too.
type OverrideRequest struct {
	Target string `json:"target"`
	State  string `json:"state"`
}

// ActionResult is the JSON answer of the POST endpoints.
type ActionResult struct {
	OK     bool   `json:"ok"`
	Target string `json:"target,omitempty"`
	State  string `json:"state,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (a *Server) apiOverride(w http.ResponseWriter, r *http.Request) {
	var req OverrideRequest
	if isForm(r) {
		req.Target, req.State = r.PostFormValue("target"), r.PostFormValue("state")
	} else {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			httpError(w, r, http.StatusBadRequest, "body: "+err.Error())
			return
		}
	}
	req.Target = strings.TrimSpace(req.Target)
	if req.State == "clear" || req.State == "undrain" {
		req.State = ""
	}
	switch {
	case req.Target == "":
		httpError(w, r, http.StatusBadRequest, "target: empty, want an address or an owner name")
		return
	case !validState(req.State):
		httpError(w, r, http.StatusBadRequest, fmt.Sprintf("state: %q is not one of drain, up, down, \"\" (clear)", req.State))
		return
	}
	if err := a.backend.SetOverride(req.Target, req.State); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrUnknownTarget) {
			code = http.StatusNotFound
		}
		httpError(w, r, code, err.Error())
		return
	}
	a.log.Info("override set", "target", req.Target, "status", overrideName(req.State))
	if isForm(r) {
		backToPage(w, r)
		return
	}
	writeJSON(w, http.StatusOK, ActionResult{OK: true, Target: req.Target, State: req.State})
}

func (a *Server) apiReload(w http.ResponseWriter, r *http.Request) {
	// The reload's own log line and metrics come from the backend, which
	// records SIGHUP and file-change reloads the same way.
	if err := a.backend.Reload("api"); err != nil {
		httpError(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if isForm(r) {
		backToPage(w, r)
		return
	}
	writeJSON(w, http.StatusOK, ActionResult{OK: true})
}

func validState(s string) bool {
	for _, v := range OverrideStates {
		if s == v {
			return true
		}
	}
	return false
}

func overrideName(s string) string {
	if s == "" {
		return "cleared"
	}
	return s
}

// isForm reports whether a POST came from an HTML form.
func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
}

// backToPage answers a form post from the status page by sending the
// browser back to it, keeping ?token= if that is how it authenticated.
func backToPage(w http.ResponseWriter, r *http.Request) {
	loc := "/"
	if t := r.URL.Query().Get("token"); t != "" {
		loc += "?token=" + url.QueryEscape(t)
	}
	http.Redirect(w, r, loc, http.StatusSeeOther)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// httpError answers JSON to API clients and plain text to everyone else.
func httpError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") && !isForm(r) {
		writeJSON(w, code, ActionResult{Error: msg})
		return
	}
	http.Error(w, msg, code)
}
