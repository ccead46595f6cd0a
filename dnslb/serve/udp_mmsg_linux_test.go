package serve

import (
	"net/netip"
	"testing"
	"unsafe"

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

// TestUDPSocketOptions checks the options listenUDP sets on both
// families: a shared port, and no path MTU discovery (no DF bit).
func TestUDPSocketOptions(t *testing.T) {
	for _, tc := range []struct {
		addr         string
		level, pmtud int
	}{
		{"127.0.0.1:0", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER},
		{"[::1]:0", unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER},
	} {
		socks, err := ListenUDP(tc.addr)
		if err != nil {
			if tc.level == unix.IPPROTO_IPV6 {
				t.Logf("no IPv6 loopback: %v", err)
				continue
			}
			t.Fatal(err)
		}
		for _, u := range socks {
			if u.fd < 0 {
				t.Fatalf("%s: socket not detached", tc.addr)
			}
			if v, err := unix.GetsockoptInt(u.fd, unix.SOL_SOCKET, unix.SO_REUSEPORT); err != nil || v != 1 {
				t.Errorf("%s: SO_REUSEPORT %d, %v", tc.addr, v, err)
			}
			// IP_PMTUDISC_OMIT and IPV6_PMTUDISC_OMIT are both 5.
			if v, err := unix.GetsockoptInt(u.fd, tc.level, tc.pmtud); err != nil || v != unix.IP_PMTUDISC_OMIT {
				t.Errorf("%s: MTU discovery %d, %v; want OMIT", tc.addr, v, err)
			}
		}
		CloseUDP(socks)
	}
}
