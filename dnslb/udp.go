package dnslb

import (
	"context"
	"encoding/binary"
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
	req    dns.Msg
	qs     queryScratch // req's sections when unpackQuery took its fast path
	sc     replyScratch
	plan   plan
	cache  *memo // nil: every query takes decide and encode
	fq     fastQuery
	fqs    []fastQuery // a batch's queries, parsed by prefetch; made on first use
	tcpOut []byte      // a TCP reply, up to 65535 bytes; made on first use
	// untimed counts the precomputed replies given since timeReplies.
	untimed int
}

func newUDPWorker(s *Server) *udpWorker {
	w := &udpWorker{s: s, in: make([]ipv4.Message, udpBatch), out: make([]ipv4.Message, udpBatch),
		outs: make([][]byte, udpBatch), cache: newMemo()}
	w.plan.msg = w.sc.newReply()
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
	out := w.answerOn(pkt, from, buf, false, start, nil)
	w.timeReplies(start, false)
	return out
}

// timeReplies records the duration, from start to now, of the
// precomputed replies answerOn gave since the last call (w.untimed).
func (w *udpWorker) timeReplies(start time.Time, tcp bool) {
	if w.untimed > 0 {
		w.s.metrics.observeDurations(time.Since(start), w.untimed, tcp)
		w.untimed = 0
	}
}

// answerOn is answer for a query over UDP or (tcp) TCP that arrived at
// start (the UDP loop reads the clock once per batch: the metrics'
// durations then run from the batch's arrival). It runs the stages of
// the query path in order: parse (the memo's key, and unpacking when the
// memo has no reply), decide, encode, account. A reply from the memo is
// counted in w.untimed, and the caller records those with timeReplies,
// for a UDP batch at once before it is sent. The memo's replies serve
// both transports: they are never cut, and fit 512 bytes.
//
// pre, if not nil, is pkt already parsed for the memo
// (fastCache.prefetch); otherwise answerOn parses it.
func (w *udpWorker) answerOn(pkt []byte, from netip.AddrPort, buf []byte, tcp bool, start time.Time, pre *fastQuery) []byte {
	// Like miekg/dns: no reply to anything without a full header, or to
	// responses (any reply could be used to reflect or loop).
	if len(pkt) < 12 || binary.BigEndian.Uint16(pkt[2:])&(1<<15) != 0 {
		return nil
	}
	snap := w.s.store.Snapshot()
	var fq *fastQuery // the query, if it qualifies for the memo
	var replay []point
	var qlog *queryLog // the query log, if this query is in its sample
	if ql := w.s.qlog.Load(); ql.pick() {
		qlog = ql
	}
	if w.cache == nil || qlog != nil {
		pre = nil // decide and encode (a logged query: the log wants the plan)
	} else if pre == nil {
		pre = &w.fq
		pre.parse(pkt)
	}
	if pre != nil && pre.ok {
		fq = pre
		out, values, fill := w.cache.fast.get(w.s, snap, fq, from.Addr(), pkt, buf, tcp)
		if out != nil {
			w.untimed++
			return out
		}
		replay = values
		if !fill {
			if out = w.cache.neg.answer(w.s, fq, pkt, buf, tcp); out != nil {
				w.untimed++
				return out
			}
		}
	}
	req := &w.req
	if err := unpackQuery(req, &w.qs, pkt); err != nil {
		return formErr(req, buf)
	}
	c := Client{Addr: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), TCP: tcp}
	p := &w.plan
	p.replay = replay
	defer w.sc.release()
	if !decide(snap, req, c, p) {
		return nil
	}
	out, err := encode(p, buf)
	if err != nil {
		w.s.log.Debug("pack reply", "err", err)
		return nil
	}
	if fq != nil {
		w.cache.fast.put(fq, p, out)
		w.cache.neg.put(fq, p, out)
		w.cache.neg.putRefused(fq, p, out)
	}
	w.s.observe(req, p, start, c, qlog)
	return out
}

// queryScratch is what unpackQuery reuses from query to query.
type queryScratch struct {
	q     [1]dns.Question
	opt   dns.OPT
	extra [1]dns.RR
}

