package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the dnslb binary into a temporary folder that other
// users may read (the permission test runs it as nobody).
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	dir := openTempDir(t)
	bin := filepath.Join(dir, "dnslb")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// openTempDir is t.TempDir, searchable by every user (the testing package
// makes it and its parent 0700).
func openTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeConfig writes a zone and a config serving it on listen (and the
// admin listener on admin, if set) into a folder of its own, readable by
// every user. The zone's name has a health check whose target never
// answers, with a long startup grace: a listen error must not wait for it.
func writeConfig(t *testing.T, listen []string, admin string) string {
	t.Helper()
	dir := openTempDir(t)
	zone := "$TTL 300\n@ IN SOA ns hm 1 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\nwww 30 IN A 192.0.2.10\n"
	if err := os.WriteFile(filepath.Join(dir, "example.org.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[[zone]]\nname = \"example.org\"\nfile = \"example.org.zone\"\n\n[server]\nlisten = [")
	for i, l := range listen {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", l)
	}
	b.WriteString("]\nwatch_interval = \"-1s\"\n\n")
	if admin != "" {
		fmt.Fprintf(&b, "[admin]\nlisten = %q\n\n", admin)
	}
	b.WriteString("[health]\nstartup_grace = \"20s\"\n\n" +
		"[healthcheck.web]\ntype = \"tcp\"\nport = 80\ninterval = \"30s\"\ntimeout = \"20s\"\n\n" +
		"[name.\"www.example.org\"]\ncheck = \"web\"\n")
	conf := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// runFailing runs "dnslb serve" and returns how long it ran, its
// standard error and its exit error. It fails the test after 10 s.
func runFailing(t *testing.T, cmd *exec.Cmd) (time.Duration, string, error) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return time.Since(start), stderr.String(), err
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running 10s after start (the hang of issue 13):\n%s", stderr.String())
		return 0, "", nil
	}
}

// errorLines are the lines of a log at level ERROR.
func errorLines(log string) []string {
	var out []string
	for l := range strings.Lines(log) {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// TestStartFailures runs the binary with a listen address that cannot be
// opened: it must exit 1 within two seconds with one error line that
// names the address and the cause, and the cause only once.
func TestStartFailures(t *testing.T) {
	bin := buildBinary(t)

	udpBusy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udpBusy.Close()
	tcpBusy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcpBusy.Close()
	free := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	unassignable := net.JoinHostPort("192.0.2.1", strconv.Itoa(freePort(t)))

	cases := []struct {
		name          string
		listen        []string
		admin         string
		want, wantErr string // the address, and the cause
	}{
		{"busy udp port", []string{free, udpBusy.LocalAddr().String()}, "", "listen udp " + udpBusy.LocalAddr().String(), "address already in use"},
		{"busy tcp port", []string{tcpBusy.Addr().String()}, "", "listen tcp " + tcpBusy.Addr().String(), "address already in use"},
		{"busy admin port", []string{free}, tcpBusy.Addr().String(), "admin: listen tcp " + tcpBusy.Addr().String(), "address already in use"},
		{"unassignable address", []string{unassignable}, "", "listen udp " + unassignable, "cannot assign requested address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf := writeConfig(t, tc.listen, tc.admin)
			took, log, err := runFailing(t, exec.Command(bin, "serve", "-config", conf))
			checkFailure(t, err, took, log, tc.want, tc.wantErr)
		})
	}
}

func checkFailure(t *testing.T, err error, took time.Duration, log, want, wantErr string) {
	t.Helper()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit = %v, want status 1\n%s", err, log)
	}
	if took > 2*time.Second {
		t.Errorf("exited after %v, want under 2s", took)
	}
	lines := errorLines(log)
	if len(lines) != 1 {
		t.Fatalf("%d error lines, want 1:\n%s", len(lines), log)
	}
	l := lines[0]
	if !strings.Contains(l, want+":") || !strings.Contains(l, wantErr) {
		t.Errorf("error line %q, want %q and %q in it", l, want, wantErr)
	}
	if strings.Count(l, "listen ") != 1 || strings.Count(l, "admin:") > 1 {
		t.Errorf("error line %q says its prefix twice", l)
	}
}

// TestStartNoPermission: a port below 1024 without the capability. As
// root the binary runs as nobody; the test skips where unprivileged users
// may bind low ports (net.ipv4.ip_unprivileged_port_start).
func TestStartNoPermission(t *testing.T) {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n <= 53 {
			t.Skipf("ip_unprivileged_port_start is %d: every user may bind port 53", n)
		}
	}
	bin := buildBinary(t)
	conf := writeConfig(t, []string{"127.0.0.1:53"}, "")
	cmd := exec.Command(bin, "serve", "-config", conf)
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	took, log, err := runFailing(t, cmd)
	checkFailure(t, err, took, log, "listen udp 127.0.0.1:53", "permission denied")
	if !strings.Contains(log, "CAP_NET_BIND_SERVICE") {
		t.Errorf("the error does not say what to do:\n%s", log)
	}
}
