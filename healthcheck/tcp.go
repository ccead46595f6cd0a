package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"
)

// tcpChecker connects, optionally sends Send and reads until the reply
// contains Expect.
type tcpChecker struct {
	cfg    Config
	dialer net.Dialer
}

func newTCPChecker(cfg Config) *tcpChecker {
	// Keep-alive probes are pointless on a connection that lives for one
	// check, and turning them on costs several syscalls per probe.
	return &tcpChecker{cfg: cfg, dialer: net.Dialer{KeepAlive: -1}}
}

// maxExpectRead bounds how much of a TCP reply is searched for Expect.
const maxExpectRead = 64 << 10

func (c *tcpChecker) Check(ctx context.Context, addr netip.Addr) Result {
	start := time.Now()
	conn, err := c.dialer.DialContext(ctx, "tcp", dialTarget(c.cfg, addr, 0))
	if err != nil {
		return fail(start, reason(err))
	}
	defer closeAbort(conn)
	if c.cfg.Send == "" && c.cfg.Expect == "" {
		return ok(start)
	}
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	if c.cfg.Send != "" {
		if _, err := io.WriteString(conn, c.cfg.Send); err != nil {
			return fail(start, reason(err))
		}
	}
	if c.cfg.Expect == "" {
		return ok(start)
	}
	if err := readUntil(conn, []byte(c.cfg.Expect)); err != nil {
		return fail(start, reason(err))
	}
	return ok(start)
}

var errReplyMismatch = errors.New("reply mismatch")

// readUntil reads from r until what it has read contains want, the peer
// closes, or maxExpectRead bytes have been read.
func readUntil(r io.Reader, want []byte) error {
	buf := make([]byte, 0, 4096)
	for len(buf) < maxExpectRead {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.Contains(buf, want) {
			return nil
		}
		if errors.Is(err, io.EOF) {
			return errReplyMismatch
		}
		if err != nil {
			return err
		}
	}
	return errReplyMismatch
}

// closeAbort closes a probe connection with a reset instead of a FIN, so
// that frequent probes do not leave sockets in TIME_WAIT on this host.
func closeAbort(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
