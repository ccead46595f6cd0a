package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// listenTCP listens on addr (127.0.0.1:0 for any port), accepts and
// closes connections until the listener is closed or the test ends.
func listenTCP(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

func portOf(t *testing.T, a net.Addr) int {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatalf("parse %v: %v", a, err)
	}
	return int(ap.Port())
}

// check runs c once against addr. The timeout is generous: a loaded host
// running -race can take seconds over a first TLS handshake.
func check(c Checker, addr netip.Addr) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Check(ctx, addr)
}

// mustChecker builds a checker from cfg with DefaultConfig timing.
func mustChecker(t *testing.T, cfg Config) Checker {
	t.Helper()
	d := DefaultConfig()
	cfg.Interval, cfg.Timeout, cfg.Rise, cfg.Fall = d.Interval, d.Timeout, d.Rise, d.Fall
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = d.BodyLimit
	}
	c, err := NewChecker(cfg)
	if err != nil {
		t.Fatalf("NewChecker(%+v): %v", cfg, err)
	}
	return c
}
