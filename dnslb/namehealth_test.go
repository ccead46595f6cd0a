package dnslb

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/config"
)

// logBuffer is a log destination that tests read while the server writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLoggedServer is startServer with the server's log (info and up)
// kept for the test to read as well.
func startLoggedServer(t *testing.T, path string) (*Server, string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	h := slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo})
	srv, stop := launch(t, path, slog.New(h))
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return srv, srv.Addrs()[0].String(), logs
}

// hasSeries reports whether the exposition has a line starting with series.
func hasSeries(out, series string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, series) {
			return true
		}
	}
	return false
}

// TestNameAllDown: three real HTTP backends behind www. When every one is
// down the name enters the all-down state once (one warn line, the
// gauges, the status and its page's banner), queries meanwhile log
// nothing, and when one comes back it leaves the state (one more warn).
func TestNameAllDown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for probes")
	}
	bs, port := startBackends(t, 3)
	cfgPath := writeLBConfig(t, fmt.Sprintf(`
[healthcheck.web]
type = "http"
port = %d
path = "/health"
interval = "1s"
timeout = "500ms"
rise = 1
fall = 1

[name."www.example.org"]
check = "web"
when_all_down = "serve-all"
`, port))
	srv, addr, logs := startLoggedServer(t, cfgPath)
	admin := httptest.NewServer(admin.New(config.AdminConfig{}, srv, srv.Metrics(), nil).Handler())
	t.Cleanup(admin.Close)
	get := func(path string) string {
		t.Helper()
		resp, err := admin.Client().Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	const (
		healthy = `dnslb_name_healthy_addresses{name="www.example.org"} `
		allDown = `dnslb_name_all_down{name="www.example.org"} `
		enter   = `level=WARN msg="every address of a name is down: when_all_down answers" name=www.example.org. qtype=A when_all_down=serve-all`
		leave   = `level=WARN msg="a name has addresses up again: when_all_down no longer answers" name=www.example.org. healthy=1 duration=`
	)
	waitFor(t, "3 healthy addresses in /metrics", func() bool {
		out := scrape(t, srv.Metrics())
		return hasSeries(out, healthy+"3") && hasSeries(out, allDown+"0")
	})
	if st := srv.Status().Names[0]; st.AllDown || st.HealthyAddresses != 3 {
		t.Errorf("all up: status all_down=%v healthy=%d, want false and 3", st.AllDown, st.HealthyAddresses)
	}
	if page := get("/"); strings.Contains(page, `id="all-down"`) {
		t.Errorf("all up: the status page has the all-down banner")
	}

	for _, b := range bs {
		b.stop()
	}
	waitFor(t, "all_down 1 in /metrics", func() bool {
		out := scrape(t, srv.Metrics())
		return hasSeries(out, healthy+"0") && hasSeries(out, allDown+"1")
	})
	// when_all_down = serve-all answers every address; the queries log nothing.
	before := logs.String()
	for range 20 {
		if got := answerAddrs(queryA(t, addr, "www.example.org.")); len(got) != 3 {
			t.Fatalf("all down: answer %v, want the 3 addresses (serve-all)", got)
		}
	}
	if after := logs.String(); after != before {
		t.Errorf("queries while all down logged:\n%s", strings.TrimPrefix(after, before))
	}
	if n := strings.Count(logs.String(), enter); n != 1 {
		t.Errorf("%d lines %q, want 1; log:\n%s", n, enter, logs.String())
	}
	st := srv.Status().Names[0]
	if !st.AllDown || st.HealthyAddresses != 0 || !slices.Equal(st.AllDownTypes, []string{"A"}) || st.AllDownSince.IsZero() {
		t.Errorf("all down: status all_down=%v healthy=%d types=%v since=%v, want true, 0, [A] and a time",
			st.AllDown, st.HealthyAddresses, st.AllDownTypes, st.AllDownSince)
	}
	js := get("/api/status")
	for _, want := range []string{`"healthy_addresses": 0,`, `"all_down": true,`, `"all_down_types": [`, `"all_down_since": "`} {
		if !strings.Contains(js, want) {
			t.Errorf("/api/status lacks %s:\n%s", want, js)
		}
	}
	page := get("/")
	i, j := strings.Index(page, `id="all-down"`), strings.Index(page, "<h2>")
	if i < 0 || j < 0 || i > j {
		t.Errorf("the all-down banner is not above the first section (at %d, section at %d):\n%s", i, j, page)
	} else if banner := page[i:j]; !strings.Contains(banner, "www.example.org.") || !strings.Contains(banner, "serve-all") {
		t.Errorf("the banner does not name www.example.org. and its when_all_down:\n%s", banner)
	}

	bs[1].start()
	waitFor(t, "all_down 0 after a backend came back", func() bool {
		out := scrape(t, srv.Metrics())
		return hasSeries(out, healthy+"1") && hasSeries(out, allDown+"0")
	})
	waitFor(t, "the leave line in the log", func() bool { return strings.Contains(logs.String(), leave) })
	if st := srv.Status().Names[0]; st.AllDown || st.HealthyAddresses != 1 || !st.AllDownSince.IsZero() {
		t.Errorf("one back: status all_down=%v healthy=%d since=%v, want false, 1, zero", st.AllDown, st.HealthyAddresses, st.AllDownSince)
	}
	if n := strings.Count(logs.String(), "msg=\"every address of a name is down") + strings.Count(logs.String(), "msg=\"a name has addresses up again"); n != 2 {
		t.Errorf("%d log lines about when_all_down, want 2 (enter, leave):\n%s", n, logs.String())
	}
}

