package serve

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/wire"
)

// The TCP serving path (RFC 7766). miekg/dns's server reads one message,
// answers it, and writes the reply in its own call, with a fresh message
// and buffers each time; a client that pipelines (resolvers do, and so does
// dnsperf) pays a read and a write per query. Here a connection's goroutine
// reads whatever the client has sent, answers every complete query in it,
// and writes all the replies in one call. Answering uses answer.Workers
// of its own (each with a memo, whose replies are the same over both
// transports), taken from a pool of GOMAXPROCS only while answering,
// never while a connection waits.

// tcpReadBuf is the read buffer a connection starts with; it grows to the
// largest message (65535 bytes and its length) only when one is that long.
// Replies are written once tcpWriteBuf bytes of them are waiting, or when
// every query read is answered.
const (
	tcpReadBuf  = 4096
	tcpWriteBuf = 64 << 10
)

// TCPServer serves the TCP listeners of one Run. Its limits (tcplimit.go)
// count the connections of every listener together.
type TCPServer struct {
	env     Env
	idle    time.Duration
	lim     tcpLimits
	workers chan *tcpWorker

	mu       sync.Mutex // guards conns, byClient, and closed's changes
	conns    map[*tcpConn]struct{}
	byClient map[netip.Addr]int
	closed   atomic.Bool
	wg       sync.WaitGroup
}

// sweepIdle has the workers waiting in the pool let go of an old
// generation (answer.Worker.Idle) every tcpSweep, until stop is called.
func (t *TCPServer) sweepIdle() (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(tcpSweep)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			for range cap(t.workers) {
				select {
				case w := <-t.workers:
					w.ans.Idle()
					t.workers <- w
				default:
				}
			}
		}
	}()
	return func() { close(done) }
}

// tcpSweep is how often idle TCP workers are told to let go of an old
// generation.
const tcpSweep = time.Second

func NewTCP(env Env, sc config.ServerConfig) *TCPServer {
	t := &TCPServer{env: env, idle: sc.TCPIdleTimeout.Duration, lim: tcpLimitsOf(sc),
		conns: make(map[*tcpConn]struct{}), byClient: make(map[netip.Addr]int),
		workers: make(chan *tcpWorker, runtime.GOMAXPROCS(0))}
	for range cap(t.workers) {
		t.workers <- &tcpWorker{env: t.env, ans: answer.NewWorker(t.env.Store, t.env.Stages, t.env.Log)}
	}
	return t
}

// Serve accepts connections on ln until it is closed.
func (t *TCPServer) Serve(ln net.Listener) {
	stop := t.sweepIdle()
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			t.env.Log.Warn("accept tcp", "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. out of descriptors: don't spin
			continue
		}
		tc := t.admit(c)
		if tc == nil {
			if t.closed.Load() {
				return
			}
			continue
		}
		go func() {
			defer t.wg.Done()
			defer t.untrack(tc)
			t.serveConn(tc)
		}()
	}
}

// Shutdown stops every connection once the queries it has read are
// answered (the listeners are closed by the caller), waiting at most d.
func (t *TCPServer) Shutdown(d time.Duration) {
	t.mu.Lock()
	t.closed.Store(true)
	for c := range t.conns {
		_ = c.c.SetReadDeadline(time.Now()) // wakes a waiting read; replies still go out
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.mu.Lock()
		for c := range t.conns {
			_ = c.c.Close()
		}
		t.mu.Unlock()
		<-done
	}
}

