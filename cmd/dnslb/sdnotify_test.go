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

// TestSDNotify runs the binary with NOTIFY_SOCKET set to a unixgram socket
// of the test, as systemd does for Type=notify: READY=1 comes once the
// server answers, RELOADING=1 (with MONOTONIC_USEC=) and READY=1 around
// each reload with its result in STATUS=, and STOPPING=1 at SIGTERM. The
// abstract-namespace form ("@name") is tried too.
func TestSDNotify(t *testing.T) {
	bin := buildBinary(t)
	t.Run("path", func(t *testing.T) {
		testSDNotify(t, bin, filepath.Join(t.TempDir(), "notify.sock"))
	})
	t.Run("abstract", func(t *testing.T) {
		testSDNotify(t, bin, fmt.Sprintf("@dnslb-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	})
}

func testSDNotify(t *testing.T, bin, sock string) {
	sc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	next := func(want string) string {
		t.Helper()
		buf := make([]byte, 4096)
		_ = sc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := sc.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		msg := string(buf[:n])
		if !strings.Contains("\n"+msg, "\n"+want+"\n") {
			t.Fatalf("notification %q, want %s in it", msg, want)
		}
		return msg
	}

	conf := writeConfig(t, []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))}, "")
	// No health check here: its probe would delay READY=1 by the grace.
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	cfgText, _, _ := strings.Cut(string(data), "[health]")
	if err := os.WriteFile(conf, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	zonePath := filepath.Join(filepath.Dir(conf), "example.org.zone")
	addr := strings.Split(strings.Split(cfgText, "listen = [\"")[1], "\"")[0]

	cmd := exec.Command(bin, "serve", "-config", conf)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
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
		if t.Failed() {
			t.Logf("dnslb output:\n%s", out)
		}
	})

	msg := next("READY=1")
	if !strings.Contains(msg, "STATUS=serving; last reload ok") {
		t.Errorf("first notification %q, want a STATUS= saying it serves", msg)
	}
	// READY=1 means serving: the first query after it is answered.
	q := new(dns.Msg)
	q.SetQuestion("www.example.org.", dns.TypeA)
	for _, net := range []string{"udp", "tcp"} {
		if r, _, err := (&dns.Client{Net: net, Timeout: time.Second}).Exchange(q, addr); err != nil || len(r.Answer) != 1 {
			t.Errorf("%s query right after READY=1: %v %v", net, r, err)
		}
	}

	replace := func(text string) {
		if err := os.WriteFile(zonePath+".tmp", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(zonePath+".tmp", zonePath); err != nil {
			t.Fatal(err)
		}
	}
	zone, err := os.ReadFile(zonePath)
	if err != nil {
		t.Fatal(err)
	}
	replace(strings.Replace(string(zone), " 1 3600", " 2 3600", 1))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	msg = next("RELOADING=1")
	if !strings.Contains(msg, "MONOTONIC_USEC=") {
		t.Errorf("reload notification %q has no MONOTONIC_USEC= (systemd 253 and later need it)", msg)
	}
	if msg := next("READY=1"); !strings.Contains(msg, "STATUS=serving; last reload ok") || !strings.Contains(msg, "(sighup)") {
		t.Errorf("after a good reload: %q", msg)
	}

	replace(string(zone) + "bad IN A 192.0.2.300\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	next("RELOADING=1")
	if msg := next("READY=1"); !strings.Contains(msg, "STATUS=serving the previous state; reload failed") || !strings.Contains(msg, "192.0.2.300") {
		t.Errorf("after a failed reload: %q, want the failure and its error in STATUS=", msg)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next("STOPPING=1")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit 10s after SIGTERM")
	}
}
