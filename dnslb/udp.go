package dnslb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/dnslb/dnslb/dnslb/answer"
)

// The UDP serving path. miekg/dns's server starts a goroutine and
// allocates buffers and a writer for every datagram; at the rates an
// authoritative server sees that is most of its CPU time. Instead each
// listen address gets one socket per GOMAXPROCS, bound to the same port
// with SO_REUSEPORT so that the kernel spreads datagrams over them, and
// each socket is served by one goroutine that owns its buffers and reuses
// them for every query. TCP is served in tcp.go.

// udpBatch is how many datagrams one recvmmsg/sendmmsg call moves at
// most, and udpSlot the buffer of each. A query longer than udpSlot
// (none that a real client sends: queries are one question and an OPT
// record) arrives cut short and gets FORMERR. Replies longer than
// udpSlot (only with udp_size above it) are packed into a new buffer.
const (
	udpBatch = 32
	udpSlot  = 4096
)

// udpSocket is one socket of a listen address's group. Where the
// platform allows (detachUDP, Linux) the socket is taken out of Go's
// netpoller after it is opened, and its serving goroutine sleeps in the
// kernel instead (udp_mmsg_linux.go says why); elsewhere it is served
// through conn.
type udpSocket struct {
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
func listenUDP(addr string) ([]*udpSocket, error) {
	n := 1
	if reusePortGroup {
		n = runtime.GOMAXPROCS(0)
	}
	lc := net.ListenConfig{Control: reusePort}
	socks := make([]*udpSocket, 0, n)
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			closeUDP(socks)
			return nil, err // "listen udp ADDRESS: cause" already
		}
		u := &udpSocket{conn: pc.(*net.UDPConn), fd: -1, addr: pc.LocalAddr(), done: make(chan struct{})}
		if err := detachUDP(u); err != nil {
			_ = pc.Close()
			closeUDP(socks)
			return nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		socks = append(socks, u)
		addr = u.addr.String()
	}
	return socks, nil
}

func closeUDP(socks []*udpSocket) {
	for _, u := range socks {
		u.close()
	}
}

// close stops the socket's serving goroutine, waits for it, and closes
// the socket; calling it again does nothing.
func (u *udpSocket) close() {
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

// udpWorker is one serving goroutine's scratch space: nothing in it is
// shared, so the query path reuses it without locks.
type udpWorker struct {
	s      *Server
	in     []ipv4.Message // datagrams read, each with its own udpSlot buffer
	out    []ipv4.Message // replies to write
	outs   [][]byte       // the reply buffers out points into, one per slot
	ans    *answer.Worker
	tcpOut []byte // a TCP reply, up to 65535 bytes; made on first use
}

func newUDPWorker(s *Server) *udpWorker {
	w := &udpWorker{s: s, in: make([]ipv4.Message, udpBatch), out: make([]ipv4.Message, udpBatch),
		outs: make([][]byte, udpBatch), ans: answer.NewWorker(s.store, answer.Stages{TSIG: s, Account: s}, s.log)}
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
func (s *Server) serveUDP(u *udpSocket) {
	defer close(u.done)
	w := newUDPWorker(s)
	if u.conn == nil {
		s.serveUDPFD(u, w)
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
			s.log.Debug("read udp", "err", err)
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
				s.log.Debug("write reply", "err", err)
				n = 1 // the first failed: skip it, send the rest
			}
			done += n
		}
	}
}

// answer returns the reply to the datagram pkt from client from, packed
// into buf when it fits, or nil when the datagram gets none.
func (w *udpWorker) answer(pkt []byte, from netip.AddrPort, buf []byte) []byte {
	start := time.Now()
	out := w.ans.Answer(pkt, from, buf, false, start, nil)
	w.timeReplies(start, false)
	return out
}

// timeReplies records the duration, from start to now, of the replies
// from the memo since the last call.
func (w *udpWorker) timeReplies(start time.Time, tcp bool) {
	if n := w.ans.TakeUntimed(); n > 0 {
		w.s.metrics.ObserveDurations(time.Since(start), n, tcp)
	}
}

var _ answer.Account = (*Server)(nil)

// Sampled tells whether the next query goes to the query log.
func (s *Server) Sampled() bool { return s.qlog.Load().Pick() }

// Answered counts one reply that decide and encode made (the account
// stage), and logs it when it is in the query log's sample.
func (s *Server) Answered(req *dns.Msg, p *answer.Plan, c answer.Client, start time.Time, sampled bool) {
	var qtype uint16
	if len(req.Question) == 1 {
		qtype = req.Question[0].Qtype
	}
	m := p.Msg()
	d := time.Since(start)
	s.metrics.ObserveQuery(p.Zone(), qtype, m.Rcode, p.Policy(), d, c.TCP)
	if m.Truncated {
		s.metrics.Truncated()
	}
	if sampled {
		s.qlog.Load().Write(c.Addr.Addr(), c.TCP, req, m, p.Policy(), d)
	}
}

// Counter is the metrics' counter of replies the memo gives.
func (s *Server) Counter(zone string, qtype uint16, rcode int, policy string, tcp bool) (answer.Counter, bool) {
	ref, known := s.metrics.QueryCounter(zone, qtype, rcode, policy, tcp)
	if ref == nil {
		return nil, known
	}
	return ref, known
}
