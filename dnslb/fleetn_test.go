package dnslb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/admin"
)

// A fleet of N dnslb nodes in this process, for the tests of issue 17:
// node i gossips on 127.0.0.(21+i) and serves DNS on 127.0.0.1:random,
// over real HTTP backends on 127.0.0.(61+j) that count every probe.

// countBackend is a real HTTP backend counting the probes it answers. It
// can die (its listener closed: connections refused) and come back.
type countBackend struct {
	addr  string // ip:port
	ip    string
	hits  atomic.Int64
	mu    sync.Mutex
	srv   *http.Server
	alive bool
}

func (b *countBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	fmt.Fprint(w, "OK")
}

func (b *countBackend) start(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var ln net.Listener
	var err error
	for try := 0; try < 50; try++ { // a closed port can linger a moment
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: time.Second}
	go func(s *http.Server) { _ = s.Serve(ln) }(b.srv)
	b.alive = true
}

func (b *countBackend) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.alive {
		_ = b.srv.Close()
		b.alive = false
	}
}

type fleetOpts struct {
	nodes, backends, probers int
	interval                 string // of the check
	fall                     int
	admin                    bool // an [admin] listener per node
	logLevel                 slog.Level
}

type member struct {
	name, ip  string
	cfgPath   string
	adminAddr string // with opts.admin
	srv       *Server
	dns       string
	stop      func() error
}

type testFleet struct {
	t        testing.TB
	opts     fleetOpts
	dir      string
	backends []*countBackend
	nodes    []*member
	gossip   int // the gossip port, the same on every node's address
}

// startFleet starts the backends and the nodes and waits until every node
// sees every member.
func startFleet(t testing.TB, o fleetOpts) *testFleet {
	t.Helper()
	if o.interval == "" {
		o.interval = "1s"
	}
	if o.fall == 0 {
		o.fall = 1
	}
	f := &testFleet{t: t, opts: o, dir: t.TempDir()}
	var backIPs, nodeIPs []string
	for i := range o.backends {
		backIPs = append(backIPs, fmt.Sprintf("127.0.0.%d", 61+i))
	}
	for i := range o.nodes {
		nodeIPs = append(nodeIPs, fmt.Sprintf("127.0.0.%d", 21+i))
	}
	backPort := freeFleetPort(t, backIPs)
	f.gossip = freeFleetPort(t, nodeIPs)
	for _, ip := range backIPs {
		b := &countBackend{ip: ip, addr: net.JoinHostPort(ip, strconv.Itoa(backPort))}
		b.start(t)
		t.Cleanup(b.kill)
		f.backends = append(f.backends, b)
	}
	zone := "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n"
	for _, ip := range backIPs {
		zone += "www IN A " + ip + "\n"
	}
	if err := os.MkdirAll(filepath.Join(f.dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "zones", "example.org.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, ip := range nodeIPs {
		m := &member{name: fmt.Sprintf("n%d", i+1), ip: ip}
		var seeds []string
		for _, s := range nodeIPs[:min(2, len(nodeIPs))] {
			if s != ip {
				seeds = append(seeds, fmt.Sprintf("%q", net.JoinHostPort(s, strconv.Itoa(f.gossip))))
			}
		}
		adm := ""
		if o.admin {
			m.adminAddr = freePort(t)
			adm = fmt.Sprintf("[admin]\nlisten = %q\n", m.adminAddr)
		}
		// The same config on every node but [cluster]'s name and bind and
		// the state file: their digests agree.
		cfg := fmt.Sprintf(`zone_dir = "zones"
[server]
listen = ["127.0.0.1:0"]
%s[health]
startup_grace = "3s"
state_file = "state-%s.json"
[healthcheck.web]
type = "http"
port = %d
path = "/health"
interval = %q
timeout = "500ms"
rise = 1
fall = %d
[name."www.example.org"]
check = "web"
[cluster]
name = %q
bind = %q
port = %d
seeds = [%s]
probers = %d
`, adm, m.name, backPort, o.interval, o.fall, m.name, ip, f.gossip, strings.Join(seeds, ", "), o.probers)
		m.cfgPath = filepath.Join(f.dir, m.name+".toml")
		if err := os.WriteFile(m.cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		f.nodes = append(f.nodes, m)
		f.start(m)
		t.Cleanup(func() { f.halt(m) })
	}
	f.waitMembers(f.nodes)
	return f
}

func (f *testFleet) start(m *member) {
	f.t.Helper()
	lvl := f.opts.logLevel
	if lvl == 0 {
		lvl = slog.LevelWarn
	}
	m.srv, m.stop = launch(f.t, m.cfgPath, slog.New(slog.NewTextHandler(testWriter{f.t}, &slog.HandlerOptions{Level: lvl})))
	m.dns = m.srv.Addrs()[0].String()
}

func (f *testFleet) halt(m *member) {
	if m.stop != nil {
		if err := m.stop(); err != nil {
			f.t.Errorf("%s: %v", m.name, err)
		}
		m.stop = nil
	}
}

func names(ms []*member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.name)
	}
	slices.Sort(out)
	return out
}