// TestNameAllDownOneFamily: with its IPv6 address forced down, a name
// with A and AAAA records is all down for AAAA only: the AAAA queries get
// when_all_down (nodata) while A is answered, and the state says so.
func TestNameAllDownOneFamily(t *testing.T) {
	cfgPath := writeLBConfig(t, `
[name."dual.example.org"]
when_all_down = "nodata"
`)
	zonePath := filepath.Join(filepath.Dir(cfgPath), "zones", "example.org.zone")
	zone, err := os.ReadFile(zonePath)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, zonePath, string(zone)+"dual IN A 192.0.2.80\n     IN AAAA 2001:db8::80\n")
	srv, addr, logs := startLoggedServer(t, cfgPath)
	if err := srv.SetOverride("2001:db8::80", "down"); err != nil {
		t.Fatal(err)
	}
	const enter = `level=WARN msg="every address of a name is down: when_all_down answers" name=dual.example.org. qtype=AAAA when_all_down=nodata`
	waitFor(t, "the all-down line for AAAA", func() bool { return strings.Contains(logs.String(), enter) })
	m := new(dns.Msg)
	m.SetQuestion("dual.example.org.", dns.TypeAAAA)
	if r := exchange(t, addr, "udp", m); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("AAAA with its address down: rcode %d, %d answers, want NOERROR and none (nodata)", r.Rcode, len(r.Answer))
	}
	if got := answerAddrs(queryA(t, addr, "dual.example.org.")); !slices.Equal(got, []string{"192.0.2.80"}) {
		t.Errorf("A: %v, want [192.0.2.80]", got)
	}
	st := srv.Status().Names[0]
	if !st.AllDown || st.HealthyAddresses != 1 || !slices.Equal(st.AllDownTypes, []string{"AAAA"}) {
		t.Errorf("status all_down=%v healthy=%d types=%v, want true, 1, [AAAA]", st.AllDown, st.HealthyAddresses, st.AllDownTypes)
	}
	out := scrape(t, srv.Metrics())
	for _, want := range []string{`dnslb_name_all_down{name="dual.example.org"} 1`, `dnslb_name_healthy_addresses{name="dual.example.org"} 1`} {
		if !hasSeries(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := srv.SetOverride("2001:db8::80", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leave line", func() bool { return strings.Contains(logs.String(), `msg="a name has addresses up again`) })
	if st := srv.Status().Names[0]; st.AllDown || st.HealthyAddresses != 2 {
		t.Errorf("after clearing: all_down=%v healthy=%d, want false and 2", st.AllDown, st.HealthyAddresses)
	}
}
