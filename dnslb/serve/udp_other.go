//go:build !linux

package serve

import "syscall"

// reusePortGroup is false: one socket per listen address.
const reusePortGroup = false

func reusePort(network, address string, c syscall.RawConn) error { return nil }

// msgTrunc is unknown here: ReadBatch reads one datagram at a time and
// reports no flags.
const msgTrunc = 0

// Elsewhere sockets stay in the netpoller and serveUDP uses x/net's
// batches: detachUDP leaves u as it is, and serveUDPFD is never called.
func detachUDP(u *UDPSocket) error       { return nil }
func wakeUDP(fd int)                     {}
func closeFD(fd int)                     {}
func serveUDPFD(u *UDPSocket, w *worker) {}
