package main

import (
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/config"
)

// fakeBackend stands in for the running server behind the admin API.
type fakeBackend struct {
	mu        sync.Mutex
	overrides []string
	reloads   int
	reloadErr error
}

func (f *fakeBackend) Status() admin.Status {
	t0 := time.Now().Add(-time.Hour)
	return admin.Status{
		Version: "test",
		Zones:   []admin.ZoneStatus{{Name: "example.org.", Serial: 2024010101, Records: 12, Loaded: t0}},
		Names: []admin.NameStatus{{
			Name: "www.example.org.", Zone: "example.org.", Policy: "weighted", Checks: []string{"web"},
			Addresses: []admin.AddressStatus{
				{Addr: netip.MustParseAddr("192.0.2.10"), State: "up", Latency: 1200 * time.Microsecond, LastResult: "HTTP 200"},
				{Addr: netip.MustParseAddr("192.0.2.11"), State: "down", Flaps: 2, LastResult: "connection refused"},
				{Addr: netip.MustParseAddr("192.0.2.12"), State: "up", Override: "drain"},
			},
		}},
		LastReload: admin.ReloadStatus{Time: t0, OK: false, Trigger: "sighup", Errors: []string{"zones/example.org.zone:7: bad A"}},
	}
}

func (f *fakeBackend) SetOverride(target, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.overrides = append(f.overrides, target+"="+state)
	if target == "nope.example.org" {
		return fmt.Errorf("%s: %w", target, admin.ErrUnknownTarget)
	}
	return nil
}

func (f *fakeBackend) Reload(trigger string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	return f.reloadErr
}

func (f *fakeBackend) Ready() bool { return true }

func newAdminServer(t *testing.T, token string) (*httptest.Server, *fakeBackend) {
	t.Helper()
	fb := &fakeBackend{}
	srv := httptest.NewServer(admin.New(config.AdminConfig{Token: token}, fb, nil, nil).Handler())
	t.Cleanup(srv.Close)
	return srv, fb
}

func runCmd(f func([]string, *strings.Builder, *strings.Builder) int, args ...string) (int, string, string) {
	var out, errb strings.Builder
	code := f(args, &out, &errb)
	return code, out.String(), errb.String()
}

func status(args []string, o, e *strings.Builder) int  { return cmdStatus(args, o, e) }
func drain(args []string, o, e *strings.Builder) int   { return cmdDrain(args, o, e) }
func undrain(args []string, o, e *strings.Builder) int { return cmdUndrain(args, o, e) }
func reload(args []string, o, e *strings.Builder) int  { return cmdReload(args, o, e) }

func TestCmdStatus(t *testing.T) {
	srv, _ := newAdminServer(t, "")
	code, out, errs := runCmd(status, "-admin", srv.URL)
	if code != 0 {
		t.Fatalf("status = %d, stderr %s", code, errs)
	}
	for _, want := range []string{
		"ZONE", "example.org.", "2024010101",
		"www.example.org.", "weighted (web)",
		"192.0.2.11", "down", "connection refused",
		"192.0.2.12", "drain",
		"last reload: FAILED", "zones/example.org.zone:7: bad A",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	// The address column lines up: every address row has the address at
	// the same offset.
	var cols []int
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "192.0.2."); i >= 0 {
			cols = append(cols, i)
		}
	}
	if len(cols) != 3 || cols[0] != cols[1] || cols[1] != cols[2] {
		t.Errorf("address column offsets %v, want 3 equal:\n%s", cols, out)
	}

	code, out, _ = runCmd(status, "-admin", srv.URL, "-json")
	if code != 0 || !strings.Contains(out, `"serial": 2024010101`) {
		t.Errorf("status -json = %d:\n%s", code, out)
	}
}

func TestCmdToken(t *testing.T) {
	srv, _ := newAdminServer(t, "t0ken")
	code, _, errs := runCmd(status, "-admin", srv.URL)
	if code != 1 || !strings.Contains(errs, "DNSLB_TOKEN") {
		t.Errorf("status without token = %d, stderr %q; want 1 and a hint", code, errs)
	}
	if code, _, errs := runCmd(status, "-admin", srv.URL, "-token", "t0ken"); code != 0 {
		t.Errorf("status -token = %d: %s", code, errs)
	}
	t.Setenv("DNSLB_TOKEN", "t0ken")
	if code, _, errs := runCmd(reload, "-admin", srv.URL); code != 0 {
		t.Errorf("reload with DNSLB_TOKEN = %d: %s", code, errs)
	}
}

