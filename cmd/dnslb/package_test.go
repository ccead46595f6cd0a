package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDebianPackage builds the .deb (make package), installs it with
// dpkg -i, checks what it installed (binary with its version, unit, config,
// man page, completions, the system user and its folders), runs the
// binary as that user the way the unit does (dnslb check on the packaged
// config, then dnslb serve on a copy listening on a free loopback port:
// systemd is not PID 1 here) and queries it, then purges the package and
// checks that nothing is left.
//
// It changes the system, so it runs only with DNSLB_PACKAGE_TEST=1 (make
// package-test), as root, and refuses to touch a dnslb package already installed.
func TestDebianPackage(t *testing.T) {
	if os.Getenv("DNSLB_PACKAGE_TEST") != "1" {
		t.Skip("installs a package system-wide: run it with make package-test (DNSLB_PACKAGE_TEST=1, as root)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("DNSLB_PACKAGE_TEST=1 needs root (dpkg -i)")
	}
	requireTool(t, "dpkg", "dpkg")
	setpriv := requireTool(t, "setpriv", "util-linux")
	if exec.Command("dpkg", "-s", "dnslb").Run() == nil {
		t.Fatal("a dnslb package is installed already: not touching it")
	}
	const version = "1.2.3~test"
	must := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	build := exec.Command("make", "package", "VERSION="+version)
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	deb, err := filepath.Abs(filepath.Join("..", "..", "bin", "dnslb_"+version+"_"+goarch(t)+".deb"))
	if err != nil {
		t.Fatal(err)
	}
	must("dpkg", "-i", deb)
	purged := false
	t.Cleanup(func() {
		if !purged {
			_ = exec.Command("dpkg", "--purge", "dnslb").Run()
		}
	})

	if out := must("/usr/sbin/dnslb", "version"); !strings.Contains(out, version) {
		t.Errorf("dnslb version = %q, want %s", out, version)
	}
	for _, f := range []string{
		"/lib/systemd/system/dnslb.service", "/etc/dnslb/dnslb.toml", "/etc/dnslb/zones/example.org.zone",
		"/usr/share/man/man8/dnslb.8", "/usr/share/bash-completion/completions/dnslb",
		"/usr/share/zsh/vendor-completions/_dnslb", "/usr/share/doc/dnslb/README.md",
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	unit, _ := os.ReadFile("/lib/systemd/system/dnslb.service")
	if !strings.Contains(string(unit), "\nUser=dnslb\n") || !strings.Contains(string(unit), "ExecStart=/usr/sbin/dnslb serve -config /etc/dnslb/dnslb.toml") {
		t.Errorf("the packaged unit does not run /usr/sbin/dnslb as dnslb:\n%s", unit)
	}
	if conf := must("dpkg-query", "-W", "-f=${Conffiles}", "dnslb"); !strings.Contains(conf, "/etc/dnslb/dnslb.toml") {
		t.Errorf("/etc/dnslb/dnslb.toml is not a conffile: %q", conf)
	}
	uid := strings.TrimSpace(must("id", "-u", "dnslb"))
	if n, _ := strconv.Atoi(uid); n == 0 || n >= 1000 {
		t.Errorf("user dnslb has uid %s, want a system user (1..999)", uid)
	}
	for _, d := range []string{"/var/lib/dnslb", "/var/log/dnslb"} {
		if owner := strings.TrimSpace(must("stat", "-c", "%U", d)); owner != "dnslb" {
			t.Errorf("%s is owned by %s, want dnslb", d, owner)
		}
	}

	asUser := func(args ...string) *exec.Cmd {
		return exec.Command(setpriv, append([]string{"--reuid=dnslb", "--regid=dnslb", "--init-groups", "--"}, args...)...)
	}
	if out, err := asUser("/usr/sbin/dnslb", "check", "-config", "/etc/dnslb/dnslb.toml").CombinedOutput(); err != nil {
		t.Fatalf("dnslb check of the packaged config, as dnslb: %v\n%s", err, out)
	}
	// The packaged config on a free port (53 would need the unit's
	// capability), in a folder the user can read.
	dir, err := os.MkdirTemp("", "dnslb-package-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf, _ := os.ReadFile("/etc/dnslb/dnslb.toml")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	text := strings.Replace(string(conf), `listen = ["127.0.0.1:53", "[::1]:53"]`, fmt.Sprintf("listen = [%q]", addr), 1)
	text = strings.Replace(text, `listen = "127.0.0.1:8053"`, fmt.Sprintf("listen = %q", net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))), 1)
	text = strings.Replace(text, `zone_dir = "zones"`, `zone_dir = "/etc/dnslb/zones"`, 1)
	if text == string(conf) || !strings.Contains(text, addr) {
		t.Fatalf("could not move the packaged config to %s:\n%s", addr, conf)
	}
	cfgPath := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := asUser("/usr/sbin/dnslb", "serve", "-config", cfgPath)
	srv = exec.CommandContext(ctx, srv.Path, srv.Args[1:]...)
	var logs strings.Builder
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var r *dns.Msg
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeSOA)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r, err = dns.Exchange(m, addr); err == nil {
			break
		}
	}
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("SOA example.org. from the packaged dnslb: %v %v\n%s", r, err, logs.String())
	}
	_ = srv.Process.Signal(os.Interrupt)
	if err := srv.Wait(); err != nil {
		t.Errorf("dnslb serve as dnslb: %v\n%s", err, logs.String())
	}
	if out, err := exec.Command("ps", "-o", "user=", "-C", "dnslb").Output(); err == nil && strings.Contains(string(out), "dnslb") {
		t.Errorf("a dnslb process of user dnslb still runs: %s", out)
	}

	must("dpkg", "--purge", "dnslb")
	purged = true
	for _, f := range []string{"/usr/sbin/dnslb", "/etc/dnslb", "/lib/systemd/system/dnslb.service", "/var/lib/dnslb", "/usr/share/man/man8/dnslb.8"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s is left after dpkg --purge", f)
		}
	}
	if exec.Command("id", "dnslb").Run() == nil {
		t.Error("user dnslb is left after dpkg --purge")
	}
}

func goarch(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
