package serve

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unread reports whether c's socket holds bytes its serving goroutine has
// not read yet (SIOCINQ): the connection waits for us then, not for its
// client.
func unread(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n > 0
}
