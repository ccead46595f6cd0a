package dnslb

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortGroup is true where several sockets can share one UDP port,
// the kernel spreading datagrams between them by a hash of the source.
const reusePortGroup = true

// reusePort sets SO_REUSEPORT before bind, so that every socket of a
// listen address's group can bind the same port.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// msgTrunc is the recvmsg flag of a datagram longer than its buffer.
const msgTrunc = unix.MSG_TRUNC
