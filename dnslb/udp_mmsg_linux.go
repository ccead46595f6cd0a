package dnslb

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux the serving goroutine calls recvmmsg and sendmmsg itself, on
// its own duplicate of the socket's descriptor, set to blocking. A read
// first takes every datagram waiting (up to udpBatch) without blocking,
// with RawSyscall: it returns within microseconds, so the goroutine keeps
// its P and the runtime does no bookkeeping. Only when nothing is waiting
// does it sleep in the kernel, in one recvmmsg with MSG_WAITFORONE that
// returns as soon as a datagram arrives (with whatever else is waiting by
// then). Parking in Go's netpoller instead costs an epoll_wait and a
// wakeup on top of the failed read. Writes likewise: non-blocking first,
// and only a full socket buffer makes them wait. Close shuts the socket
// down for reading, which wakes a sleeping recvmmsg. Addresses stay in
// the kernel's sockaddr form and are reused for the reply, so nothing is
// allocated per datagram (x/net's batches allocate a net.UDPAddr each).
//
// Measured (bench/out config, dnsperf on the other core, 6 s, user+sys
// of every thread): the blocking read alone 154k-160k queries per server
// core, with the non-blocking attempt first 166k-178k, the netpoller
// 153k-173k; the kernel's UDP work is about 80% of the server's CPU time
// either way (gdnsd's is 90%).

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// mmsgBufs are the kernel-facing arrays of one serving goroutine.
type mmsgBufs struct {
	in, out       [udpBatch]mmsghdr
	inIov, outIov [udpBatch]unix.Iovec
	names         [udpBatch]unix.RawSockaddrInet6 // large enough for both families
}

// serveUDPMmsg serves conn with recvmmsg/sendmmsg until conn is closed.
// It returns false, before serving anything, when conn has no RawConn or
// its descriptor can't be duplicated.
func (s *Server) serveUDPMmsg(conn *net.UDPConn, w *udpWorker) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if err := rc.Control(func(f uintptr) {
		if fd, err = unix.Dup(int(f)); err == nil {
			unix.CloseOnExec(fd)
			if err = unix.SetNonblock(fd, false); err != nil {
				_ = unix.Close(fd)
				fd = -1
			}
		}
	}); err != nil || fd < 0 {
		return false
	}
	defer unix.Close(fd)
	b := new(mmsgBufs)
	for i := range udpBatch {
		b.inIov[i].Base = &w.in[i].Buffers[0][0]
		b.inIov[i].SetLen(udpSlot)
		b.in[i].hdr.Iov = &b.inIov[i]
		b.in[i].hdr.SetIovlen(1)
		b.in[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.out[i].hdr.Iov = &b.outIov[i]
		b.out[i].hdr.SetIovlen(1)
	}
	for {
		for i := range udpBatch {
			b.in[i].hdr.Namelen = unix.SizeofSockaddrInet6
			b.in[i].hdr.Flags = 0
		}
		n, err := recvBatch(fd, b.in[:])
		if err != nil || n == 0 {
			if udpClosed(rc) {
				return true
			}
			if err != nil {
				s.log.Debug("read udp", "err", err)
			}
			continue
		}
		k := 0
		for i := range n {
			h := &b.in[i]
			if h.len < 12 && udpClosed(rc) {
				// A socket shut down for reading returns empty
				// datagrams at once; a client sends those rarely.
				return true
			}
			from, ok := sockaddrAddrPort(&b.names[i], h.hdr.Namelen)
			if !ok {
				continue
			}
			pkt := w.in[i].Buffers[0][:h.len]
			if h.hdr.Flags&unix.MSG_TRUNC != 0 {
				pkt = pkt[:min(len(pkt), 12)] // too long for udpSlot: FORMERR at most
			}
			reply := w.answer(pkt, from, w.outs[k])
			if reply == nil {
				continue
			}
			b.outIov[k].Base = &reply[0]
			b.outIov[k].SetLen(len(reply))
			b.out[k].hdr.Name = h.hdr.Name
			b.out[k].hdr.Namelen = h.hdr.Namelen
			k++
		}
		for done := 0; done < k; {
			sent, err := sendBatch(fd, b.out[done:k])
			if err != nil {
				if udpClosed(rc) {
					return true
				}
				s.log.Debug("write reply", "err", err)
				sent = 1 // the first failed: skip it, send the rest
			}
			done += sent
		}
	}
}

// recvBatch reads every datagram waiting on the blocking descriptor fd,
// up to len(hs), sleeping until one arrives if none is. A signal's EINTR
// is retried.
func recvBatch(fd int, hs []mmsghdr) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)),
		unix.MSG_DONTWAIT, 0, 0)
	if e == 0 {
		return int(r), nil
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)),
			unix.MSG_WAITFORONE, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}

// sendBatch sends hs on fd, without blocking when the socket has room.
func sendBatch(fd int, hs []mmsghdr) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)),
		unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		r, _, e = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), 0, 0, 0)
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// udpClosed reports whether the socket behind rc was closed.
func udpClosed(rc syscall.RawConn) bool {
	return rc.Control(func(uintptr) {}) != nil
}

// shutdownUDP wakes the serving goroutines sleeping in recvmmsg on conn's
// descriptor (their duplicates share the socket), before it is closed.
func shutdownUDP(conn *net.UDPConn) {
	if rc, err := conn.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RD) })
	}
}

// sockaddrAddrPort reads an AF_INET or AF_INET6 socket address.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6, n uint32) (netip.AddrPort, bool) {
	port := func(p uint16) uint16 { b := (*[2]byte)(unsafe.Pointer(&p)); return uint16(b[0])<<8 | uint16(b[1]) }
	switch sa.Family {
	case unix.AF_INET:
		if n < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(sa4.Port)), true
	case unix.AF_INET6:
		if n < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port(sa.Port)), true
	}
	return netip.AddrPort{}, false
}
