package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/dnslb/state"
)

// The UDP serving path. miekg/dns's server starts a goroutine and
// allocates buffers and a writer for every datagram; at the rates an
// authoritative server sees that is most of its CPU time. Instead each
// listen address gets one socket per GOMAXPROCS, bound to the same port
// with SO_REUSEPORT so that the kernel spreads datagrams over them, and
// each socket is served by one goroutine that owns its buffers and reuses
// them for every query. TCP is served in tcp.go.

// Env is what the serving loops need from the server: the generation
// to answer from, the query path's stage hooks, where to log and count,
// and the zone transfers (TCP only; nil: none).
type Env struct {
	Store   *state.Store
	Stages  answer.Stages
	Log     *slog.Logger
	Metrics *metrics.Registry
	// Transfer answers pkt if it is a zone transfer the server takes,
	// handing each message to send as it is made (transfer.Server.Transfer).
	Transfer func(pkt []byte, client netip.Addr, send func(msg []byte) bool) (handled, abort bool)
}

// transfer answers pkt if it is a zone transfer the server takes.
func (e Env) transfer(pkt []byte, client netip.Addr, send func(msg []byte) bool) (handled, abort bool) {
	if e.Transfer == nil {
		return false, false
	}
	return e.Transfer(pkt, client, send)
}

// Addr is the socket's local address.
func (u *UDPSocket) Addr() net.Addr { return u.addr }

// Start serves u (ServeUDP) on a goroutine of wg.
func (u *UDPSocket) Start(wg *sync.WaitGroup, env Env) {
	u.started.Store(true) // before the goroutine: Close waits for it
	wg.Go(func() { ServeUDP(env, u) })
}

// Close stops the socket's serving goroutine, waits for it, and closes
// the socket; calling it again does nothing.
func (u *UDPSocket) Close() { u.close() }

// udpBatch is how many datagrams one recvmmsg/sendmmsg call moves at
// most, and udpSlot the buffer of each. A query longer than udpSlot
// (none that a real client sends: queries are one question and an OPT
// record) arrives cut short and gets FORMERR. Replies longer than
// udpSlot (only with udp_size above it) are packed into a new buffer.
const (
	udpBatch = 32
	udpSlot  = 4096
)

// UDPSocket is one socket of a listen address's group. Where the
// platform allows (detachUDP, Linux) the socket is taken out of Go's
// netpoller after it is opened, and its serving goroutine sleeps in the
// kernel instead (udp_mmsg_linux.go says why); elsewhere it is served
// through conn.
type UDPSocket struct {
	conn    *net.UDPConn // served through the netpoller; nil once detached
	fd      int          // the detached descriptor; -1 when conn is served
	addr    net.Addr
	closing atomic.Bool   // set by close: the serving goroutine returns
	started atomic.Bool   // a goroutine serves it and closes done on return
	done    chan struct{} // closed when the serving goroutine returns
	once    sync.Once
}

// listenUDP opens the socket group of one listen address: GOMAXPROCS
// sockets sharing a port where the platform can (reusePort), else one.
// With port 0 the first socket picks the port and the others join it.
func ListenUDP(addr string) ([]*UDPSocket, error) {
	n := 1
	if reusePortGroup {
		n = runtime.GOMAXPROCS(0)
	}
	lc := net.ListenConfig{Control: reusePort}
	socks := make([]*UDPSocket, 0, n)
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			CloseUDP(socks)
			return nil, err // "listen udp ADDRESS: cause" already
		}
		u := &UDPSocket{conn: pc.(*net.UDPConn), fd: -1, addr: pc.LocalAddr(), done: make(chan struct{})}
		if err := detachUDP(u); err != nil {
			_ = pc.Close()
			CloseUDP(socks)
			return nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		socks = append(socks, u)
		addr = u.addr.String()
	}
	return socks, nil
}

func CloseUDP(socks []*UDPSocket) {
	for _, u := range socks {
		u.close()
	}
}

// close stops the socket's serving goroutine, waits for it, and closes
// the socket; calling it again does nothing.
func (u *UDPSocket) close() {
	u.once.Do(func() {
		u.closing.Store(true)
		if u.conn != nil {
			_ = u.conn.Close()
			return
		}
		wakeUDP(u.fd)
		if u.started.Load() {
			<-u.done
		}
		closeFD(u.fd)
	})
}

// batchConn is the part of golang.org/x/net's ipv4 and ipv6 PacketConn
// that serveUDP uses: recvmmsg and sendmmsg where the platform has them.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// worker is one serving goroutine's scratch space: nothing in it is
// shared, so the query path reuses it without locks.
type worker struct {
	env  Env
	in   []ipv4.Message // datagrams read, each with its own udpSlot buffer
	out  []ipv4.Message // replies to write
	outs [][]byte       // the reply buffers out points into, one per slot
	ans  *answer.Worker
}

func newWorker(env Env) *worker {
	w := &worker{env: env, in: make([]ipv4.Message, udpBatch), out: make([]ipv4.Message, udpBatch),
		outs: make([][]byte, udpBatch), ans: answer.NewWorker(env.Store, env.Stages, env.Log)}
	for i := range udpBatch {
		w.in[i].Buffers = [][]byte{make([]byte, udpSlot)}
		w.out[i].Buffers = make([][]byte, 1)
		w.outs[i] = make([]byte, udpSlot)
	}
	return w
}

// serveUDP answers the datagrams of u until u is closed: it reads
// every datagram waiting (up to udpBatch) in one call, answers them, and
// writes the replies in one call.
func ServeUDP(env Env, u *UDPSocket) {
	defer close(u.done)
	w := newWorker(env)
	if u.conn == nil {
		serveUDPFD(u, w)
		return
	}
	conn := u.conn
	var bc batchConn = ipv4.NewPacketConn(conn)
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		bc = ipv6.NewPacketConn(conn)
	}
	for {
		n, err := bc.ReadBatch(w.in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			w.env.Log.Debug("read udp", "err", err)
			continue
		}
		k := 0
		for i := range w.in[:n] {
			m := &w.in[i]
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			pkt := m.Buffers[0][:m.N]
			if m.Flags&msgTrunc != 0 {
				pkt = pkt[:min(len(pkt), 12)] // too long for udpSlot: FORMERR at most
			}
			reply := w.answer(pkt, ua.AddrPort(), w.outs[k])
			if reply == nil {
				continue
			}
			w.out[k].Buffers[0], w.out[k].Addr = reply, ua
			k++
		}
		for done := 0; done < k; {
			n, err := bc.WriteBatch(w.out[done:k], 0)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				w.env.Log.Debug("write reply", "err", err)
				n = 1 // the first failed: skip it, send the rest
			}
			done += n
		}
	}
}

// answer returns the reply to the datagram pkt from client from, packed
// into buf when it fits, or nil when the datagram gets none.
func (w *worker) answer(pkt []byte, from netip.AddrPort, buf []byte) []byte {
	start := time.Now()
	out := w.ans.Answer(pkt, from, buf, false, start, nil)
	w.timeReplies(start, false)
	return out
}

// timeReplies records the duration, from start to now, of the replies
// from the memo since the last call.
func (w *worker) timeReplies(start time.Time, tcp bool) {
	if n := w.ans.TakeUntimed(); n > 0 {
		w.env.Metrics.ObserveDurations(time.Since(start), n, tcp)
	}
}