func TestCmdDrainUndrain(t *testing.T) {
	srv, fb := newAdminServer(t, "")
	if code, out, errs := runCmd(drain, "-admin", srv.URL, "192.0.2.10"); code != 0 || out != "192.0.2.10: drain\n" {
		t.Errorf("drain = %d %q %q", code, out, errs)
	}
	if code, out, errs := runCmd(undrain, "-admin", srv.URL, "www.example.org"); code != 0 || !strings.Contains(out, "cleared") {
		t.Errorf("undrain = %d %q %q", code, out, errs)
	}
	code, _, errs := runCmd(drain, "-admin", srv.URL, "nope.example.org")
	if code != 1 || !strings.Contains(errs, "no such name or address") {
		t.Errorf("drain of unknown name = %d %q, want 1 and the server's message", code, errs)
	}
	if code, _, _ := runCmd(drain, "-admin", srv.URL); code != 2 {
		t.Errorf("drain without target = %d, want 2", code)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	want := []string{"192.0.2.10=drain", "www.example.org=", "nope.example.org=drain"}
	if strings.Join(fb.overrides, " ") != strings.Join(want, " ") {
		t.Errorf("SetOverride calls = %v, want %v", fb.overrides, want)
	}
}

func TestCmdReload(t *testing.T) {
	srv, fb := newAdminServer(t, "")
	if code, out, errs := runCmd(reload, "-admin", srv.URL); code != 0 || out != "reloaded\n" {
		t.Errorf("reload = %d %q %q", code, out, errs)
	}
	fb.mu.Lock()
	fb.reloadErr = errors.New("dnslb.toml:3: server.rotate: \"x\" is not one of round-robin, random")
	fb.mu.Unlock()
	code, _, errs := runCmd(reload, "-admin", srv.URL)
	if code != 1 || !strings.Contains(errs, "server.rotate") {
		t.Errorf("failed reload = %d %q, want 1 and the error", code, errs)
	}
	if code, _, errs := runCmd(reload, "-admin", "http://127.0.0.1:1"); code != 1 || errs == "" {
		t.Errorf("reload with nothing listening = %d %q, want 1 and an error", code, errs)
	}
}

// TestCmdArgs: flags may follow the arguments, -h exits 0, and check with
// no -config checks the built-in example (as its help says).
func TestCmdArgs(t *testing.T) {
	srv, fb := newAdminServer(t, "")
	if code, out, errs := runCmd(drain, "192.0.2.11", "-admin", srv.URL); code != 0 || out != "192.0.2.11: drain\n" {
		t.Errorf("drain ADDRESS -admin URL = %d %q %q", code, out, errs)
	}
	fb.mu.Lock()
	if len(fb.overrides) != 1 || fb.overrides[0] != "192.0.2.11=drain" {
		t.Errorf("SetOverride calls = %v", fb.overrides)
	}
	fb.mu.Unlock()
	for _, args := range [][]string{{"check", "-h"}, {"serve", "-h"}, {"drain", "-h"}, {"status", "-h"}, {"explain", "-h"}, {"-h"}} {
		if code, _, _ := runCmd(func(a []string, o, e *strings.Builder) int { return run(a, o, e) }, args...); code != 0 {
			t.Errorf("dnslb %s = %d, want 0", strings.Join(args, " "), code)
		}
	}
	if code, _, _ := runCmd(func(a []string, o, e *strings.Builder) int { return run(a, o, e) }, "check", "-nope"); code != 2 {
		t.Errorf("dnslb check -nope = %d, want 2", code)
	}
	code, out, errs := runCmd(func(a []string, o, e *strings.Builder) int { return run(a, o, e) }, "check")
	if code != 0 || !strings.HasPrefix(out, "built-in example: ok, 1 zone, ") {
		t.Errorf("dnslb check = %d %q %q, want the built-in example checked", code, out, errs)
	}
}

// TestCmdExplainPlain: a name without a [name] table is explained as the
// zone's records, not reported as unknown; a name with no addresses is.
func TestCmdExplainPlain(t *testing.T) {
	ex := func(a []string, o, e *strings.Builder) int { return cmdExplain(a, o, e) }
	code, out, errs := runCmd(ex, "www.example.org", "A", "-client", "192.0.2.1", "-config", "../../example/dnslb.toml")
	if code != 0 || !strings.Contains(out, "is not load-balanced") || !strings.Contains(out, "Every A query gets its 3 A records from zone example.org.") {
		t.Errorf("explain www.example.org A = %d\n%s%s", code, out, errs)
	}
	code, _, errs = runCmd(ex, "nope.example.org", "A", "-client", "192.0.2.1", "-config", "../../example/dnslb.toml")
	if code != 1 || !strings.Contains(errs, "has no A or AAAA records") {
		t.Errorf("explain nope.example.org A = %d %q", code, errs)
	}
}

// TestCmdStatusNoServer: with nothing listening, one line that says so
// and names the flag to point elsewhere, not a raw dial error.
func TestCmdStatusNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	code, out, errs := runCmd(status, "-admin", url)
	want := "dnslb status: no server answers at " + url + " ("
	if code != 1 || out != "" || !strings.HasPrefix(errs, want) || !strings.Contains(errs, "-admin URL") || strings.Count(errs, "\n") != 1 || strings.Contains(errs, "dial tcp") {
		t.Errorf("status with no server = %d %q %q, want 1 and one line starting %q", code, out, errs, want)
	}
}

// TestCmdExplainDefaults: without -client explain uses 127.0.0.1 and says
// so; a missing TYPE is named; a name outside every zone gets REFUSED.
func TestCmdExplainDefaults(t *testing.T) {
	ex := func(a []string, o, e *strings.Builder) int { return cmdExplain(a, o, e) }
	const cfg = "../../example/dnslb.toml"
	code, out, errs := runCmd(ex, "canary.example.org", "A", "-config", cfg)
	if code != 0 || !strings.HasPrefix(out, "canary.example.org. A for client 127.0.0.1\n") || !strings.Contains(errs, "no -client or -subnet given: explaining for client 127.0.0.1") {
		t.Errorf("explain without -client = %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runCmd(ex, "canary.example.org", "-config", cfg); code != 2 || errs != "dnslb explain: missing TYPE after canary.example.org: A or AAAA\n" {
		t.Errorf("explain without TYPE = %d %q", code, errs)
	}
	code, _, errs = runCmd(ex, "www.example.com", "A", "-client", "192.0.2.1", "-config", cfg)
	if code != 1 || !strings.Contains(errs, "www.example.com. is in no zone of "+cfg+": a query for it would get REFUSED") {
		t.Errorf("explain www.example.com = %d %q", code, errs)
	}
}
