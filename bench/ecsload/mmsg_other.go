//go:build !linux

package main

import "net"

// batchConn is one datagram per system call where sendmmsg and recvmmsg
// are not available.
type batchConn struct{ c *net.UDPConn }

func newBatchConn(c *net.UDPConn, batch int) (*batchConn, error) { return &batchConn{c}, nil }

func (b *batchConn) write(ps [][]byte) (int, error) {
	for i, p := range ps {
		if _, err := b.c.Write(p); err != nil {
			return i, err
		}
	}
	return len(ps), nil
}

func (b *batchConn) read(bufs [][]byte, ns []int) (int, error) {
	n, err := b.c.Read(bufs[0])
	if err != nil {
		return 0, err
	}
	ns[0] = n
	return 1, nil
}