// waitMembers waits until each of ms sees exactly ms as live members.
func (f *testFleet) waitMembers(ms []*member) {
	f.t.Helper()
	f.waitMembersFor(ms, 30*time.Second)
}

// waitMembersFor is waitMembers with its own deadline.
func (f *testFleet) waitMembersFor(ms []*member, d time.Duration) {
	f.t.Helper()
	want := names(ms)
	waitForLong(f.t, d, fmt.Sprintf("every node to see the members %v", want), func() bool {
		for _, m := range ms {
			var got []string
			for _, mb := range m.srv.cluster.Status().Members {
				got = append(got, mb.Name)
			}
			if !slices.Equal(got, want) {
				return false
			}
		}
		return true
	})
}

// waitForLong is waitFor with its own deadline.
func waitForLong(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wwwOf is www.example.org's A records from m, sorted and joined; ""
// on a failed exchange.
func wwwOf(m *member) string {
	q := new(dns.Msg)
	q.SetQuestion("www.example.org.", dns.TypeA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(q, m.dns)
	if err != nil {
		return ""
	}
	return strings.Join(answerAddrs(r), " ")
}

func (f *testFleet) ips(except ...*countBackend) string {
	var out []string
	for _, b := range f.backends {
		if !slices.Contains(except, b) {
			out = append(out, b.ip)
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// allAnswer reports whether every node of ms answers want.
func allAnswer(ms []*member, want string) bool {
	for _, m := range ms {
		if wwwOf(m) != want {
			return false
		}
	}
	return true
}

// override posts an override to m's admin API.
func (f *testFleet) override(m *member, target, state string) {
	f.t.Helper()
	body, _ := json.Marshal(admin.OverrideRequest{Target: target, State: state})
	resp, err := http.Post("http://"+m.adminAddr+"/api/override", "application/json", bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var res admin.ActionResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || !res.OK {
		f.t.Fatalf("override %s %s on %s: %d %+v %v", target, state, m.name, resp.StatusCode, res, err)
	}
}

// TestFleetOverrides: a drain set through one node's admin API is
// honoured by every node within a second, with who set it and when on
// every status; a clear on another node reaches all; a node restarted
// keeps the fleet's override (its state file) and takes a clear made
// while it was down.
func TestFleetOverrides(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet of three servers")
	}
	f := startFleet(t, fleetOpts{nodes: 3, backends: 4, probers: 3, admin: true})
	all := f.ips()
	waitFor(t, "every node to serve all four", func() bool { return allAnswer(f.nodes, all) })

	drained := f.backends[2]
	set := time.Now()
	f.override(f.nodes[0], drained.ip, "drain")
	want := f.ips(drained)
	waitForLong(t, 2*time.Second, "every node to drop the drained address", func() bool { return allAnswer(f.nodes, want) })
	took := time.Since(set)
	t.Logf("a drain on n1 was honoured by all three nodes after %v", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("a drain on n1 took %v to reach every node, want within 1s", took)
	}
	for _, m := range f.nodes {
		st := m.srv.Status()
		var got string
		for _, o := range st.Cluster.Overrides {
			if o.Target == drained.ip {
				got = fmt.Sprintf("%s by %s", o.State, o.By)
				if o.At.Before(set.Add(-time.Second)) || o.At.After(time.Now()) {
					t.Errorf("%s: override set at %v, want about %v", m.name, o.At, set)
				}
			}
		}
		if got != "drain by n1" {
			t.Errorf("%s: fleet override of %s = %q, want drain by n1", m.name, drained.ip, got)
		}
		if ov := m.srv.Store().Overrides()[drained.ip]; ov != "drain" {
			t.Errorf("%s: store override %q, want drain", m.name, ov)
		}
	}

	// n3 goes down; the state files keep the drain. A clear on n2 while n3
	// is away must win over n3's file when it comes back.
	n3 := f.nodes[2]
	f.halt(n3)
	f.waitMembers(f.nodes[:2])
	data, err := os.ReadFile(filepath.Join(f.dir, "state-n3.json"))
	if err != nil || !strings.Contains(string(data), `"drain"`) {
		t.Fatalf("n3's state file = %q, %v; want the drain", data, err)
	}
	f.override(f.nodes[1], drained.ip, "")
	waitForLong(t, 2*time.Second, "n1 and n2 to serve all four again", func() bool { return allAnswer(f.nodes[:2], all) })
	// And a down of another address, set while n3 is away.
	downed := f.backends[0]
	f.override(f.nodes[0], downed.ip, "down")
	want = f.ips(downed)
	waitForLong(t, 2*time.Second, "n1 and n2 to drop the downed address", func() bool { return allAnswer(f.nodes[:2], want) })

	f.start(n3)
	f.waitMembers(f.nodes)
	waitForLong(t, 5*time.Second, "n3 to take the fleet's overrides", func() bool { return wwwOf(n3) == want })
	if ov := n3.srv.Store().Overrides(); len(ov) != 1 || ov[downed.ip] != "down" {
		t.Errorf("n3's overrides after rejoining = %v, want only %s down", ov, downed.ip)
	}
	waitFor(t, "n3's state file to follow", func() bool {
		data, _ := os.ReadFile(filepath.Join(f.dir, "state-n3.json"))
		return strings.Contains(string(data), downed.ip) && !strings.Contains(string(data), drained.ip)
	})
}

// getPage returns the body of a GET on m's admin listener.
func getPage(t *testing.T, m *member, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + m.adminAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestFleetDigestsAndMetrics: nodes with the same config gossip the same
// digests and report no drift; a node reloaded with a different check
// is named on every node's status page and /api/status; the cluster
// metrics count members by state, observations received, the seconds
// since each member's last merge and gossip's bytes; the status lists
// each target's probers and a disagreement.
func TestFleetDigestsAndMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet of three servers")
	}
	f := startFleet(t, fleetOpts{nodes: 3, backends: 2, probers: 3, admin: true})
	n1, n3 := f.nodes[0], f.nodes[2]
	waitFor(t, "every node to hear every digest", func() bool {
		for _, m := range f.nodes {
			st := m.srv.cluster.Status()
			for _, mb := range st.Members {
				if mb.Config == "" || mb.Config != st.Config || mb.Zones != st.Zones {
					return false
				}
			}
			if len(st.Drift) > 0 {
				return false
			}
		}
		return true
	})
	data, err := os.ReadFile(n3.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, n3.cfgPath, strings.Replace(string(data), `timeout = "500ms"`, `timeout = "400ms"`, 1))
	if err := n3.srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1 to see n3's config drift", func() bool {
		for _, d := range n1.srv.cluster.Status().Drift {
			if strings.HasPrefix(d, "n3 has config digest") {
				return true
			}
		}
		return false
	})
	page := getPage(t, n1, "/")
	for _, want := range []string{"drift: n3 has config digest", "<th>config digest</th>", ">alive<"} {
		if !strings.Contains(page, want) {
			t.Errorf("n1's status page lacks %q", want)
		}
	}
	var api struct {
		Cluster struct {
			Members []struct {
				Name, State, Address string
				Config               string `json:"config_digest"`
			}
			Drift []string
		}
	}
	if err := json.Unmarshal([]byte(getPage(t, n1, "/api/status")), &api); err != nil {
		t.Fatal(err)
	}
	if len(api.Cluster.Members) != 3 || api.Cluster.Members[2].Name != "n3" || api.Cluster.Members[2].State != "alive" ||
		api.Cluster.Members[2].Address != n3.ip+":"+strconv.Itoa(f.gossip) || api.Cluster.Members[2].Config == api.Cluster.Members[0].Config ||
		len(api.Cluster.Drift) != 1 {
		t.Errorf("/api/status cluster = %+v, want three alive members, n3's config digest its own, one drift", api.Cluster)
	}
	// Put back: the drift goes.
	replaceFile(t, n3.cfgPath, string(data))
	if err := n3.srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drift to clear on n1", func() bool { return len(n1.srv.cluster.Status().Drift) == 0 })

	time.Sleep(1500 * time.Millisecond) // probes and gossip go on: merges to count
	m := scrape(t, n1.srv.Metrics())
	for _, want := range []string{`dnslb_cluster_members_by_state{state="alive"} 3`, `dnslb_cluster_members_by_state{state="dead"} 0`,
		`dnslb_cluster_seconds_since_merge{member="n2"} `, `dnslb_cluster_seconds_since_merge{member="n3"} `, `dnslb_cluster_local_targets 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("n1's metrics lack %q", want)
		}
	}
	for _, series := range []string{"dnslb_cluster_observations_received_total", `dnslb_cluster_gossip_bytes_total{direction="sent"}`, `dnslb_cluster_gossip_bytes_total{direction="received"}`} {
		if v := metricValue(t, n1.srv, series); v <= 0 {
			t.Errorf("%s = %v, want > 0", series, v)
		}
	}
	for _, l := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(l, `dnslb_cluster_seconds_since_merge{member="n2"} `); ok {
			if s, _ := strconv.ParseFloat(v, 64); s > 3 {
				t.Errorf("seconds since n2's last merge = %v, want within a few probe intervals", s)
			}
		}
	}
	for _, ts := range n1.srv.cluster.Status().Targets {
		if len(ts.Views) != 3 || ts.Disagree {
			t.Errorf("target %s: views %+v disagree=%v, want three probers agreeing", ts.Target, ts.Views, ts.Disagree)
		}
	}
}
