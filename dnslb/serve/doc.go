// Package serve moves bytes between sockets and the query path: UDP
// socket groups (SO_REUSEPORT, one serving goroutine per socket, batches
// of recvmmsg/sendmmsg, on Linux outside Go's netpoller) and TCP (RFC 7766
// pipelining, one total connection limit with the oldest waiting
// connection closed for a new one, per-client limit, deadlines for the
// first byte, a whole message and idleness, edns-tcp-keepalive).
//
// Each serving goroutine owns an answer.Worker; what a query gets is
// entirely the answer package's. Zone transfers over TCP are handed to
// Env.Transfer. It leaves out what to answer, and listening is opened by
// the caller (ListenUDP for UDP; net.Listen for TCP).
package serve
