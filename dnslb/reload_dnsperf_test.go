package dnslb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReloadUnderDnsperf sends queries at a steady rate from a second
// process (dnsperf) while the zone is reloaded many times, and checks that
// every query was answered and every answer was NOERROR.
func TestReloadUnderDnsperf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dnsperf for several seconds")
	}
	dnsperf, err := exec.LookPath("dnsperf")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dnsperf is missing; CI installs it with .ci/deps")
		}
		t.Skip("dnsperf is not installed (make deps installs it)")
	}
	cfgPath := copyTestConfig(t)
	zonePath := filepath.Join(filepath.Dir(cfgPath), "zones", "example.org.zone")
	orig, _ := os.ReadFile(zonePath)
	srv, addr := startServer(t, cfgPath)
	host, port, _ := strings.Cut(addr, ":")

	queries := filepath.Join(t.TempDir(), "queries")
	q := "www.example.org A\napi.example.org AAAA\nexample.org MX\nexample.org SOA\nanything.example.org TXT\n"
	if err := os.WriteFile(queries, []byte(q), 0o644); err != nil {
		t.Fatal(err)
	}
	// 2000 queries a second for 6 seconds: a steady load, bounded.
	cmd := exec.Command(dnsperf, "-s", host, "-p", port, "-d", queries, "-l", "6", "-Q", "2000", "-t", "2")
	out := new(strings.Builder)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reloads := 0
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		serial := fmt.Sprintf(" %d 7200", 100+i)
		replaceFile(t, zonePath, strings.Replace(string(orig), " 1 7200", serial, 1))
		if err := srv.Reload("test"); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		reloads++
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dnsperf: %v\n%s", err, out)
	}
	report := out.String()
	sent := regexp.MustCompile(`Queries sent:\s+(\d+)`).FindStringSubmatch(report)
	lost := regexp.MustCompile(`Queries lost:\s+(\d+)`).FindStringSubmatch(report)
	codes := regexp.MustCompile(`Response codes:\s+(.*)`).FindStringSubmatch(report)
	if sent == nil || lost == nil || codes == nil {
		t.Fatalf("cannot read the dnsperf report:\n%s", report)
	}
	if sent[1] == "0" || lost[1] != "0" || !strings.HasPrefix(codes[1], "NOERROR") || strings.Contains(codes[1], ",") {
		t.Errorf("during %d reloads: %s sent, %s lost, response codes %q; want none lost, all NOERROR\n%s",
			reloads, sent[1], lost[1], codes[1], report)
	}
	t.Logf("%d reloads under load: %s queries sent, %s lost, %s", reloads, sent[1], lost[1], codes[1])
}
