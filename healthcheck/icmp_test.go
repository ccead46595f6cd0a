package healthcheck

import (
	"errors"
	"strings"
	"testing"
)

// TestICMPChecker pings 127.0.0.1 where this host allows unprivileged or
// raw ICMP sockets; where it allows neither, it asserts the clear error
// that startup and "dnslb check" report.
func TestICMPChecker(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Type = "icmp"
	avail := ICMPAvailable()
	c, err := NewChecker(cfg)
	if avail != nil {
		t.Logf("ICMP not available here: %v", avail)
		if !errors.Is(avail, ErrICMPUnavailable) {
			t.Errorf("ICMPAvailable() = %v, want ErrICMPUnavailable", avail)
		}
		if !errors.Is(err, ErrICMPUnavailable) {
			t.Errorf("NewChecker(icmp) error = %v, want ErrICMPUnavailable", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("NewChecker(icmp) = %v although ICMPAvailable() = nil", err)
	}
	t.Logf("pinging over %s sockets", c.(*icmpChecker).v4)
	for i := range 3 { // several sequence numbers
		if got := check(c, loopback); !got.OK {
			t.Fatalf("ping %d: Check(127.0.0.1) = %+v, want ok", i, got)
		}
	}
}

// TestICMPUnavailable checks the error a host without ICMP permission
// gets, by making both socket kinds fail.
func TestICMPUnavailable(t *testing.T) {
	saved := icmpNetworks
	t.Cleanup(func() { icmpNetworks = saved })
	icmpNetworks = map[bool][2]string{false: {"ip4:nosuchproto", "ip4:nosuchproto2"}}
	err := ICMPAvailable()
	if !errors.Is(err, ErrICMPUnavailable) {
		t.Fatalf("ICMPAvailable() = %v, want ErrICMPUnavailable", err)
	}
	want := ErrICMPUnavailable.Error() + " (ip4:nosuchproto: "
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "; ip4:nosuchproto2: ") {
		t.Errorf("ICMPAvailable() = %q, want it to start with %q and name both socket kinds", err, want)
	}
	cfg := DefaultConfig()
	cfg.Type = "icmp"
	if _, err := NewChecker(cfg); !errors.Is(err, ErrICMPUnavailable) {
		t.Errorf("NewChecker(icmp) = %v, want ErrICMPUnavailable", err)
	}
}
