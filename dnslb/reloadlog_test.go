package dnslb

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/config"
)

// TestReloadLogged: every successful reload logs its trigger and what it
// changed, whatever triggered it (the file watcher, the API, a call as
// SIGHUP makes), and a failed one logs its trigger with each error.
func TestReloadLogged(t *testing.T) {
	cfgPath := copyTestConfig(t)
	dir := filepath.Dir(cfgPath)
	zonePath := filepath.Join(dir, "zones", "example.org.zone")
	orig, err := os.ReadFile(zonePath)
	if err != nil {
		t.Fatal(err)
	}
	srv, _, logs := startLoggedServer(t, cfgPath)

	// The watcher: a new serial.
	replaceFile(t, zonePath, strings.Replace(string(orig), " 1 7200", " 2 7200", 1))
	const watched = `level=INFO msg=reloaded trigger="file change" duration=`
	waitFor(t, "the watcher's reload in the log", func() bool { return strings.Contains(logs.String(), watched) })
	if line := lineWith(logs.String(), watched); !strings.HasSuffix(line, ` serials="example.org. 1 -> 2"`) {
		t.Errorf("watcher reload logged %q, want the serial change", line)
	}

	// The API, with nothing changed.
	admin := httptest.NewServer(admin.New(config.AdminConfig{}, srv, srv.Metrics(), nil).Handler())
	t.Cleanup(admin.Close)
	req, _ := http.NewRequest("POST", admin.URL+"/api/reload", nil)
	req.Header.Set("Content-Type", "application/json")
	resp, err := admin.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /api/reload: status %d", resp.StatusCode)
	}
	if line := lineWith(logs.String(), "msg=reloaded trigger=api"); !strings.HasSuffix(line, " zones_and_names=unchanged") {
		t.Errorf("API reload logged %q, want zones_and_names=unchanged", line)
	}

	// A zone and a name added, then removed.
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	net := "$ORIGIN example.net.\n$TTL 300\n@ IN SOA ns1 hm 5 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.54\n"
	replaceFile(t, filepath.Join(dir, "zones", "example.net.zone"), net)
	replaceFile(t, cfgPath, string(cfg)+"\n[name.\"www.example.org\"]\n")
	if err := srv.Reload("sighup"); err != nil {
		t.Fatal(err)
	}
	// The watcher sees the folder change too, and may reload first.
	if !anyReload(logs.String(), []string{"sighup", `"file change"`}, ` zones_added=example.net. names_added=www.example.org.`) {
		t.Errorf("no reload logged example.net. and www.example.org. added:\n%s", logs.String())
	}
	if got := srv.lastReloadStatus().Changes; !slices.Equal(got, []string{"zone example.net. added", "name www.example.org. added"}) &&
		!anyReload(logs.String(), []string{`"file change"`}, "example.net.") {
		t.Errorf("last reload changes %q", got)
	}
	if err := os.Remove(filepath.Join(dir, "zones", "example.net.zone")); err != nil {
		t.Fatal(err)
	}
	replaceFile(t, cfgPath, string(cfg))
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if !anyReload(logs.String(), []string{"test", `"file change"`}, ` zones_removed=example.net. names_removed=www.example.org.`) {
		t.Errorf("no reload logged example.net. and www.example.org. removed:\n%s", logs.String())
	}

	// A failure says its trigger on every line.
	replaceFile(t, zonePath, string(orig)+"bad IN A 192.0.2.300\n")
	if err := srv.Reload("api"); err == nil {
		t.Fatal("a broken zone reloaded")
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="reload failed, the old state keeps serving" trigger=api errors=1 duration=`) ||
		!strings.Contains(logs.String(), `level=ERROR msg="reload failed" trigger=api err="`+zonePath) {
		t.Errorf("failed reload not logged with its trigger and error:\n%s", logs.String())
	}
}

// lineWith returns the last log line containing s, or "".
func lineWith(logs, s string) string {
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}

