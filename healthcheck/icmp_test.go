package healthcheck

import (
	"errors"
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
