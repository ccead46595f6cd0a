//go:build !linux

package dnslb

import (
	"net"
	"syscall"
)

// reusePortGroup is false: one socket per listen address.
const reusePortGroup = false

func reusePort(network, address string, c syscall.RawConn) error { return nil }

// msgTrunc is unknown here: ReadBatch reads one datagram at a time and
// reports no flags.
const msgTrunc = 0

// serveUDPMmsg is Linux only: elsewhere serveUDP uses x/net's batches.
func (s *Server) serveUDPMmsg(conn *net.UDPConn, w *udpWorker) bool { return false }
