package healthcheck

import (
	"crypto/x509"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// loadBackend serves /load with whatever body is stored in body.
func loadBackend(t *testing.T, body *atomic.Value) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/load" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, body.Load().(string))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLoadChecker(t *testing.T) {
	var body atomic.Value
	srv := loadBackend(t, &body)
	port := serverPort(t, srv)
	tests := []struct {
		body     string
		capacity float64
		want     Report
		reason   string
	}{
		{"40\n", 0, Report{ReportWeight, 40}, "ok"},
		{"  7.5 ", 0, Report{ReportWeight, 7.5}, "ok"},
		{"5000", 0, Report{ReportWeight, MaxReportedWeight}, "ok"},
		{`{"weight": 40}`, 0, Report{ReportWeight, 40}, "ok"},
		{`{"load": 0.73}`, 0, Report{ReportLoad, 0.73}, "ok"},
		{`{"load": 3}`, 4, Report{ReportLoad, 0.75}, "ok"},
		{`{"connections": 812}`, 1000, Report{ReportLoad, 0.812}, "ok"},
		{`{"connections": 812}`, 0, Report{}, "load report: connections need a capacity in the check"},
		{`{"weight": 1, "load": 0.5}`, 0, Report{}, "load report: want exactly one of weight, load, connections"},
		{`{}`, 0, Report{}, "load report: want exactly one of weight, load, connections"},
		{`{"weight": -1}`, 0, Report{}, "load report: weight is negative"},
		{`{"load": -0.1}`, 0, Report{}, "load report: load is negative"},
		{`{"load": "high"}`, 0, Report{}, "load report: bad JSON"},
		{"busy", 0, Report{}, "load report is neither a number nor a JSON object"},
		{"", 0, Report{}, "empty load report"},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			body.Store(tc.body)
			c := mustChecker(t, Config{Type: TypeLoad, Port: port, Path: "/load", Capacity: tc.capacity})
			got := check(c, loopback)
			if got.Reason != tc.reason || got.OK != (tc.reason == "ok") {
				t.Fatalf("Check(%q) = %v %q, want %q", tc.body, got.OK, got.Reason, tc.reason)
			}
			if math.Abs(got.Report.Value-tc.want.Value) > 1e-9 || got.Report.Kind != tc.want.Kind {
				t.Errorf("Check(%q).Report = %+v, want %+v", tc.body, got.Report, tc.want)
			}
		})
	}
	t.Run("404 is down", func(t *testing.T) {
		body.Store("1")
		got := check(mustChecker(t, Config{Type: TypeLoad, Port: port, Path: "/nope"}), loopback)
		if got.OK || got.Reason != "status 404" {
			t.Fatalf("Check = %v %q, want status 404", got.OK, got.Reason)
		}
	})
	t.Run("https url target", func(t *testing.T) {
		tsrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"weight": 9}`)
		}))
		defer tsrv.Close()
		cfg := Config{Type: TypeLoad, Target: tsrv.URL + "/load", RootCAs: pool(tsrv)}
		got := check(mustChecker(t, cfg), loopback)
		if !got.OK || got.Report != (Report{ReportWeight, 9}) {
			t.Fatalf("Check = %+v, want weight 9", got)
		}
	})
}

func pool(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

func TestLoadValidate(t *testing.T) {
	base := DefaultConfig()
	base.Type = TypeLoad
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(c *Config) { c.Capacity = 100; c.HalfLife = 5 * time.Second }, ""},
		{"scheme", func(c *Config) { c.Scheme = "ftp" }, `scheme "ftp" is not one of http, https`},
		{"capacity", func(c *Config) { c.Capacity = -3 }, "capacity -3 must be a positive number"},
		{"half_life", func(c *Config) { c.HalfLife = -time.Second }, `half_life "-1s" is negative`},
		{"method", func(c *Config) { c.Method = "HEAD" }, "method is not used by type load"},
		{"capacity on http", func(c *Config) { c.Type = TypeHTTP; c.Capacity = 5 }, "capacity is not used by type http"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			var got []string
			for _, e := range c.Validate() {
				got = append(got, e.Error())
			}
			if s := strings.Join(got, "; "); !strings.Contains(s, tc.want) || (tc.want == "" && s != "") {
				t.Errorf("Validate() = %q, want %q", s, tc.want)
			}
		})
	}
}

// TestSmoothing: a step in the reports reaches half way after one
// half-life, and a report of another kind replaces the smoothed value.
func TestSmoothing(t *testing.T) {
	var s Status
	t0 := time.Unix(1000, 0)
	hl := 10 * time.Second
	probe := func(at time.Duration, rep Report) {
		now := t0.Add(at)
		s.apply(Result{OK: true, Reason: "ok", Latency: time.Millisecond, Report: rep}, now, 1, 1, hl)
	}
	probe(0, Report{ReportLoad, 0.2})
	if s.Load != (Report{ReportLoad, 0.2}) {
		t.Fatalf("first sample: Load = %+v, want 0.2", s.Load)
	}
	probe(10*time.Second, Report{ReportLoad, 1.0})
	if math.Abs(s.Load.Value-0.6) > 1e-9 {
		t.Fatalf("after one half-life: Load = %v, want 0.6", s.Load.Value)
	}
	probe(20*time.Second, Report{ReportLoad, 1.0})
	if math.Abs(s.Load.Value-0.8) > 1e-9 {
		t.Fatalf("after two half-lives: Load = %v, want 0.8", s.Load.Value)
	}
	probe(21*time.Second, Report{ReportWeight, 30})
	if s.Load != (Report{ReportWeight, 30}) {
		t.Fatalf("kind change: Load = %+v, want weight 30", s.Load)
	}
	if s.RTT != time.Millisecond {
		t.Fatalf("RTT = %v, want 1ms", s.RTT)
	}
}
