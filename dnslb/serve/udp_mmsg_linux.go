package serve

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dnslb/dnslb/dnslb/answer"
)

// On Linux each socket of a group is taken out of Go's netpoller as soon
// as it is opened (detachUDP): its serving goroutine calls recvmmsg and
// sendmmsg itself, on a descriptor that no epoll instance watches. A
// socket in the netpoller is registered for readable and writable
// events, so every reply that the client's socket takes in frees buffer
// space on ours and runs its write-space callback into epoll, once per
// datagram; gdnsd, the fastest server we compare with, keeps its UDP
// sockets out of epoll too. Measured on the bench config (static,
// alternating runs, queries per server core): 192k/190k/182k detached
// against 179k/187k/171k in the netpoller.
//
// A read is first a non-blocking recvmmsg (RawSyscall: it returns in
// microseconds, so the goroutine keeps its P); only when nothing is
// waiting does the goroutine sleep in a blocking recvmmsg with
// MSG_WAITFORONE, which returns as soon as one datagram arrives, with
// every one waiting by then (up to udpBatch). Writes are the same:
// non-blocking first, blocking only when the socket's buffer is full.
// close wakes a sleeping goroutine with shutdown(2), waits for it to
// return and only then closes the descriptor, so no call ever runs on a
// descriptor number that something else has been given since.
// Addresses stay in the kernel's sockaddr form and are reused for the
// reply, so nothing is allocated per datagram (x/net's batches allocate
// a net.UDPAddr each).

// udpWait is the longest a serving goroutine sleeps in one system call.
const udpWait = time.Second

// udpYield is how often a busy serving goroutine yields to the scheduler.
// The runtime's sysmon preempts a goroutine that has not been through the
// scheduler for 10ms; one that spends those 10ms between answering and
// system calls is preempted by taking its P at the next call, which hands
// the goroutine to another thread and sets sysmon polling every 20µs for
// the next millisecond or so. Under the static bench that was ~30 takes
// and ~1,800 sysmon wakeups a second, each one a context switch on the
// serving core. Yielding every millisecond keeps the scheduler's tick
// moving, at the cost of one Gosched.
const udpYield = time.Millisecond

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
	pkts          [udpBatch][]byte
	from          [udpBatch]netip.AddrPort // the sources of a batch (invalid: not one Answer takes)
	slab          [udpBatch * udpSlot]byte // the batch's replies, one after another
}

// detachUDP takes u's socket out of the netpoller: it keeps a duplicate
// of the descriptor, set to blocking, and closes Go's, which removes it
// from the runtime's epoll instance (Close deregisters it explicitly
// before closing). The socket stays open through the duplicate.
func detachUDP(u *UDPSocket) error {
	rc, err := u.conn.SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	cerr := rc.Control(func(f uintptr) {
		fd, err = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("dup: %w", err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		_ = unix.Close(fd)
		return err
	}
	// A backstop for wakeUDP: a blocking call returns within a second
	// anyway, so the goroutine sees closing even where shutdown(2) on an
	// unconnected socket wakes nobody (Linux does wake it).
	tv := unix.NsecToTimeval(int64(udpWait))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	_ = u.conn.Close()
	u.conn, u.fd = nil, fd
	return nil
}

// wakeUDP makes a recvmmsg or sendmmsg sleeping on fd return. On an
// unconnected UDP socket shutdown reports ENOTCONN but still marks the
// socket shut and wakes its sleepers; reads then return at once.
func wakeUDP(fd int) { _ = unix.Shutdown(fd, unix.SHUT_RDWR) }

func closeFD(fd int) { _ = unix.Close(fd) }

// serveUDPFD answers the datagrams of u's detached descriptor until u is
// closed.
func serveUDPFD(u *UDPSocket, w *worker) {
	fd := u.fd
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
	var yielded time.Time
	for {
		for i := range udpBatch {
			b.in[i].hdr.Namelen = unix.SizeofSockaddrInet6
			b.in[i].hdr.Flags = 0
		}
		n, err := mmsg(unix.SYS_RECVMMSG, fd, b.in[:])
		if u.closing.Load() {
			return
		}
		if err == unix.EAGAIN {
			w.ans.Idle() // udpWait passed with nothing to read
			continue
		}
		if err != nil {
			w.env.Log.Debug("read udp", "err", err)
			time.Sleep(time.Millisecond) // never a busy loop of errors
			continue
		}
		start := time.Now()
		if start.Sub(yielded) > udpYield {
			// A busy loop never passes through the scheduler; after
			// 10ms sysmon would take the P from it at its next system
			// call and then poll every 20µs for a while (udpYield).
			runtime.Gosched()
			yielded = start
		}
		var qs []answer.Parsed
		for i := range n {
			b.from[i], _ = sockaddrAddrPort(&b.names[i], b.in[i].hdr.Namelen)
		}
		if n > 1 {
			for i := range n {
				b.pkts[i] = w.in[i].Buffers[0][:b.in[i].len]
			}
			qs = w.ans.Prefetch(b.pkts[:n], b.from[:n])
		}
		k, off := 0, 0
		for i := range n {
			h := &b.in[i]
			from := b.from[i]
			if !from.IsValid() {
				continue
			}
			pkt := w.in[i].Buffers[0][:h.len]
			var pre *answer.Parsed
			if qs != nil {
				pre = &qs[i]
			}
			if h.hdr.Flags&unix.MSG_TRUNC != 0 {
				pkt = pkt[:min(len(pkt), 12)] // too long for udpSlot: FORMERR at most
				pre = nil
			}
			reply := w.ans.Answer(pkt, from, b.slab[off:off+udpSlot], false, start, pre)
			if reply == nil {
				continue
			}
			b.outIov[k].Base = &reply[0]
			b.outIov[k].SetLen(len(reply))
			if len(reply) <= udpSlot && &reply[0] == &b.slab[off] {
				off += (len(reply) + 63) &^ 63
			}
			b.out[k].hdr.Name = h.hdr.Name
			b.out[k].hdr.Namelen = h.hdr.Namelen
			k++
		}
		w.timeReplies(start, false)
		for done := 0; done < k; {
			sent, err := mmsg(unix.SYS_SENDMMSG, fd, b.out[done:k])
			if u.closing.Load() {
				return
			}
			if err != nil {
				w.env.Log.Debug("write reply", "err", err)
				sent = 1 // the first failed: skip it, send the rest
			}
			done += sent
		}
	}
}

// mmsg calls recvmmsg or sendmmsg (trap) on hs and the blocking socket
// fd: first without waiting, in a raw system call, then, when that finds
// nothing to read or no room to write, in one that may sleep (a read
// returns once one datagram is in). A signal's EINTR is retried.
func mmsg(trap uintptr, fd int, hs []mmsghdr) (int, error) {
	p, l := uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs))
	r, _, e := unix.RawSyscall6(trap, uintptr(fd), p, l, unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		var wait uintptr
		if trap == unix.SYS_RECVMMSG {
			wait = unix.MSG_WAITFORONE
		}
		for {
			r, _, e = unix.Syscall6(trap, uintptr(fd), p, l, wait, 0, 0)
			if e != unix.EINTR {
				break
			}
		}
	}
	runtime.KeepAlive(hs) // p is a uintptr across both calls
	if e != 0 {
		return 0, e
	}
	return int(r), nil
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
