package serve

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/wire"
)

// TCP limits: the connections of every listener count against one
// max_tcp_connections, and those of one client address against
// max_tcp_per_client. A connection over the per-client bound is refused
// at once. At the total bound the connection that has waited longest for
// its client (idle between messages, silent since it opened, or in the
// middle of a message that is slow to come) is closed to make room, as
// Knot does, once it has waited tcpEvictAge; when every connection is
// younger the accept waits for the oldest to reach that age (at most
// tcpEvictAge), and when none can be closed (all are answering) the new
// one is refused at once. So the kernel's backlog never holds clients
// while connections sit idle, the newest client always gets its turn,
// and a client that sends its query when it connects is answered however
// many idle or slow connections an attacker opens and reopens.

// tcpEvictAge is how long a connection has waited for its client at
// least before it may be closed for a new one: the newest connections
// are safe while they send their first query, and an attacker that
// reconnects at once recycles each slot at most this often. It is short
// because the accept loop waits for it: a longer age makes every
// connection queued behind a wait wait longer (200 ms kept new clients
// past a second behind 80 reconnecting attackers).
const tcpEvictAge = 50 * time.Millisecond

// tcpLimits are the TCP settings of one Run.
type tcpLimits struct {
	max, perClient     int // perClient <= 0: no bound
	firstByte, message time.Duration
	keepalive          uint16 // the idle timeout in units of 100 ms (RFC 7828)
}

// TCPChanged tells whether the TCP settings of a and b differ: they take
// effect at the next start, not at a reload.
func TCPChanged(a, b config.ServerConfig) bool { return tcpLimitsOf(a) != tcpLimitsOf(b) }

func tcpLimitsOf(sc config.ServerConfig) tcpLimits {
	l := tcpLimits{max: sc.MaxTCPConnections, perClient: sc.MaxTCPPerClient,
		firstByte: sc.TCPFirstByteTimeout.Duration, message: sc.TCPMessageTimeout.Duration}
	if l.max < 1 {
		l.max = 1000
	}
	if l.firstByte <= 0 {
		l.firstByte = 2 * time.Second
	}
	if l.message <= 0 {
		l.message = 2 * time.Second
	}
	l.keepalive = uint16(min(sc.TCPIdleTimeout.Duration/(100*time.Millisecond), 0xffff))
	return l
}

// What a connection's goroutine is doing.
const (
	tcpBusy    int32 = iota // answering or writing: never closed for another
	tcpFirst                // waiting for the first byte since it opened
	tcpIdle                 // waiting for the next message
	tcpReading              // waiting for the rest of a message
	tcpEvicted              // closed for a new connection
)

// tcpConn is one open connection.
type tcpConn struct {
	c        net.Conn
	from     netip.AddrPort
	accepted time.Time
	state    atomic.Int32
	since    atomic.Int64 // unix nanoseconds: when the current wait began
}

// wait marks tc as waiting for its client since start (now if zero).
func (tc *tcpConn) wait(st int32, start time.Time) {
	if st != tcpReading || start.IsZero() {
		start = time.Now()
	}
	if st == tcpFirst {
		start = tc.accepted
	}
	tc.since.Store(start.UnixNano())
	tc.state.CompareAndSwap(tcpBusy, st)
}

// work marks tc as busy, and reports false if it was closed for another.
func (tc *tcpConn) work() bool {
	for {
		st := tc.state.Load()
		if st == tcpEvicted {
			return false
		}
		if tc.state.CompareAndSwap(st, tcpBusy) {
			return true
		}
	}
}

