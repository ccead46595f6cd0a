package dnslb

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	want := names(ms)
	waitForLong(f.t, 30*time.Second, fmt.Sprintf("every node to see the members %v", want), func() bool {
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
