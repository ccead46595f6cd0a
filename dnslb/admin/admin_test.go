package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/metrics"
)

// fakeBackend is an AdminBackend that records the calls made to it.
type fakeBackend struct {
	mu        sync.Mutex
	status    Status
	ready     bool
	reloadErr error
	overrides [][2]string
	reloads   []string
}

func (f *fakeBackend) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeBackend) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

func (f *fakeBackend) SetOverride(target, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.overrides = append(f.overrides, [2]string{target, state})
	for _, n := range f.status.Names {
		if n.Name == target {
			return nil
		}
		for _, a := range n.Addresses {
			if a.Addr.String() == target {
				return nil
			}
		}
	}
	return fmt.Errorf("override %s: %w", target, ErrUnknownTarget)
}

func (f *fakeBackend) Reload(trigger string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads = append(f.reloads, trigger)
	return f.reloadErr
}

var _ Backend = (*fakeBackend)(nil)

// testStatus is a small server: two zones, two names, one address down,
// one drained, and a failed reload.
func testStatus() Status {
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	return Status{
		Version: "test",
		Started: t0,
		Zones: []ZoneStatus{
			{Name: "example.org.", File: "zones/example.org.zone", Serial: 2024010101, Records: 12, Loaded: t0},
			{Name: "example.net.", File: "zones/example.net.zone", Serial: 7, Records: 4, Loaded: t0},
		},
		Names: []NameStatus{
			{
				Name: "www.example.org.", Zone: "example.org.", Policy: "weighted",
				Checks: []string{"web"}, WhenAllDown: "serve-all", HealthyAddresses: 1,
				Addresses: []AddressStatus{
					{Addr: netip.MustParseAddr("192.0.2.10"), State: "up", LastResult: "HTTP 200", LastCheck: t0.Add(59 * time.Minute), Latency: 1200 * time.Microsecond, Since: t0},
					{Addr: netip.MustParseAddr("192.0.2.11"), State: "down", LastResult: "dial tcp 192.0.2.11:80: connect: connection refused", LastCheck: t0.Add(59 * time.Minute), Flaps: 3, Since: t0.Add(50 * time.Minute)},
					{Addr: netip.MustParseAddr("2001:db8::12"), State: "up", Override: "drain", LastResult: "HTTP 200", LastCheck: t0.Add(59 * time.Minute), Latency: 900 * time.Microsecond, Since: t0},
				},
			},
			{
				Name: "api.example.net.", Zone: "example.net.", Policy: "round-robin",
				WhenAllDown: "servfail", HealthyAddresses: 2,
				Addresses: []AddressStatus{
					{Addr: netip.MustParseAddr("198.51.100.7"), State: "unchecked"},
					{Addr: netip.MustParseAddr("203.0.113.5"), State: "unknown"},
				},
			},
		},
		LastReload: ReloadStatus{
			Time: t0.Add(58 * time.Minute), OK: false, Trigger: "sighup",
			Errors: []string{`zones/example.net.zone:14: www.example.net. A 192.0.2.300: bad address <script>`},
		},
	}
}

func newTestAdmin(t *testing.T, token string) (*httptest.Server, *fakeBackend, *metrics.Registry) {
	t.Helper()
	fb := &fakeBackend{status: testStatus(), ready: true}
	m := metrics.New()
	a := New(config.AdminConfig{Listen: "127.0.0.1:0", Token: token}, fb, m, nil)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, fb, m
}

// noRedirect returns a form post's 303 instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, method, u, token, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminStatusJSON(t *testing.T) {
	srv, _, _ := newTestAdmin(t, "")
	code, body := do(t, "GET", srv.URL+"/api/status", "", "", "")
	if code != 200 {
		t.Fatalf("GET /api/status = %d, want 200: %s", code, body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "started", "zones", "names", "last_reload"} {
		if _, ok := got[k]; !ok {
			t.Errorf("status JSON lacks key %q: %s", k, body)
		}
	}
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	a := st.Names[0].Addresses[1]
	if a.Addr.String() != "192.0.2.11" || a.State != "down" || st.Names[0].Addresses[2].Override != "drain" {
		t.Errorf("status round trip: got %+v", st.Names[0].Addresses)
	}
	if !strings.Contains(body, `"latency_ns": 1200000`) {
		t.Errorf("latency not in nanoseconds: %s", body)
	}
}

