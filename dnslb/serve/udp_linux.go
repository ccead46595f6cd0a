package serve

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortGroup is true where several sockets can share one UDP port,
// the kernel spreading datagrams between them by a hash of the source.
const reusePortGroup = true

// reusePort sets SO_REUSEPORT before bind, so that every socket of a
// listen address's group can bind the same port. It also turns path MTU
// discovery off for the socket (IP_PMTUDISC_OMIT, as gdnsd and Knot do):
// replies never carry the DF bit, and an ICMP "fragmentation needed"
// that anyone can forge does not lower the MTU used for other clients.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		if serr != nil {
			return
		}
		// The family decides which option applies; the other fails.
		// Kernels before 3.15 have no OMIT: their default stays.
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_OMIT)
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_OMIT)
	})
	if err != nil {
		return err
	}
	return serr
}

// msgTrunc is the recvmsg flag of a datagram longer than its buffer.
const msgTrunc = unix.MSG_TRUNC