// serveConn answers the queries of one connection until the client closes
// it, it is idle for t.idle, a read or write fails, or the server stops.
func (t *TCPServer) serveConn(tc *tcpConn) {
	c, from := tc.c, tc.from
	answered := false      // a message came: the idle timeout applies, not the first byte's
	var msgStart time.Time // when the first byte of the partial message at rbuf[:have] came
	rbuf := make([]byte, tcpReadBuf)
	var wbuf []byte
	have := 0 // bytes read and not yet answered, at rbuf[:have]
	for {
		// Every complete message in the buffer is answered before the
		// replies are written together.
		off := 0
		var w *tcpWorker
		// flushFull writes the replies once they fill tcpWriteBuf (many
		// small queries with large answers, a zone transfer), so that a
		// connection holds a bounded buffer; the worker is given back
		// first, as a write may wait on the client.
		flushFull := func() bool {
			if len(wbuf) < tcpWriteBuf {
				return true
			}
			if w != nil {
				t.workers <- w
				w = nil
			}
			ok := t.write(c, wbuf)
			wbuf = wbuf[:0]
			return ok
		}
		for have-off >= 2 {
			n := int(binary.BigEndian.Uint16(rbuf[off:]))
			if have-off < 2+n {
				break
			}
			pkt := rbuf[off+2 : off+2+n]
			off += 2 + n
			if wire.IsTransferQuery(pkt) {
				send := func(m []byte) bool {
					wbuf = appendTCP(wbuf, m)
					return flushFull()
				}
				if handled, abort := t.env.transfer(pkt, from.Addr(), send); handled {
					if abort {
						return // the secondary sees the transfer fail, not end early
					}
					continue
				}
			}
			if w == nil {
				w = <-t.workers
			}
			if wbuf = w.answerTCP(pkt, from, wbuf, t.lim.keepalive); !flushFull() {
				return
			}
		}
		if w != nil {
			t.workers <- w
		}
		if len(wbuf) > 0 {
			if !t.write(c, wbuf) {
				return
			}
			wbuf = wbuf[:0]
		}
		have = copy(rbuf, rbuf[off:have])
		if have >= 2 {
			if need := 2 + int(binary.BigEndian.Uint16(rbuf)); need > len(rbuf) {
				rbuf = append(rbuf[:have], make([]byte, need-have)...)[:need]
			}
		}
		if off > 0 {
			answered = true
		}
		// The deadline before the check: shutdown sets closed and then
		// a deadline of now, which this one can't overwrite unseen. The
		// deadline is not moved by the bytes of a message: it has
		// tcp_message_timeout from its first byte, whatever it sends.
		st, deadline := tcpIdle, time.Now().Add(t.idle)
		switch {
		case have > 0:
			if off > 0 || msgStart.IsZero() {
				msgStart = time.Now() // the rest came with the last read
			}
			st, deadline = tcpReading, msgStart.Add(t.lim.message)
		case !answered:
			st, deadline = tcpFirst, tc.accepted.Add(t.lim.firstByte)
		}
		_ = c.SetReadDeadline(deadline)
		tc.wait(st, msgStart)
		if t.closed.Load() {
			t.countClose("shutdown")
			return
		}
		n, err := c.Read(rbuf[have:])
		if !tc.work() {
			return // evicted: counted there
		}
		if have == 0 && n > 0 {
			msgStart = time.Now()
		}
		have += n
		if err != nil && n == 0 {
			t.countClose(closeReason(err, st, t.closed.Load()))
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.env.Log.Debug("read tcp", "err", err)
			}
			return
		}
	}
}

// write sends b to c within the idle timeout, and reports whether it did.
func (t *TCPServer) write(c net.Conn, b []byte) bool {
	_ = c.SetWriteDeadline(time.Now().Add(t.idle))
	if _, err := c.Write(b); err != nil {
		t.env.Log.Debug("write tcp", "err", err)
		return false
	}
	return true
}

// tcpWorker answers TCP queries: an answer.Worker (with its memo) and a
// buffer for one reply, lent to a connection only while it answers.
type tcpWorker struct {
	env Env
	ans *answer.Worker
	out []byte // a reply, up to 65535 bytes; made on first use
}

// tcpBuf is the worker's buffer for one TCP reply.
func (w *tcpWorker) tcpBuf() []byte {
	if w.out == nil {
		w.out = make([]byte, 65535)
	}
	return w.out
}

// answerTCP appends the reply to one TCP query, with its length, to out;
// a reply with EDNS carries edns-tcp-keepalive with timeout keepalive.
func (w *tcpWorker) answerTCP(pkt []byte, from netip.AddrPort, out []byte, keepalive uint16) []byte {
	start := time.Now()
	reply := w.ans.Answer(pkt, from, w.tcpBuf(), true, start, nil)
	reply = addKeepalive(reply, keepalive)
	if n := w.ans.TakeUntimed(); n > 0 {
		w.env.Metrics.ObserveDurations(time.Since(start), n, true)
	}
	if reply == nil || len(reply) > 65535 { // TCP's two-byte length
		return out
	}
	return appendTCP(out, reply)
}

// appendTCP appends msg with its two-byte length, as TCP carries it.
func appendTCP(out, msg []byte) []byte {
	out = binary.BigEndian.AppendUint16(out, uint16(len(msg)))
	return append(out, msg...)
}
