package main

import (
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

	"github.com/miekg/dns"
)

// TestSignals runs the real binary: SIGHUP reloads an edited zone, a
// broken edit is refused while the old data keeps serving, and SIGTERM
// stops the server with exit status 0.
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dnslb")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	zone := "$TTL 300\n@ IN SOA ns hm 1 3600 600 86400 60\n@ IN NS ns\nns IN A 192.0.2.53\n"
	zonePath := filepath.Join(dir, "example.org.zone")
	write := func(text string) {
		if err := os.WriteFile(zonePath+".tmp", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(zonePath+".tmp", zonePath); err != nil {
			t.Fatal(err)
		}
	}
	write(zone)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	conf := filepath.Join(dir, "dnslb.toml")
	cfg := fmt.Sprintf("[[zone]]\nname = \"example.org\"\nfile = %q\n[server]\nlisten = [%q]\nwatch_interval = \"-1s\"\n", zonePath, addr)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-config", conf)
	out := &syncBuffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	ask := func(name string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, _, err := (&dns.Client{Timeout: 500 * time.Millisecond}).Exchange(m, addr)
		if err != nil {
			return nil
		}
		return r
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, out)
			}
		}
	}
	wait("the server to answer", func() bool { r := ask("ns.example.org."); return r != nil && len(r.Answer) == 1 })

	write(strings.Replace(zone, " 1 3600", " 2 3600", 1) + "new IN A 192.0.2.7\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	wait("SIGHUP to load new.example.org", func() bool { r := ask("new.example.org."); return r != nil && len(r.Answer) == 1 })
	// The server logs the reload once, with its trigger and what changed.
	wait("the reload in the log", func() bool { return strings.Contains(out.String(), "msg=reloaded trigger=sighup") })
	if n := strings.Count(out.String(), "msg=reloaded"); n != 1 || !strings.Contains(out.String(), `serials="example.org. 1 -> 2"`) {
		t.Errorf("%d reloaded lines, want 1 with the serial change:\n%s", n, out)
	}

	write(zone + "bad IN A 192.0.2.300\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	wait("the reload error in the log", func() bool { return strings.Contains(out.String(), "reload failed") })
	if r := ask("new.example.org."); r == nil || len(r.Answer) != 1 {
		t.Errorf("after a failed reload the old data is gone: %v", r)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, out)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit 10s after SIGTERM\n%s", out)
	}
}
