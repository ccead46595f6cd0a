package main

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of sendmmsg(2) and recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// batchConn sends and receives datagrams of one connected socket in
// batches, with sendmmsg and recvmmsg through the socket's RawConn (so
// the netpoller still wakes a waiting reader). x/net's ipv4.PacketConn
// batches allocate per message (an iovec slice, a sockaddr); this reuses
// its arrays and its callback, so a batch allocates nothing.
type batchConn struct {
	rc   syscall.RawConn
	hdrs []mmsghdr
	iovs []unix.Iovec
	op   uintptr // SYS_SENDMMSG or SYS_RECVMMSG
	n    int     // messages offered to the call
	got  int     // messages the call moved
	err  error
	fn   func(fd uintptr) bool
}

func newBatchConn(c *net.UDPConn, batch int) (*batchConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batchConn{rc: rc, hdrs: make([]mmsghdr, batch), iovs: make([]unix.Iovec, batch)}
	for i := range b.hdrs {
		b.hdrs[i].hdr.Iov = &b.iovs[i]
		b.hdrs[i].hdr.SetIovlen(1)
	}
	b.fn = func(fd uintptr) bool {
		r, _, e := unix.Syscall6(b.op, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(b.n), 0, 0, 0)
		if e == unix.EAGAIN {
			return false // the netpoller waits for the socket
		}
		b.got, b.err = int(r), nil
		if e != 0 {
			b.got, b.err = 0, e
		}
		return true
	}
	return b, nil
}

// write sends the datagrams ps (at most the batch) and returns how many
// the kernel took.
func (b *batchConn) write(ps [][]byte) (int, error) {
	for i, p := range ps {
		b.iovs[i].Base = &p[0]
		b.iovs[i].SetLen(len(p))
	}
	b.op, b.n = unix.SYS_SENDMMSG, len(ps)
	if err := b.rc.Write(b.fn); err != nil {
		return 0, err
	}
	return b.got, b.err
}

// read waits for datagrams and reads as many as are there into bufs (at
// most the batch), setting each one's length in ns.
func (b *batchConn) read(bufs [][]byte, ns []int) (int, error) {
	for i, p := range bufs {
		b.iovs[i].Base = &p[0]
		b.iovs[i].SetLen(len(p))
		b.hdrs[i].hdr.Flags = 0
	}
	b.op, b.n = unix.SYS_RECVMMSG, len(bufs)
	if err := b.rc.Read(b.fn); err != nil {
		return 0, err
	}
	for i := range b.got {
		ns[i] = int(b.hdrs[i].len)
	}
	return b.got, b.err
}