func TestAdminOverride(t *testing.T) {
	srv, fb, _ := newTestAdmin(t, "")
	for _, tc := range []struct {
		name, ctype, body string
		wantCode          int
		want              [2]string // forwarded call; zero if none
	}{
		{"json drain", "application/json", `{"target":"192.0.2.10","state":"drain"}`, 200, [2]string{"192.0.2.10", "drain"}},
		{"json clear", "application/json", `{"target":"www.example.org.","state":""}`, 200, [2]string{"www.example.org.", ""}},
		{"form down", "application/x-www-form-urlencoded", "target=192.0.2.11&state=down", 303, [2]string{"192.0.2.11", "down"}},
		{"unknown target", "application/json", `{"target":"192.0.2.99","state":"drain"}`, 404, [2]string{"192.0.2.99", "drain"}},
		{"bad state", "application/json", `{"target":"192.0.2.10","state":"sideways"}`, 400, [2]string{}},
		{"no target", "application/json", `{"state":"drain"}`, 400, [2]string{}},
		{"bad json", "application/json", `{"target":`, 400, [2]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb.mu.Lock()
			fb.overrides = nil
			fb.mu.Unlock()
			req, _ := http.NewRequest("POST", srv.URL+"/api/override", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Errorf("POST /api/override %s = %d, want %d", tc.body, resp.StatusCode, tc.wantCode)
			}
			fb.mu.Lock()
			defer fb.mu.Unlock()
			switch {
			case tc.want == [2]string{} && len(fb.overrides) != 0:
				t.Errorf("SetOverride called with %v, want no call", fb.overrides)
			case tc.want != [2]string{} && (len(fb.overrides) != 1 || fb.overrides[0] != tc.want):
				t.Errorf("SetOverride calls = %v, want [%v]", fb.overrides, tc.want)
			}
		})
	}
	if code, _ := do(t, "GET", srv.URL+"/api/override", "", "", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/override = %d, want 405", code)
	}
}

func TestAdminReload(t *testing.T) {
	srv, fb, _ := newTestAdmin(t, "")
	if code, body := do(t, "POST", srv.URL+"/api/reload", "", "application/json", ""); code != 200 {
		t.Errorf("POST /api/reload = %d, want 200: %s", code, body)
	}
	fb.mu.Lock()
	fb.reloadErr = errors.New("dnslb.toml:3: server.rotate: \"x\" is not one of round-robin, random")
	fb.mu.Unlock()
	code, body := do(t, "POST", srv.URL+"/api/reload", "", "application/json", "")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "server.rotate") {
		t.Errorf("failed POST /api/reload = %d %s, want 422 with the error", code, body)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.reloads) != 2 || fb.reloads[0] != "api" {
		t.Errorf("Reload calls = %v, want [api api]", fb.reloads)
	}
}

func TestAdminToken(t *testing.T) {
	const tok = "s3cret-token"
	srv, fb, _ := newTestAdmin(t, tok)
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/", "", 401},
		{"GET", "/", tok, 200},
		{"GET", "/?token=" + tok, "", 200},
		{"GET", "/?token=wrong", "", 401},
		{"GET", "/api/status", "", 401},
		{"GET", "/api/status", "wrong", 401},
		{"GET", "/api/status", tok, 200},
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics", tok, 200},
		{"GET", "/readyz", "", 401},
		{"GET", "/readyz", tok, 200},
		{"POST", "/api/reload", "", 401},
		{"POST", "/api/reload", tok, 200},
	} {
		code, _ := do(t, tc.method, srv.URL+tc.path, tc.token, "application/json", "")
		if code != tc.want {
			t.Errorf("%s %s (token %q) = %d, want %d", tc.method, tc.path, tc.token, code, tc.want)
		}
	}
	// A form post with the token as a field, as the status page sends it.
	form := url.Values{"target": {"192.0.2.10"}, "state": {"drain"}, "token": {tok}}.Encode()
	if code, _ := do(t, "POST", srv.URL+"/api/override", "", "application/x-www-form-urlencoded", form); code != 303 {
		t.Errorf("form POST with token field = %d, want 303", code)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.reloads) != 1 {
		t.Errorf("Reload calls = %v, want exactly one (the authorised one)", fb.reloads)
	}
}

func TestAdminCrossSite(t *testing.T) {
	srv, fb, _ := newTestAdmin(t, "")
	// A form on another site posting to the loopback
	req, _ := http.NewRequest("POST", srv.URL+"/api/override", strings.NewReader("target=192.0.2.10&state=drain"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://attacker.example.net")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form POST = %d, want 403", resp.StatusCode)
	}
	// DNS rebinding: same-origin from the browser's view, foreign Host.
	req, _ = http.NewRequest("GET", srv.URL+"/api/status", nil)
	req.Host = "rebind.example.net:8053"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET with Host rebind.example.net = %d, want 403", resp.StatusCode)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.overrides) != 0 {
		t.Errorf("SetOverride called by a cross-site request: %v", fb.overrides)
	}
}