// TestZoneDirNewFile: a zone file dropped into zone_dir (by rename, as a
// deploy does) is served without a manual reload. watch_interval is long,
// so it is the folder's fsnotify event that finds it, not polling.
func TestZoneDirNewFile(t *testing.T) {
	cfgPath := writeLBConfig(t, "")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, cfgPath, strings.Replace(string(data), "[server]\n", "[server]\nwatch_interval = \"1h\"\n", 1))
	srv, addr, logs := startLoggedServer(t, cfgPath)
	zone := "$ORIGIN example.net.\n$TTL 300\n@ IN SOA ns1 hm 3 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.54\nwww IN A 192.0.2.80\n"
	replaceFile(t, filepath.Join(filepath.Dir(cfgPath), "zones", "example.net.zone"), zone)
	waitFor(t, "www.example.net from the new zone file", func() bool {
		return slices.Equal(answerAddrs(queryA(t, addr, "www.example.net.")), []string{"192.0.2.80"})
	})
	if line := lineWith(logs.String(), `msg=reloaded trigger="file change"`); !strings.HasSuffix(line, " zones_added=example.net.") {
		t.Errorf("reload logged %q, want zones_added=example.net.", line)
	}
	if st := srv.lastReloadStatus(); !st.OK || st.Trigger != "file change" {
		t.Errorf("last reload %+v, want an ok file change", st)
	}
}

// TestReloadForgetsSeries: a reload that removes a target, a check and a
// name removes their series from /metrics; the others stay.
func TestReloadForgetsSeries(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for probes")
	}
	_, port := startBackends(t, 3)
	names := `
[name."www.example.org"]
check = "web"
[name."api.example.org"]
check = "tcp"
`
	checks := fmt.Sprintf(`
[healthcheck.web]
type = "http"
port = %d
path = "/"
interval = "1s"
timeout = "500ms"
[healthcheck.tcp]
type = "tcp"
port = %d
interval = "1s"
timeout = "500ms"
`, port, port)
	cfgPath := writeLBConfig(t, checks+names)
	zonePath := filepath.Join(filepath.Dir(cfgPath), "zones", "example.org.zone")
	zone, err := os.ReadFile(zonePath)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, zonePath, string(zone)+"api IN A 127.0.0.1\n")
	srv, _ := startServer(t, cfgPath)
	series := []string{
		`dnslb_target_up{check="web",target="127.0.0.3"} 1`,
		`dnslb_target_up{check="tcp",target="127.0.0.1"} 1`,
		`dnslb_name_healthy_addresses{name="api.example.org"} 1`,
		`dnslb_name_all_down{name="api.example.org"} 0`,
		`dnslb_target_state_changes_total{check="tcp",state="up"} 1`,
	}
	waitFor(t, "every target up in /metrics", func() bool {
		out := scrape(t, srv.Metrics())
		for _, s := range series {
			if !hasSeries(out, s) {
				return false
			}
		}
		return true
	})

	// www loses 127.0.0.3; api and its check go.
	replaceFile(t, zonePath, strings.Replace(strings.Replace(string(zone), " 1 3600 600", " 2 3600 600", 1), "     IN A   127.0.0.3\n", "", 1))
	replaceFile(t, cfgPath, strings.Replace(string(mustRead(t, cfgPath)), "[name.\"api.example.org\"]\ncheck = \"tcp\"\n", "", 1))
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the series of removed targets and names to go", func() bool {
		out := scrape(t, srv.Metrics())
		for _, s := range series {
			if strings.Contains(out, s[:strings.LastIndex(s, " ")]) {
				return false
			}
		}
		return true
	})
	out := scrape(t, srv.Metrics())
	for _, keep := range []string{
		`dnslb_target_up{check="web",target="127.0.0.1"} 1`,
		`dnslb_target_up{check="web",target="127.0.0.2"} 1`,
		`dnslb_name_healthy_addresses{name="www.example.org"} 2`,
	} {
		if !hasSeries(out, keep) {
			t.Errorf("after the reload /metrics lacks %s", keep)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// anyReload tells whether a "reloaded" line with one of the triggers
// holds want.
func anyReload(logs string, triggers []string, want string) bool {
	for _, line := range strings.Split(logs, "\n") {
		for _, tr := range triggers {
			if strings.Contains(line, "msg=reloaded trigger="+tr+" ") && strings.Contains(line, want) {
				return true
			}
		}
	}
	return false
}
