package dnslb

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnslb/dnslb/dnslb/cluster"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/healthcheck"
)

// fleetBackend is a real HTTP backend that counts the probes of each node
// (each node's check asks its own path, /health/<node>) and can refuse
// chosen nodes: a path from that node to the backend that is broken.
type fleetBackend struct {
	addr string
	srv  *http.Server

	mu      sync.Mutex
	hits    map[string]int  // node → probes since the last reset
	blocked map[string]bool // node → answered 503
}

func (b *fleetBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	node := strings.TrimPrefix(r.URL.Path, "/health/")
	b.mu.Lock()
	b.hits[node]++
	blocked := b.blocked[node]
	b.mu.Unlock()
	if blocked {
		http.Error(w, "blocked", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprint(w, "OK")
}

// probedBy resets the counts and returns the nodes that probed since the
// last call, sorted.
func (b *fleetBackend) probedBy() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for n, c := range b.hits {
		if c > 0 {
			out = append(out, n)
		}
	}
	clear(b.hits)
	slices.Sort(out)
	return out
}

func (b *fleetBackend) block(node string) {
	b.mu.Lock()
	b.blocked[node] = true
	b.mu.Unlock()
}

// freeFleetPort finds a TCP and UDP port free on every address.
func freeFleetPort(t testing.TB, addrs []string) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		ln, err := net.Listen("tcp", addrs[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		ok := true
		for _, a := range addrs {
			hp := net.JoinHostPort(a, strconv.Itoa(port))
			l, err := net.Listen("tcp", hp)
			if err != nil {
				ok = false
				break
			}
			l.Close()
			u, err := net.ListenPacket("udp", hp)
			if err != nil {
				ok = false
				break
			}
			u.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every address")
	return 0
}

type fleetNode struct {
	name string
	srv  *Server
	addr string // DNS
	stop func() error
}

// TestFleet runs four dnslb nodes in one process, gossiping on
// 127.0.0.11..14, over six real HTTP backends on 127.0.0.1..6, with
// probers = 3 and quorum = majority.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet of four servers over several seconds")
	}
	const nBackends, nNodes, probers = 6, 4, 3
	var backAddrs, nodeAddrs []string
	for i := 1; i <= nBackends; i++ {
		backAddrs = append(backAddrs, fmt.Sprintf("127.0.0.%d", i))
	}
	for i := 1; i <= nNodes; i++ {
		nodeAddrs = append(nodeAddrs, fmt.Sprintf("127.0.0.%d", 10+i))
	}
	backPort := freeFleetPort(t, backAddrs)
	gossipPort := freeFleetPort(t, nodeAddrs)
	backends := map[string]*fleetBackend{}
	for _, a := range backAddrs {
		b := &fleetBackend{addr: net.JoinHostPort(a, strconv.Itoa(backPort)), hits: map[string]int{}, blocked: map[string]bool{}}
		ln, err := net.Listen("tcp", b.addr)
		if err != nil {
			t.Fatal(err)
		}
		b.srv = &http.Server{Handler: b}
		go func() { _ = b.srv.Serve(ln) }()
		t.Cleanup(func() { _ = b.srv.Close() })
		backends[a] = b
	}

	dir := t.TempDir()
	zone := "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n"
	for _, a := range backAddrs {
		zone += "www IN A " + a + "\n"
	}
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zones", "example.org.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	// The gossip is encrypted (loopback does not require it, but the
	// keyring path should run).
	if err := os.WriteFile(filepath.Join(dir, "gossip.key"), []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var nodes []*fleetNode
	for i, a := range nodeAddrs {
		name := fmt.Sprintf("n%d", i+1)
		cfg := fmt.Sprintf(`zone_dir = "zones"
[server]
listen = ["127.0.0.1:0"]
[health]
startup_grace = "3s"
[healthcheck.web]
type = "http"
port = %d
path = "/health/%s"
interval = "1s"
timeout = "500ms"
rise = 1
fall = 1
[name."www.example.org"]
check = "web"
[cluster]
name = %q
bind = %q
port = %d
seeds = ["%s:%d"]
probers = %d
quorum = "majority"
key_file = "gossip.key"
`, backPort, name, name, a, gossipPort, nodeAddrs[0], gossipPort, probers)
		path := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		srv, stop := launch(t, path, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))
		n := &fleetNode{name: name, srv: srv, addr: srv.Addrs()[0].String(), stop: stop}
		t.Cleanup(func() {
			if n.stop != nil {
				_ = n.stop()
			}
		})
		nodes = append(nodes, n)
	}
	members := func(n *fleetNode) []string {
		var out []string
		for _, m := range n.srv.cluster.Status().Members {
			out = append(out, m.Name)
		}
		return out
	}
	all := []string{"n1", "n2", "n3", "n4"}
	waitFor(t, "every node to see four members", func() bool {
		for _, n := range nodes {
			if !slices.Equal(members(n), all) {
				return false
			}
		}
		return true
	})
	answers := func(n *fleetNode) string {
		return strings.Join(answerAddrs(queryA(t, n.addr, "www.example.org.")), " ")
	}
	agree := func(what, want string, ns []*fleetNode) {
		t.Helper()
		waitFor(t, what, func() bool {
			for _, n := range ns {
				if answers(n) != want {
					return false
				}
			}
			return true
		})
	}
	agree("every node to serve all six", strings.Join(backAddrs, " "), nodes)

	key := func(a string) healthcheck.Key { return healthcheck.Key{Check: "web", Addr: netip.MustParseAddr(a)} }
	// checkSplit waits for the probers to settle, then counts at the
	// backends which nodes probe each one: exactly its rendezvous probers.
	dead := map[string]bool{}
	checkSplit := func(live []string) map[string][]string {
		t.Helper()
		time.Sleep(2 * time.Second) // let moved targets stop and start: not a wait for a condition
		for _, b := range backends {
			b.probedBy()
		}
		time.Sleep(3 * time.Second) // the counting window (three probe intervals)
		want := map[string][]string{}
		for _, a := range backAddrs {
			p := cluster.Probers(key(a), live, probers)
			slices.Sort(p)
			want[a] = p
			if dead[a] {
				continue // probed, but nothing answers to count it
			}
			if got := backends[a].probedBy(); !slices.Equal(got, p) {
				t.Errorf("backend %s probed by %v, want its %d probers %v", a, got, probers, p)
			}
		}
		return want
	}
	before := checkSplit(all)

	// A backend dies: every node stops serving it, the same answer on all.
	dead[backAddrs[3]] = true
	died := time.Now()
	_ = backends[backAddrs[3]].srv.Close()
	var rest []string
	for _, a := range backAddrs {
		if !dead[a] {
			rest = append(rest, a)
		}
	}
	agree("every node to drop the dead backend", strings.Join(rest, " "), nodes)
	t.Logf("every node dropped the dead backend %v after it died (interval 1s, fall 1)", time.Since(died).Round(10*time.Millisecond))

	// One node's path to a backend it probes is broken: it sees the backend
	// down, the other two probers see it up, and the majority wins on
	// every node, the blocked one included.
	var blockedAddr string
	for _, a := range rest {
		if slices.Contains(before[a], "n1") {
			blockedAddr = a
			break
		}
	}
	if blockedAddr == "" {
		t.Fatal("n1 probes none of the live backends")
	}
	backends[blockedAddr].block("n1")
	waitFor(t, "n1 to observe "+blockedAddr+" down", func() bool {
		for _, ts := range nodes[0].srv.cluster.Status().Targets {
			if ts.Target == key(blockedAddr).String() {
				for _, v := range ts.Views {
					if v.Node == "n1" && v.State == "down" {
						return true
					}
				}
			}
		}
		return false
	})
	time.Sleep(time.Second) // several probe intervals with n1 seeing it down: not a wait for a condition
	for _, n := range nodes {
		if got := answers(n); got != strings.Join(rest, " ") {
			t.Errorf("%s answers %s with n1 blocked from %s, want %s (n1 outvoted)", n.name, got, blockedAddr, strings.Join(rest, " "))
		}
	}

	// n4 leaves: only the targets it probed move.
	if err := nodes[3].stop(); err != nil {
		t.Fatal(err)
	}
	nodes[3].stop = nil
	three := all[:3]
	waitFor(t, "three members left", func() bool {
		for _, n := range nodes[:3] {
			if !slices.Equal(members(n), three) {
				return false
			}
		}
		return true
	})
	after := checkSplit(three)
	for _, a := range backAddrs {
		if !slices.Contains(before[a], "n4") && !slices.Equal(before[a], after[a]) {
			t.Errorf("backend %s moved from %v to %v though n4 did not probe it", a, before[a], after[a])
		}
	}
	agree("three nodes to agree after n4 left", strings.Join(rest, " "), nodes[:3])
	st := nodes[0].srv.Status()
	if st.Cluster == nil || len(st.Cluster.Members) != 3 || st.Cluster.Alone {
		t.Errorf("status cluster = %+v, want three members, not alone", st.Cluster)
	}
	page := getBody(t, startAdmin(t, nodes[0].srv, time.Second)+"/")
	for _, want := range []string{`<h2 id="cluster">Fleet</h2>`, "3 live members", ">n3<", "web/" + blockedAddr} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if got := metricValue(t, nodes[0].srv, "dnslb_cluster_members"); got != 3 {
		t.Errorf("dnslb_cluster_members = %v, want 3", got)
	}
}

// TestFleetGossipPortTaken: a node whose gossip port is taken ends Run at
// once with one error naming the address, before serving.
func TestFleetGossipPortTaken(t *testing.T) {
	port := freeFleetPort(t, []string{"127.0.0.11"})
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.11", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := writeLBConfig(t, fmt.Sprintf("[cluster]\nname = \"n1\"\nbind = \"127.0.0.11\"\nport = %d\n", port))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "cluster: cannot start gossip on 127.0.0.11:"+strconv.Itoa(port)) {
		t.Fatalf("Run = %v, want cluster: cannot start gossip on 127.0.0.11:%d", err, port)
	}
	if ctx.Err() != nil {
		t.Fatal("Run returned only when its context ended")
	}
}