func TestAdminHealthReady(t *testing.T) {
	srv, fb, _ := newTestAdmin(t, "")
	if code, _ := do(t, "GET", srv.URL+"/healthz", "", "", ""); code != 200 {
		t.Errorf("GET /healthz = %d, want 200", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/readyz", "", "", ""); code != 200 {
		t.Errorf("GET /readyz (ready) = %d, want 200", code)
	}
	fb.mu.Lock()
	fb.ready = false
	fb.mu.Unlock()
	if code, _ := do(t, "GET", srv.URL+"/readyz", "", "", ""); code != 503 {
		t.Errorf("GET /readyz (not ready) = %d, want 503", code)
	}
}

func TestAdminMetrics(t *testing.T) {
	srv, _, m := newTestAdmin(t, "")
	m.SetZones([]string{"example.org."})
	m.ObserveQuery("example.org.", 1, 0, "weighted", time.Microsecond, false)
	m.Truncated()
	m.HealthState("web", "192.0.2.10", true)
	m.ProbeLatency("web", time.Millisecond)
	m.StateChange("web", true)
	m.ReloadResult(true, time.Now())
	m.GeoLookup(true)
	code, body := do(t, "GET", srv.URL+"/metrics", "", "", "")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, name := range []string{
		"dnslb_queries_total", "dnslb_query_duration_seconds", "dnslb_responses_truncated_total",
		"dnslb_target_up", "dnslb_probe_duration_seconds", "dnslb_target_state_changes_total",
		"dnslb_reloads_total", "dnslb_last_reload_timestamp_seconds", "dnslb_geoip_lookups_total",
	} {
		if !strings.Contains(body, "# TYPE "+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestAdminPage(t *testing.T) {
	srv, _, _ := newTestAdmin(t, "")
	code, body := do(t, "GET", srv.URL+"/", "", "", "")
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		"example.org.", "2024010101", "www.example.org.", "weighted",
		`<span class="badge state-down">down</span>`, `<span class="badge ov">drain</span>`,
		"bad address &lt;script&gt;", // escaped, not markup
	} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("status page contains an unescaped <script> from a reload error")
	}
}

func TestAdminRun(t *testing.T) {
	fb := &fakeBackend{status: testStatus(), ready: true}
	a := New(config.AdminConfig{Listen: "127.0.0.1:0"}, fb, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Started():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	code, _ := do(t, "GET", "http://"+a.Addr().String()+"/healthz", "", "", "")
	if code != 200 {
		t.Errorf("GET /healthz over TCP = %d", code)
	}
	if code, _ := do(t, "GET", "http://"+a.Addr().String()+"/metrics", "", "", ""); code != 404 {
		t.Errorf("GET /metrics without Metrics = %d, want 404", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestMetricsListen: the metrics_listen listener serves /metrics without
// the token and nothing else (no status, no actions), while the admin
// listener still wants the token for /metrics.
func TestMetricsListen(t *testing.T) {
	fb := &fakeBackend{status: testStatus(), ready: true}
	m := metrics.New()
	m.BuildInfo("test")
	a := New(config.AdminConfig{Listen: "127.0.0.1:0", Token: "secret", MetricsListen: "127.0.0.1:0"}, fb, m, nil)
	ln, err := a.ListenMetrics()
	if err != nil || ln == nil {
		t.Fatalf("ListenMetrics: %v, %v", ln, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.ServeMetrics(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeMetrics: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/metrics", 200},
		{"GET", "/", 404},
		{"GET", "/api/status", 404},
		{"POST", "/api/reload", 404},
		{"POST", "/api/override", 404},
		{"POST", "/metrics", 405},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader("target=192.0.2.10&state=drain"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s on metrics_listen = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.code)
		}
		if tc.path == "/metrics" && tc.code == 200 && !strings.Contains(string(body), `dnslb_build_info{`) {
			t.Errorf("GET /metrics on metrics_listen lacks dnslb_build_info:\n%s", body)
		}
	}
	if len(fb.reloads) != 0 || len(fb.overrides) != 0 {
		t.Errorf("the metrics listener reloaded %v or overrode %v", fb.reloads, fb.overrides)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /metrics on the admin listener without the token = %d, want 401", rec.Code)
	}
	if ln, err := New(config.AdminConfig{Listen: "127.0.0.1:0"}, fb, m, nil).ListenMetrics(); ln != nil || err != nil {
		t.Errorf("ListenMetrics without metrics_listen = %v, %v; want nil, nil", ln, err)
	}
}
