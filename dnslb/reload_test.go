package dnslb

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
)

// copyTestConfig copies testdata's config and zones to a temp folder that
// the test may edit.
func copyTestConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "dnslb.toml")
}

// replaceFile writes data to path by rename, as zone files should be.
func replaceFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func queryA(t *testing.T, addr, name string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	return exchange(t, addr, "udp", m)
}

func TestReload(t *testing.T) {
	cfgPath := copyTestConfig(t)
	zonePath := filepath.Join(filepath.Dir(cfgPath), "zones", "example.org.zone")
	orig, err := os.ReadFile(zonePath)
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, cfgPath)

	// A good edit (new serial, new name) is picked up by the file watcher.
	edited := strings.Replace(string(orig), " 1 7200", " 2 7200", 1) + "new IN A 192.0.2.77\n"
	replaceFile(t, zonePath, edited)
	waitFor(t, "new.example.org to appear", func() bool { return len(queryA(t, addr, "new.example.org.").Answer) == 1 })

	// A broken edit is refused with path:line, and the old data keeps serving.
	broken := edited + "bad IN A 192.0.2.300\nworse IN AAAA nope\n"
	replaceFile(t, zonePath, broken)
	err = srv.Reload("test")
	if err == nil {
		t.Fatal("Reload of a broken zone succeeded")
	}
	for _, want := range []string{
		zonePath + `:41:20: bad A record: "192.0.2.300" is not an IPv4 address`,
		zonePath + `:42:18: bad AAAA record: "nope" is not an IPv6 address`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Reload error %q does not mention %q", err, want)
		}
	}
	if r := queryA(t, addr, "new.example.org."); len(r.Answer) != 1 {
		t.Errorf("after a failed reload new.example.org has %d answers, want the old 1", len(r.Answer))
	}
	if st := srv.lastReloadStatus(); st.OK || len(st.Errors) < 2 {
		t.Errorf("last reload status %+v, want a failure with both errors", st)
	}
}

// TestReloadUnderLoad reloads many times while queries run: every query
// gets a correct answer, none fails.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	cfgPath := copyTestConfig(t)
	zonePath := filepath.Join(filepath.Dir(cfgPath), "zones", "example.org.zone")
	orig, _ := os.ReadFile(zonePath)
	srv, addr := startServer(t, cfgPath)

	var stop atomic.Bool
	var sent, bad atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c := &dns.Client{Net: "udp", Timeout: time.Second}
			deadline := time.Now().Add(20 * time.Second)
			for !stop.Load() && time.Now().Before(deadline) {
				m := new(dns.Msg)
				m.SetQuestion("www.example.org.", dns.TypeA)
				r, _, err := c.Exchange(m, addr)
				sent.Add(1)
				if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 3 {
					bad.Add(1)
				}
			}
		})
	}
	for i := range 50 {
		serial := " " + string(rune('0'+i%10)) + "0" + " 7200"
		replaceFile(t, zonePath, strings.Replace(string(orig), " 1 7200", serial, 1))
		if err := srv.Reload("test"); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if sent.Load() == 0 || bad.Load() != 0 {
		t.Errorf("%d of %d queries failed during 50 reloads", bad.Load(), sent.Load())
	}
}

// TestReloadInPlaceEdit: an editor that rewrites the file in place (no
// rename) is picked up too.
func TestReloadInPlaceEdit(t *testing.T) {
	cfgPath := copyTestConfig(t)
	zonePath := filepath.Join(filepath.Dir(cfgPath), "zones", "example.org.zone")
	orig, _ := os.ReadFile(zonePath)
	_, addr := startServer(t, cfgPath)
	edited := strings.Replace(string(orig), " 1 7200", " 3 7200", 1) + "inplace IN A 192.0.2.78\n"
	if err := os.WriteFile(zonePath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "inplace.example.org to appear", func() bool { return len(queryA(t, addr, "inplace.example.org.").Answer) == 1 })
}

// TestReloadLogSettings: a reload applies log.level to the logger's
// LevelVar; log.format needs a restart, which it says.
func TestReloadLogSettings(t *testing.T) {
	cfgPath := copyTestConfig(t)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var level slog.LevelVar
	level.Set(cfg.Log.LevelOf())
	var logs bytes.Buffer
	srv, err := New(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: &level})))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetLogLevel(&level)
	if level.Level() != slog.LevelInfo {
		t.Fatalf("level %v at start, want INFO", level.Level())
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, cfgPath, string(data)+"\n[log]\nlevel = \"warn\"\nformat = \"json\"\n")
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if level.Level() != slog.LevelWarn {
		t.Errorf("level %v after a reload to warn", level.Level())
	}
	if !strings.Contains(logs.String(), "log.format changed: restart to apply it") {
		t.Errorf("no warning about log.format:\n%s", logs.String())
	}
}