// unpackQuery is req.Unpack(pkt) (pkt has a full header), with a fast
// path for the usual query, one question and at most an OPT record
// without options, that reuses sc's arrays instead of allocating.
func unpackQuery(req *dns.Msg, sc *queryScratch, pkt []byte) error {
	// Unpack leaves sections it did not reach as they were.
	*req = dns.Msg{}
	// QD=1, AN=NS=0, AR 0 or 1.
	if n := binary.BigEndian.Uint64(pkt[4:]); n == 1<<48 || n == 1<<48|1 {
		name, off, err := dns.UnpackDomainName(pkt, 12)
		end := off + 4
		if n&1 == 1 {
			end += 11 // root name, type, class, TTL, RDLENGTH 0
		}
		if err == nil && end == len(pkt) && (n&1 == 0 || pkt[off+4] == 0 &&
			binary.BigEndian.Uint16(pkt[off+5:]) == dns.TypeOPT && binary.BigEndian.Uint16(pkt[off+13:]) == 0) {
			if err := req.Unpack(pkt[:12]); err != nil { // the header alone
				return err
			}
			sc.q[0] = dns.Question{Name: name, Qtype: binary.BigEndian.Uint16(pkt[off:]),
				Qclass: binary.BigEndian.Uint16(pkt[off+2:])}
			req.Question = sc.q[:]
			if n&1 == 1 {
				o := pkt[off+4:]
				sc.opt = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT,
					Class: binary.BigEndian.Uint16(o[3:]), Ttl: binary.BigEndian.Uint32(o[5:])}}
				sc.extra[0] = &sc.opt
				req.Extra = sc.extra[:]
				req.Rcode |= sc.opt.ExtendedRcode() // as Unpack does
			}
			return nil
		}
	}
	if err := req.Unpack(pkt); err != nil {
		return err
	}
	// miekg/dns lowers a section's count to the records that are there
	// when the header promises more; such a query is malformed
	// (RFC 1035 section 4.1.1), and NSD and Knot answer FORMERR.
	if int(binary.BigEndian.Uint16(pkt[4:])) != len(req.Question) || int(binary.BigEndian.Uint16(pkt[6:])) != len(req.Answer) ||
		int(binary.BigEndian.Uint16(pkt[8:])) != len(req.Ns) || int(binary.BigEndian.Uint16(pkt[10:])) != len(req.Extra) {
		return errCounts
	}
	return nil
}

// errCounts is unpackQuery's error for a query whose header counts more
// records than it holds.
var errCounts = errors.New("header counts records that are not there")

// formErr is the reply to a query that does not unpack: FORMERR with the
// header (and the first question, if it was read), exactly as miekg/dns's
// server answers it.
func formErr(req *dns.Msg, buf []byte) []byte {
	req.SetRcodeFormatError(req)
	req.Zero = false
	req.Ns, req.Answer, req.Extra = nil, nil, nil
	out, err := req.PackBuffer(buf)
	if err != nil {
		return nil
	}
	return out
}

// observe counts one answered query (the account stage), and logs it
// when it is in the query log's sample.
func (s *Server) observe(req *dns.Msg, p *plan, start time.Time, c Client, qlog *queryLog) {
	var qtype uint16
	if len(req.Question) == 1 {
		qtype = req.Question[0].Qtype
	}
	m := p.msg
	d := time.Since(start)
	s.metrics.ObserveQuery(p.zone, qtype, m.Rcode, p.policy, d, c.TCP)
	if m.Truncated {
		s.metrics.Truncated()
	}
	qlog.write(c, req, m, p.policy, d)
}

// scratchRRs is the capacity of each reused reply section: enough for
// the common answers (a few addresses, a referral with its glue). Larger
// sections grow by append into new arrays, which are not kept.
const scratchRRs = 16

// replyScratch is a serving goroutine's reply message and the section
// arrays it reuses from query to query. Only records are stored in the
// arrays, never written through: the store's records stay untouched.
type replyScratch struct {
	msg               dns.Msg
	answer, ns, extra [scratchRRs]dns.RR
}

// newReply returns the scratch reply, its sections the scratch arrays.
func (sc *replyScratch) newReply() *dns.Msg {
	sc.msg = dns.Msg{Answer: sc.answer[:0], Ns: sc.ns[:0], Extra: sc.extra[:0]}
	return &sc.msg
}

// release drops the records the last reply left in the arrays, so that
// they do not keep an old snapshot's zones alive, and gives the message
// the arrays back (a large reply grew new ones).
func (sc *replyScratch) release() {
	clearRRs(sc.answer[:])
	clearRRs(sc.ns[:])
	clearRRs(sc.extra[:])
	sc.newReply()
}

// clearRRs clears the prefix of rrs that appends filled: they fill from
// the start, so the first nil ends it.
func clearRRs(rrs []dns.RR) {
	for i := range rrs {
		if rrs[i] == nil {
			return
		}
		rrs[i] = nil
	}
}
