//go:build !linux

package dnslb

import "syscall"

// reusePortGroup is false: one socket per listen address.
const reusePortGroup = false

func reusePort(network, address string, c syscall.RawConn) error { return nil }

// msgTrunc is unknown here: ReadBatch reads one datagram at a time and
// reports no flags.
const msgTrunc = 0
