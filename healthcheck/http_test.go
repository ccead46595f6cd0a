package healthcheck

import (
	"context"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// backend serves /health with a status and body chosen per path, and
// records the Host header and X-Probe header of the last request.
func backend(t *testing.T, tls bool) (*httptest.Server, *http.Header) {
	t.Helper()
	seen := make(http.Header)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		seen.Set("Host", r.Host)
		seen.Set("X-Probe", r.Header.Get("X-Probe"))
		seen.Set("Method", r.Method)
		io.WriteString(w, "status: all good\n")
	})
	mux.HandleFunc("/sick", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/health", http.StatusFound)
	})
	srv := httptest.NewUnstartedServer(mux)
	// Failed handshakes are the point of some tests; keep them out of the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &seen
}

func serverPort(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	return portOf(t, srv.Listener.Addr())
}

func TestHTTPChecker(t *testing.T) {
	srv, seen := backend(t, false)
	port := serverPort(t, srv)
	tests := []struct {
		name   string
		cfg    Config
		reason string
	}{
		{"ok", Config{Path: "/health"}, "ok"},
		{"default path", Config{}, "status 404"},
		{"503", Config{Path: "/sick"}, "status 503"},
		{"expect 503", Config{Path: "/sick", ExpectStatus: []string{"500-599"}}, "ok"},
		{"body", Config{Path: "/health", ExpectBody: "all good"}, "ok"},
		{"body mismatch", Config{Path: "/health", ExpectBody: "all bad"}, "body mismatch"},
		{"body regex", Config{Path: "/health", ExpectBodyRegex: `status: (all|some) good`}, "ok"},
		{"body regex mismatch", Config{Path: "/health", ExpectBodyRegex: `^good`}, "body mismatch"},
		{"redirect not followed", Config{Path: "/moved"}, "status 302"},
		{"redirect expected", Config{Path: "/moved", ExpectStatus: []string{"200", "301-302"}}, "ok"},
		{"redirect followed", Config{Path: "/moved", FollowRedirects: true}, "ok"},
		{"head", Config{Path: "/health", Method: "HEAD"}, "ok"},
		{"url target", Config{Target: srv.URL + "/health"}, "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Type = "http"
			if tc.cfg.Target == "" {
				tc.cfg.Port = port
			}
			got := check(mustChecker(t, tc.cfg), loopback)
			if got.Reason != tc.reason || got.OK != (tc.reason == "ok") {
				t.Errorf("Check = %+v, want reason %q", got, tc.reason)
			}
		})
	}

	t.Run("host and headers", func(t *testing.T) {
		cfg := Config{Type: "http", Port: port, Path: "/health", Host: "www.example.org",
			Headers: map[string]string{"X-Probe": "dnslb"}}
		if got := check(mustChecker(t, cfg), loopback); !got.OK {
			t.Fatalf("Check = %+v, want ok", got)
		}
		if h := seen.Get("Host"); h != "www.example.org" {
			t.Errorf("Host header %q, want www.example.org", h)
		}
		if h := seen.Get("X-Probe"); h != "dnslb" {
			t.Errorf("X-Probe header %q, want dnslb", h)
		}
	})

	t.Run("body limit", func(t *testing.T) {
		big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("x", 2<<10)+"needle")
		}))
		t.Cleanup(big.Close)
		cfg := Config{Type: "http", Port: serverPort(t, big), ExpectBody: "needle", BodyLimit: 1}
		if got := check(mustChecker(t, cfg), loopback); got.Reason != "body mismatch" {
			t.Errorf("Check with body_limit 1 = %+v, want body mismatch", got)
		}
		cfg.BodyLimit = 4
		if got := check(mustChecker(t, cfg), loopback); !got.OK {
			t.Errorf("Check with body_limit 4 = %+v, want ok", got)
		}
	})

	t.Run("refused", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		p := serverPort(t, dead)
		dead.Close()
		got := check(mustChecker(t, Config{Type: "http", Port: p}), loopback)
		if got.Reason != "connection refused" {
			t.Errorf("Check = %+v, want connection refused", got)
		}
	})
}

func TestHTTPSChecker(t *testing.T) {
	srv, _ := backend(t, true)
	port := serverPort(t, srv)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	// The httptest certificate is valid for example.com and 127.0.0.1.
	tests := []struct {
		name   string
		cfg    Config
		reason string
	}{
		{"verify against system roots", Config{}, "certificate signed by unknown authority"},
		{"insecure", Config{InsecureSkipVerify: true}, "ok"},
		{"test CA, ip", Config{RootCAs: pool}, "ok"},
		{"test CA, host", Config{RootCAs: pool, Host: "example.com"}, "ok"},
		{"test CA, sni overrides host", Config{RootCAs: pool, Host: "www.example.org", SNI: "example.com"}, "ok"},
		{"test CA, wrong name", Config{RootCAs: pool, Host: "www.example.org"}, "certificate not valid for www.example.org"},
		{"status", Config{RootCAs: pool, Path: "/sick"}, "status 503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Type, tc.cfg.Port = "https", port
			if tc.cfg.Path == "" {
				tc.cfg.Path = "/health"
			}
			got := check(mustChecker(t, tc.cfg), netip.MustParseAddr("127.0.0.1"))
			if got.Reason != tc.reason || got.OK != (tc.reason == "ok") {
				t.Errorf("Check = %+v, want reason %q", got, tc.reason)
			}
		})
	}
}

// TestSchedulerHTTP takes an http target down when the backend answers
// 503 and up again when it recovers, through the real checker. (Plain
// http: a TLS handshake under -race on a busy host can outlast a timeout
// short enough for this test; TestHTTPSChecker covers TLS.)
func TestSchedulerHTTP(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	cfg := Config{Type: "http", Port: serverPort(t, srv), Host: "www.example.org",
		BodyLimit: 64, Interval: 100 * time.Millisecond, Timeout: 90 * time.Millisecond, Rise: 2, Fall: 2}
	changes := make(chan Status, 10)
	s := New(SchedulerConfig{
		OnChange: func(st Status) { changes <- st },
		// The real checker, without Validate's 1s minimum interval.
		NewChecker: func(c Config) (Checker, error) { return newHTTPChecker(c) },
	})
	if err := s.SetTargets([]Target{{Key: Key{Check: "web", Addr: loopback}, Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	expectChange(t, changes, Up, "ok")
	status.Store(http.StatusServiceUnavailable)
	expectChange(t, changes, Down, "status 503")
	status.Store(http.StatusNoContent)
	expectChange(t, changes, Up, "ok")
	waitFor(t, "a snapshot with two flaps", func() bool {
		snap := s.Snapshot()
		return len(snap) == 1 && snap[0].Flaps == 2 && snap[0].State == Up
	})
}