// admit tracks the accepted c within the limits, or closes it (counted
// as refused) and returns nil.
func (t *TCPServer) admit(c net.Conn) *tcpConn {
	tc := &tcpConn{c: c, accepted: time.Now()}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		tc.from = a.AddrPort()
	}
	tc.state.Store(tcpFirst)
	tc.since.Store(tc.accepted.UnixNano())
	client := tc.from.Addr().Unmap()
	deadline := tc.accepted.Add(tcpEvictAge)
	for {
		t.mu.Lock()
		if t.closed.Load() {
			t.mu.Unlock()
			_ = c.Close()
			return nil
		}
		if t.lim.perClient > 0 && t.byClient[client] >= t.lim.perClient {
			t.mu.Unlock()
			t.refuse(c, "per_client")
			return nil
		}
		if len(t.conns) >= t.lim.max {
			victim, st, since := t.oldestLocked()
			if victim == nil {
				t.mu.Unlock()
				t.refuse(c, "limit")
				return nil
			}
			now := time.Now()
			if age := now.Sub(since); age < tcpEvictAge {
				t.mu.Unlock()
				if !now.Before(deadline) {
					t.refuse(c, "limit")
					return nil
				}
				time.Sleep(min(tcpEvictAge-age, deadline.Sub(now)))
				continue
			}
			if unread(victim.c) {
				// Its client has sent and its goroutine has not read it
				// yet (a busy core): it waits for us, not for its client.
				// Its wait starts again; look again.
				victim.since.CompareAndSwap(since.UnixNano(), now.UnixNano())
				t.mu.Unlock()
				continue
			}
			if !victim.state.CompareAndSwap(st, tcpEvicted) {
				t.mu.Unlock()
				continue // it woke up meanwhile: look again
			}
			t.dropLocked(victim)
			_ = victim.c.Close()
			t.countClose("evicted")
		}
		// Its wait for the first byte starts now, not when it was
		// accepted: time spent here waiting for room must not make it
		// the oldest, and the next one closed.
		tc.accepted = time.Now()
		tc.since.Store(tc.accepted.UnixNano())
		t.conns[tc] = struct{}{}
		t.byClient[client]++
		t.wg.Add(1)
		t.mu.Unlock()
		return tc
	}
}

// oldestLocked returns the connection that has waited longest for its
// client, its state and since when; nil if every one is busy.
func (t *TCPServer) oldestLocked() (*tcpConn, int32, time.Time) {
	var best *tcpConn
	var bestSt int32
	var bestSince int64
	for tc := range t.conns {
		st := tc.state.Load()
		if st == tcpBusy || st == tcpEvicted {
			continue
		}
		if since := tc.since.Load(); best == nil || since < bestSince {
			best, bestSt, bestSince = tc, st, since
		}
	}
	return best, bestSt, time.Unix(0, bestSince)
}

func (t *TCPServer) dropLocked(tc *tcpConn) {
	if _, ok := t.conns[tc]; !ok {
		return
	}
	delete(t.conns, tc)
	client := tc.from.Addr().Unmap()
	if t.byClient[client]--; t.byClient[client] <= 0 {
		delete(t.byClient, client)
	}
}

func (t *TCPServer) untrack(tc *tcpConn) {
	t.mu.Lock()
	t.dropLocked(tc)
	t.mu.Unlock()
	_ = tc.c.Close()
}

// refuse closes c at once, unanswered.
func (t *TCPServer) refuse(c net.Conn, reason string) {
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // a reset: the client knows at once, and no TIME_WAIT here
	}
	_ = c.Close()
	t.env.Metrics.TCPRefused(reason)
}

func (t *TCPServer) countClose(reason string) { t.env.Metrics.TCPClosed(reason) }

// closeReason names why a read that got err (in state st) ends a connection.
func closeReason(err error, st int32, closed bool) string {
	switch {
	case errors.Is(err, io.EOF):
		return "client"
	case errors.Is(err, os.ErrDeadlineExceeded):
		if closed {
			return "shutdown"
		}
		switch st {
		case tcpFirst:
			return "first_byte_timeout"
		case tcpReading:
			return "message_timeout"
		}
		return "idle_timeout"
	case errors.Is(err, net.ErrClosed):
		return "shutdown"
	}
	return "error"
}

// addKeepalive adds the edns-tcp-keepalive option (RFC 7828) with
// timeout (in units of 100 ms) to reply's OPT record, if it has one.
func addKeepalive(reply []byte, timeout uint16) []byte {
	return wire.AppendOption(reply, dns.EDNS0TCPKEEPALIVE, []byte{byte(timeout >> 8), byte(timeout)})
}
