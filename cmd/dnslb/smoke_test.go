package main

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSmoke runs testdata/smoke.sh, a readable dig-based check of the
// example zones, against dnslb. It also runs it against NSD and Knot when
// they are installed, which keeps the script's expectations honest: they are
// what the reference servers answer.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DNS servers; skipped with -short")
	}
	requireTool(t, "dig", "bind9-dnsutils")
	dir := zonesDir(t)
	zones := loadZones(t, dir)
	t.Run("dnslb", func(t *testing.T) {
		runSmoke(t, startDNSLB(t, dir, zones))
	})
	t.Run("nsd", func(t *testing.T) { runSmoke(t, startNSD(t, dir, zones)) })
	t.Run("knot", func(t *testing.T) { runSmoke(t, startKnot(t, dir, zones)) })
}

func runSmoke(t *testing.T, addr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "testdata", "smoke.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", script, port, host).CombinedOutput()
	if err != nil {
		t.Errorf("smoke.sh %s %s: %v\n%s", port, host, err, out)
		return
	}
	t.Logf("smoke.sh %s %s:\n%s", port, host, out)
}
