package dnslb

import (
	"net/netip"
	"testing"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

func TestSockaddrAddrPort(t *testing.T) {
	var v4 unix.RawSockaddrInet6
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&v4))
	sa4.Family = unix.AF_INET
	sa4.Port = *(*uint16)(unsafe.Pointer(&[2]byte{0x14, 0xe9})) // 5353, network order
	sa4.Addr = [4]byte{192, 0, 2, 7}
	v6 := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: netip.MustParseAddr("2001:db8::7").As16()}
	v6.Port = sa4.Port
	for _, tc := range []struct {
		name string
		sa   *unix.RawSockaddrInet6
		n    uint32
		want string
	}{
		{"v4", &v4, unix.SizeofSockaddrInet4, "192.0.2.7:5353"},
		{"v6", &v6, unix.SizeofSockaddrInet6, "[2001:db8::7]:5353"},
		{"v4 short", &v4, 8, ""},
		{"v6 short", &v6, unix.SizeofSockaddrInet4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := sockaddrAddrPort(tc.sa, tc.n)
			if (tc.want == "") == ok || ok && got.String() != tc.want {
				t.Fatalf("sockaddrAddrPort = %v, %v, want %q", got, ok, tc.want)
			}
		})
	}
}

// TestServeUDPv6 serves on [::1] (the AF_INET6 side of the recvmmsg loop).
func TestServeUDPv6(t *testing.T) {
	cfg, err := LoadConfig("testdata/dnslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Listen = []string{"[::1]:0"}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := contextWithCleanup(t)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Started():
	case err := <-done:
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	q := new(dns.Msg)
	q.SetQuestion("mail.example.org.", dns.TypeA)
	r := exchange(t, srv.Addrs()[0].String(), "udp", q)
	if got := section(r.Answer); len(got) != 1 || got[0] != "mail.example.org. 300 IN A 192.0.2.25" {
		t.Fatalf("answer %v", got)
	}
}
