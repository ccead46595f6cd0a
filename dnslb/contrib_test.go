package dnslb

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// needTool returns the path of a tool the test needs. Missing, it skips,
// but fails when CI is set so the test cannot silently stop running.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found in PATH and CI is set: install it (apt-get install %s, or .ci/deps)", name, pkg)
		}
		t.Skipf("%s not found in PATH (apt-get install %s); set CI=1 to make this a failure", name, pkg)
	}
	return p
}

// TestPrometheusRules: contrib/prometheus/dnslb.rules.yml passes promtool
// check rules, and its alerts fire (and stay quiet) as the example series
// of dnslb.rules.test.yml say.
func TestPrometheusRules(t *testing.T) {
	promtool := needTool(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "dnslb.rules.yml"},
		{"test", "rules", "dnslb.rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../contrib/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// metricRE finds our metric names in a PromQL expression.
var metricRE = regexp.MustCompile(`\bdnslb_[a-zA-Z0-9_]+`)

// TestContribMetricNames: every metric the shipped alert rules and the
// Grafana dashboard refer to is in the /metrics of a running server, one
// with a health check, a load-balanced name, a query answered and a
// reload done. The dashboard is JSON with a title, a uid and panels whose
// every target has an expression.
func TestContribMetricNames(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	// A secondary that answers one NOTIFY, for dnslb_notifies_total.
	sec, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sec.Close() })
	go func() {
		buf := make([]byte, 4096)
		n, from, err := sec.ReadFrom(buf)
		m := new(dns.Msg)
		if err != nil || m.Unpack(buf[:n]) != nil {
			return
		}
		r := new(dns.Msg)
		r.SetReply(m)
		out, _ := r.Pack()
		_, _ = sec.WriteTo(out, from)
	}()
	cfgPath := writeLBConfig(t, fmt.Sprintf(`
[transfer]
notify = [%q]

[healthcheck.web]
type = "tcp"
port = %d
interval = "1s"
timeout = "500ms"

[name."www.example.org"]
check = "web"
pick = "weighted"
`, sec.LocalAddr(), port))
	srv, addr := startServer(t, cfgPath)
	queryA(t, addr, "www.example.org.")
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dnslb_target_up and dnslb_notifies_total in /metrics", func() bool {
		out := scrape(t, srv.Metrics())
		return strings.Contains(out, "dnslb_target_up{") && strings.Contains(out, "dnslb_notifies_total{")
	})
	exposed := map[string]bool{}
	for _, line := range strings.Split(scrape(t, srv.Metrics()), "\n") {
		if name, _, ok := strings.Cut(line, "{"); ok && !strings.HasPrefix(line, "#") {
			exposed[name] = true
		} else if name, _, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			exposed[name] = true
		}
	}

	var exprs []string
	rules, err := os.ReadFile("../contrib/prometheus/dnslb.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(rules), "\n") {
		if l := strings.TrimSpace(line); !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "description:") && !strings.HasPrefix(l, "summary:") {
			exprs = append(exprs, l)
		}
	}
	data, err := os.ReadFile("../contrib/grafana/dnslb.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title, UID string
		Panels     []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("contrib/grafana/dnslb.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) < 8 {
		t.Errorf("dashboard: title %q, uid %q, %d panels: want a title, a uid and panels for queries, latency, health, shares, reloads",
			dash.Title, dash.UID, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if !metricRE.MatchString(tg.Expr) {
				t.Errorf("dashboard panel %q: expression %q names no dnslb metric", p.Title, tg.Expr)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	var names []string
	for _, e := range exprs {
		for _, n := range metricRE.FindAllString(e, -1) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %d metric names in the rules and dashboard: %v", len(names), names)
	}
	for _, n := range names {
		if !exposed[n] {
			t.Errorf("%s is in contrib/ but not in /metrics", n)
		}
	}
}
