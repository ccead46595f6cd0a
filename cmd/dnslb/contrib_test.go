package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/config"
)

// TestContribConfig: dnslb check accepts the production config in
// contrib/ as it is, but for its two system folders (/var/lib/dnslb and
// /var/log/dnslb, which the systemd unit creates), here temporary ones;
// and it has what a production config needs.
func TestContribConfig(t *testing.T) {
	dir := t.TempDir()
	text, err := os.ReadFile("../../contrib/dnslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"/var/lib/dnslb", "/var/log/dnslb"} {
		if !strings.Contains(string(text), d+"/") {
			t.Errorf("contrib/dnslb.toml does not use %s", d)
		}
		local := filepath.Join(dir, filepath.Base(filepath.Dir(d)))
		if err := os.Mkdir(local, 0o755); err != nil {
			t.Fatal(err)
		}
		text = []byte(strings.ReplaceAll(string(text), d+"/", local+"/"))
	}
	zones, err := filepath.Glob("../../contrib/zones/*.zone")
	if err != nil || len(zones) == 0 {
		t.Fatalf("contrib/zones: %v %v", zones, err)
	}
	if err := os.Mkdir(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, z := range zones {
		data, err := os.ReadFile(z)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "zones", filepath.Base(z)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(conf, text, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs strings.Builder
	if code := run([]string{"check", "-config", conf}, &out, &errs); code != 0 {
		t.Fatalf("dnslb check contrib/dnslb.toml = %d\n%s%s", code, out.String(), errs.String())
	}

	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	geo := false
	for _, nc := range cfg.Names {
		geo = geo || nc.Select == "geo"
	}
	for what, ok := range map[string]bool{
		"two listen addresses":  len(cfg.Server.Listen) >= 2,
		"an admin token":        cfg.Admin.Listen != "" && cfg.Admin.Token != "",
		"health checks":         len(cfg.Checks) > 0,
		"a geo name":            geo,
		"transfer":              len(cfg.Transfer.Allow) > 0 && len(cfg.Transfer.Notify) > 0,
		"a state file":          cfg.Health.StateFile != "",
		"a query log":           cfg.Log.QueryLog != "",
		"short TTLs everywhere": shortTTLs(cfg),
	} {
		if !ok {
			t.Errorf("contrib/dnslb.toml lacks %s", what)
		}
	}
}

func shortTTLs(cfg config.Config) bool {
	for _, nc := range cfg.Names {
		if nc.TTL == nil || *nc.TTL > 60 || nc.DegradedTTL == nil {
			return false
		}
	}
	return len(cfg.Names) > 0
}
