package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// This file starts the servers the comparison talks to: NSD and Knot DNS as
// references, and the dnslb binary built from this directory. Each server is
// a child process in its own process group, so cleanup can stop the helper
// processes NSD forks as well.

// zonesDir is testdata/zones as an absolute path.
func zonesDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "zones"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// requireTool returns the path of an external program. A missing program
// fails the test under CI (CI installs it) and skips it elsewhere.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found in PATH; CI must install it (apt-get install %s)", name, pkg)
	}
	t.Skipf("%s not found in PATH (apt-get install %s); set CI=1 to make this a failure", name, pkg)
	return ""
}

// freePort returns a port that was free on 127.0.0.1 for both UDP and TCP a
// moment ago. Another process may still take it before the server binds it;
// the SOA wait then fails with a clear message rather than hanging.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		uc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := uc.LocalAddr().(*net.UDPAddr).Port
		tl, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		uc.Close()
		if err != nil {
			continue
		}
		tl.Close()
		return port
	}
	t.Fatal("no free UDP+TCP port on 127.0.0.1 after 20 tries")
	return 0
}

// syncBuffer collects a child's output; exec copies into it from its own
// goroutine while the test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProcess runs name with args in its own process group and stops the
// whole group in t.Cleanup: SIGTERM first, SIGKILL after 5s.
func startProcess(t *testing.T, label string, name string, args ...string) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", label, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", label, out.String())
		}
	})
	return out
}

// waitForZones polls addr over UDP until every zone answers its SOA with
// NOERROR, or fails after a 15s deadline.
func waitForZones(t *testing.T, label, addr string, zoneNames []string, out *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	c := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	pending := append([]string(nil), zoneNames...)
	for len(pending) > 0 {
		m := new(dns.Msg)
		m.SetQuestion(pending[0], dns.TypeSOA)
		m.RecursionDesired = false
		r, _, err := c.ExchangeContext(ctx, m, addr)
		if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 {
			pending = pending[1:]
			continue
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s on %s: no SOA for %s within 15s (last error %v)\n%s output:\n%s",
				label, addr, pending[0], err, label, out.String())
		case <-tick.C:
		}
	}
}

// nsdServerConf is the server: and remote-control: parts of an NSD config
// for a server on 127.0.0.1:port, with its state in dir and the zone files
// in zdir; extra lines go at the end of server:.
func nsdServerConf(port int, zdir, dir string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  ip-address: 127.0.0.1
  port: %d
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: %q
  database: ""
  zonelistfile: %q
  xfrdfile: %q
  xfrdir: %q
  pidfile: %q
  logfile: %q
  verbosity: 0
  server-count: 1
  reuseport: no
  # NSD rate-limits responses by default (RRL, 200 qps) and answers the
  # excess with TC=1; the corpus is sent faster than that.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
`, port, zdir, filepath.Join(dir, "zone.list"), filepath.Join(dir, "xfrd.state"),
		dir, filepath.Join(dir, "nsd.pid"), filepath.Join(dir, "nsd.log"))
	for _, l := range extra {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("remote-control:\n  control-enable: no\n")
	return b.String()
}

// startNSD serves every zone (files in zdir) with NSD on a free port and
// returns its address.
func startNSD(t *testing.T, zdir string, zones []zoneInfo) string {
	t.Helper()
	bin := requireTool(t, "nsd", "nsd")
	dir := t.TempDir()
	port := freePort(t)
	var b strings.Builder
	b.WriteString(nsdServerConf(port, zdir, dir))
	for _, z := range zones {
		fmt.Fprintf(&b, "zone:\n  name: %q\n  zonefile: %q\n", z.name, z.file)
	}
	conf := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startProcess(t, "nsd", bin, "-d", "-c", conf)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitForZones(t, "nsd", addr, zoneNames(zones), out)
	return addr
}

// startKnot serves every zone (files in zdir) with knotd on a free port and
// returns its address. The zone files are never written back
// (zonefile-sync -1, no journal).
func startKnot(t *testing.T, zdir string, zones []zoneInfo) string {
	t.Helper()
	bin := requireTool(t, "knotd", "knot")
	dir := t.TempDir()
	port := freePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, `server:
    rundir: %q
    listen: 127.0.0.1@%d
    udp-workers: 2
    tcp-workers: 2
    background-workers: 1
database:
    storage: %q
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: %q
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
`, dir, port, filepath.Join(dir, "db"), zdir)
	for _, z := range zones {
		fmt.Fprintf(&b, "  - domain: %q\n    file: %q\n", z.name, z.file)
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startProcess(t, "knotd", bin, "-c", conf)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitForZones(t, "knotd", addr, zoneNames(zones), out)
	return addr
}

// hasMainPackage reports whether this directory has non-test Go files, that
// is whether there is a dnslb binary to build yet.
func hasMainPackage(t *testing.T) bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			return true
		}
	}
	return false
}

// startDNSLB builds the dnslb binary from this directory, serves the zones in
// zdir through zone_dir on a free port and returns the address. It returns ""
// when cmd/dnslb has no main package yet.
func startDNSLB(t *testing.T, zdir string, zones []zoneInfo) string {
	t.Helper()
	if !hasMainPackage(t) {
		return ""
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dnslb")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dnslb: %v\n%s", err, out)
	}
	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conf := filepath.Join(dir, "dnslb.toml")
	cfg := fmt.Sprintf("zone_dir = %q\n\n[server]\nlisten = [%q]\n\n[log]\nlevel = \"warn\"\n",
		zdir, addr)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startProcess(t, "dnslb", bin, "serve", "-config", conf)
	waitForZones(t, "dnslb", addr, zoneNames(zones), out)
	return addr
}
