// Command ecsload is a UDP load generator for the bench's geo scenarios:
// resolver-like traffic that dnsperf cannot send. With -subnets N every
// query carries an EDNS Client Subnet option (RFC 7871, source /24) drawn
// round-robin from N distinct /24s spread over the IPv4 unicast space; with
// -sources N the queries carry no ECS and leave from N sockets bound to
// distinct 127.x.y.z addresses, so the server sees N clients.
//
// It talks to loopback only (127.0.0.0/8, ::1) and every run is bounded in
// time (-duration) and in count (-max). Every query packet is built once;
// the send loop copies one and patches its 2-byte ID, without
// allocating; each sender sends its queries in batches (sendmmsg, -batch)
// and one goroutine per socket reads the replies in batches (recvmmsg).
// It prints one
// line:
//
//	qps=… sent=… received=… lost=… p50_us=… p99_us=…
//
// (and bad=… with -check). qps counts answered queries over the time from
// the first send to the last reply (or the end of sending, if later);
// lost is sent minus received after waiting -timeout for stragglers; the
// latency percentiles come from every 16th reply.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ecsload:", err)
		os.Exit(1)
	}
}

type options struct {
	server   string
	qnames   []string
	qtype    uint16
	subnets  int
	sources  int
	duration time.Duration
	max      int64
	window   int
	sockets  int
	timeout  time.Duration
	check    bool
	batch    int
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("ecsload", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := &options{}
	qname := fs.String("qname", "h0.bench.example", "query name, or a comma-separated list")
	qtype := fs.String("qtype", "A", "query type")
	fs.StringVar(&o.server, "server", "127.0.0.1:53", "server address (loopback only)")
	fs.IntVar(&o.subnets, "subnets", 0, "ECS option on every query, source /24, from this many distinct /24s")
	fs.IntVar(&o.sources, "sources", 0, "no ECS; this many sockets bound to distinct 127.x.y.z addresses from 127.1.0.1 up")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "stop sending after this long")
	fs.Int64Var(&o.max, "max", 100_000_000, "stop sending after this many queries")
	fs.IntVar(&o.window, "window", 64, "outstanding queries per sender (one sender per socket with -subnets)")
	fs.IntVar(&o.sockets, "sockets", 4, "senders; with -sources each owns every sockets-th source socket")
	fs.DurationVar(&o.timeout, "timeout", time.Second, "a query unanswered after this long counts as lost")
	fs.IntVar(&o.batch, "batch", 32, "queries per sendmmsg, replies per recvmmsg (at most -window)")
	fs.BoolVar(&o.check, "check", false, "check replies: NOERROR, and the ECS option echoed")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for n := range strings.SplitSeq(*qname, ",") {
		if n = strings.TrimSpace(n); n != "" {
			o.qnames = append(o.qnames, dns.Fqdn(n))
		}
	}
	t, ok := dns.StringToType[strings.ToUpper(*qtype)]
	switch {
	case len(o.qnames) == 0:
		return nil, errors.New("-qname: no name")
	case !ok:
		return nil, fmt.Errorf("-qtype: unknown type %q", *qtype)
	case o.subnets < 0 || o.sources < 0:
		return nil, errors.New("-subnets and -sources must not be negative")
	case o.subnets > 0 && o.sources > 0:
		return nil, errors.New("-subnets and -sources exclude each other (sources send no ECS)")
	case o.duration <= 0 || o.max <= 0:
		return nil, errors.New("-duration and -max must be positive: every run is bounded in time and count")
	case o.window < 1 || o.window > 16384:
		return nil, errors.New("-window must be between 1 and 16384")
	case o.sockets < 1 || o.sockets > 4096:
		return nil, errors.New("-sockets must be between 1 and 4096")
	case o.sources > 1<<20:
		return nil, errors.New("-sources must be at most 1048576")
	case o.batch < 1 || o.batch > 1024:
		return nil, errors.New("-batch must be between 1 and 1024")
	case o.timeout <= 0:
		return nil, errors.New("-timeout must be positive")
	}
	o.qtype = t
	return o, nil
}

// loopbackServer resolves s and refuses anything outside 127.0.0.0/8 and ::1.
func loopbackServer(s string) (*net.UDPAddr, error) {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return nil, fmt.Errorf("-server %s: %v", s, err)
	}
	if net.ParseIP(host) == nil {
		return nil, fmt.Errorf("-server %s: want a literal loopback address", s)
	}
	a, err := net.ResolveUDPAddr("udp", s)
	if err != nil {
		return nil, fmt.Errorf("-server %s: %v", s, err)
	}
	if !a.IP.IsLoopback() {
		return nil, fmt.Errorf("-server %s: not a loopback address (127.0.0.0/8 or ::1)", s)
	}
	return a, nil
}

// excluded reports whether the /24 whose first three bytes are p (p < 2^24)
// lies in 0/8, 10/8, 127/8 or 224/3.
func excluded(p uint32) bool {
	a := p >> 16
	return a == 0 || a == 10 || a == 127 || a >= 224
}

// subnetList returns n distinct /24s, each as its first three address bytes
// (a<<16 | b<<8 | c), spread over the IPv4 unicast space: k = 0, 1, 2, ...
// goes through a fixed permutation of the 2^24 /24s (multiplication by an
// odd constant, then an xor, both bijective mod 2^24) and the excluded
// ranges are skipped.
func subnetList(n int) ([]uint32, error) {
	out := make([]uint32, 0, n)
	for k := uint32(0); k < 1<<24 && len(out) < n; k++ {
		p := (k*0x9E3779B1 ^ 0x5A5A5A) & 0xFFFFFF
		if !excluded(p) {
			out = append(out, p)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("-subnets %d: only %d /24s outside the excluded ranges", n, len(out))
	}
	return out, nil
}

// sourceAddr returns the i-th source address, 127.1.0.1 upward.
func sourceAddr(i int) net.IP {
	v := uint32(0x7F010001) + uint32(i)
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// buildPackets packs one query per (qname, subnet), subnet varying fastest,
// so that consecutive queries carry different subnets. Without subnets, one
// per qname, with a plain OPT record.
func buildPackets(o *options, subnets []uint32) ([][]byte, error) {
	n := max(len(subnets), 1)
	pkts := make([][]byte, 0, len(o.qnames)*n)
	for _, q := range o.qnames {
		for i := range n {
			m := new(dns.Msg)
			m.SetQuestion(q, o.qtype)
			m.RecursionDesired = false
			m.SetEdns0(1232, false)
			if len(subnets) > 0 {
				p := subnets[i]
				m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
					Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24,
					Address: net.IPv4(byte(p>>16), byte(p>>8), byte(p), 0).To4(),
				})
			}
			b, err := m.Pack()
			if err != nil {
				return nil, fmt.Errorf("-qname %s: %v", q, err)
			}
			pkts = append(pkts, b)
		}
	}
	return pkts, nil
}

// sender owns a window of outstanding queries and the 65,536 IDs: the
// slot of ID i holds the send time (ns since start, +1 so that 0 means
// free) and the packet it carried.
type sender struct {
	conns   []*net.UDPConn
	tok     chan struct{}
	sentAt  [65536]atomic.Int64
	pkt     [65536]atomic.Int32
	next    uint64 // sequence number of the next query; its ID is uint16(next)
	oldest  uint64 // no query older than this is outstanding
	sent    int64
	sendErr int64
	// The batch's arrays, made before the run (prepare).
	bufs, out [][]byte
	ids       []uint16
	pcs       []*batchConn
}

// prepare makes s's batch arrays, one batchConn per socket.
func (s *sender) prepare(batch int) error {
	s.bufs, s.out, s.ids = make([][]byte, batch), make([][]byte, batch), make([]uint16, batch)
	for i := range s.bufs {
		s.bufs[i] = make([]byte, 0, 4096)
	}
	for _, c := range s.conns {
		pc, err := newBatchConn(c, batch)
		if err != nil {
			return err
		}
		s.pcs = append(s.pcs, pc)
	}
	return nil
}

// reclaim frees the slots of queries sent before now-timeout (or, with
// force, the oldest one whatever its age), so their tokens come back.
func (s *sender) reclaim(now, timeout int64, force bool) {
	for s.oldest < s.next {
		slot := &s.sentAt[uint16(s.oldest)]
		t := slot.Load()
		if t != 0 && !force && now-t < timeout {
			return
		}
		if t != 0 && slot.CompareAndSwap(t, 0) {
			s.tok <- struct{}{}
		}
		s.oldest++
		force = false
	}
}

// loopMallocs is the number of heap allocations the whole process made
// while the last run's senders ran (for the test that the loops do not
// allocate per query).
var loopMallocs uint64

type receiver struct {
	s        *sender
	conn     *net.UDPConn
	received int64
	bad      int64
	last     int64 // ns since start of the last matched reply
	samples  []int64
	pc       *batchConn
	bufs     [][]byte // a batch's datagrams
	ns       []int    // and their lengths
}

func run(args []string, stdout io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	srv, err := loopbackServer(o.server)
	if err != nil {
		return err
	}
	if o.sources > 0 && srv.IP.To4() == nil {
		return fmt.Errorf("-server %s: -sources binds 127.x.y.z addresses and needs an IPv4 server", o.server)
	}
	var subnets []uint32
	if o.subnets > 0 {
		if subnets, err = subnetList(o.subnets); err != nil {
			return err
		}
	}
	if uint64(len(o.qnames))*uint64(max(len(subnets), 1)) > 1<<24 {
		return errors.New("-qname × -subnets: more than 16,777,216 packets; use fewer names")
	}
	pkts, err := buildPackets(o, subnets)
	if err != nil {
		return err
	}

	// Sockets and senders: with -subnets (or neither) one socket per
	// sender; with -sources N sockets, socket j served by sender j mod S.
	nsock, nsend := o.sockets, o.sockets
	if o.sources > 0 {
		nsock, nsend = o.sources, min(o.sockets, o.sources)
	}
	senders := make([]*sender, nsend)
	for i := range senders {
		senders[i] = &sender{tok: make(chan struct{}, o.window)}
		for range o.window {
			senders[i].tok <- struct{}{}
		}
	}
	var recvs []*receiver
	defer func() {
		for _, r := range recvs {
			r.conn.Close()
		}
	}()
	perRecv := max(1024, (1<<20)/nsock)
	// A receiver's batch: no more than its socket's share of the queries
	// in flight (with -sources 1024 sockets share them), so that the
	// buffers stay small.
	rb := min(o.batch, max(4, (o.window*nsend+nsock-1)/nsock))
	for j := range nsock {
		var laddr *net.UDPAddr
		if o.sources > 0 {
			laddr = &net.UDPAddr{IP: sourceAddr(j)}
		}
		c, err := net.DialUDP("udp", laddr, srv)
		if err != nil {
			return fmt.Errorf("socket %d: %v", j, err)
		}
		_ = c.SetReadBuffer(1 << 20)
		s := senders[j%nsend]
		s.conns = append(s.conns, c)
		r := &receiver{s: s, conn: c, samples: make([]int64, 0, perRecv), ns: make([]int, rb)}
		if r.pc, err = newBatchConn(c, rb); err != nil {
			return fmt.Errorf("socket %d: %v", j, err)
		}
		for range rb {
			r.bufs = append(r.bufs, make([]byte, 4096))
		}
		recvs = append(recvs, r)
	}
	for _, s := range senders {
		if err := s.prepare(o.batch); err != nil {
			return err
		}
	}

	start := time.Now()
	var rwg sync.WaitGroup
	for _, r := range recvs {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			r.loop(start, pkts, subnets, o.check)
		}()
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs0 := ms.Mallocs
	var claimed atomic.Int64
	var swg sync.WaitGroup
	timeout := int64(o.timeout)
	deadline := int64(o.duration)
	for _, s := range senders {
		swg.Add(1)
		go func() {
			defer swg.Done()
			s.loop(start, pkts, &claimed, o.max, deadline, timeout)
		}()
	}
	swg.Wait()
	sendEnd := int64(time.Since(start))
	runtime.ReadMemStats(&ms)
	loopMallocs = ms.Mallocs - mallocs0

	// Wait for the stragglers: until every token is back or -timeout.
	for waitEnd := time.Now().Add(o.timeout); time.Now().Before(waitEnd); {
		out := 0
		for _, s := range senders {
			out += o.window - len(s.tok)
		}
		if out == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, r := range recvs {
		r.conn.Close()
	}
	rwg.Wait()

	var sent, received, bad, sendErr int64
	last := sendEnd
	var samples []int64
	for _, s := range senders {
		sent += s.sent
		sendErr += s.sendErr
	}
	for _, r := range recvs {
		received += r.received
		bad += r.bad
		last = max(last, r.last)
		samples = append(samples, r.samples...)
	}
	slices.Sort(samples)
	pct := func(p float64) float64 {
		if len(samples) == 0 {
			return 0
		}
		i := min(int(p*float64(len(samples))), len(samples)-1)
		return float64(samples[i]) / 1e3
	}
	qps := 0.0
	if last > 0 {
		qps = float64(received) / (float64(last) / 1e9)
	}
	fmt.Fprintf(stdout, "qps=%.0f sent=%d received=%d lost=%d p50_us=%.0f p99_us=%.0f", qps, sent, received, sent-received, pct(0.50), pct(0.99))
	if o.check {
		fmt.Fprintf(stdout, " bad=%d", bad)
	}
	if sendErr > 0 {
		fmt.Fprintf(stdout, " send_errors=%d", sendErr)
	}
	fmt.Fprintln(stdout)
	return nil
}

// loop sends until the deadline or until max queries are claimed in all.
// Query k (counted over all senders) carries packet k mod len(pkts). It
// takes as many free window slots as there are, up to batch, and sends
// their queries in one sendmmsg (batchConn) on one of its
// sockets, the next socket for the next batch: a generator that makes a
// system call per query cannot keep a server busy that reads 32 at a time.
func (s *sender) loop(start time.Time, pkts [][]byte, claimed *atomic.Int64, maxQ, deadline, timeout int64) {
	batch := len(s.bufs)
	bufs, out, ids, pcs := s.bufs, s.out, s.ids, s.pcs
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	ci := 0
	for {
		now := int64(time.Since(start))
		if now >= deadline {
			return
		}
		select {
		case <-s.tok:
		default:
			got := false
			for !got {
				s.reclaim(int64(time.Since(start)), timeout, false)
				timer.Reset(2 * time.Millisecond)
				select {
				case <-s.tok:
					got = true
				case <-timer.C:
				}
				if !got && int64(time.Since(start)) >= deadline {
					return
				}
			}
		}
		n := 1
	more:
		for n < batch {
			select {
			case <-s.tok:
				n++
			default:
				break more
			}
		}
		k := claimed.Add(int64(n)) - int64(n)
		if k+int64(n) > maxQ {
			keep := int(max(0, maxQ-k))
			for range n - keep {
				s.tok <- struct{}{}
			}
			if n = keep; n == 0 {
				return
			}
		}
		now = int64(time.Since(start))
		cnt := 0
		for i := range n {
			if s.next-s.oldest >= 65536 {
				s.reclaim(0, timeout, true)
			}
			id := uint16(s.next)
			if s.sentAt[id].Load() != 0 { // only after a forced reclaim raced a reply
				s.tok <- struct{}{}
				continue
			}
			s.next++
			pi := int((k + int64(i)) % int64(len(pkts)))
			b := append(bufs[cnt][:0], pkts[pi]...)
			binary.BigEndian.PutUint16(b, id)
			bufs[cnt] = b
			s.pkt[id].Store(int32(pi))
			s.sentAt[id].Store(now + 1)
			out[cnt] = b
			ids[cnt] = id
			cnt++
		}
		pc := pcs[ci]
		if ci++; ci == len(pcs) {
			ci = 0
		}
		done := 0
		for done < cnt {
			m, err := pc.write(out[done:cnt])
			if err != nil || m == 0 {
				break
			}
			done += m
		}
		for _, id := range ids[done:cnt] {
			if s.sentAt[id].Swap(0) != 0 {
				s.tok <- struct{}{}
			}
			s.sendErr++
		}
		s.sent += int64(done)
	}
}

// loop reads replies until the socket is closed, up to batch at a time
// (recvmmsg). A reply counts when its ID is
// outstanding on its sender; with check it must also be a NOERROR
// response and, for an ECS query, echo the option's family, source prefix
// and address.
func (r *receiver) loop(start time.Time, pkts [][]byte, subnets []uint32, check bool) {
	pc, bufs, ns := r.pc, r.bufs, r.ns
	var n uint32
	for {
		got, err := pc.read(bufs, ns)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ECONNREFUSED from an ICMP error
		}
		now := int64(time.Since(start))
		for i := range got {
			buf := bufs[i][:ns[i]]
			if len(buf) < 12 || buf[2]&0x80 == 0 {
				r.bad++
				continue
			}
			id := binary.BigEndian.Uint16(buf)
			t := r.s.sentAt[id].Swap(0)
			if t == 0 {
				continue // late (already counted lost) or not ours
			}
			pi := r.s.pkt[id].Load()
			r.s.tok <- struct{}{}
			r.received++
			r.last = now
			if n++; n%16 == 0 && len(r.samples) < cap(r.samples) {
				r.samples = append(r.samples, now-(t-1))
			}
			if check && !replyOK(buf, pkts[pi], len(subnets) > 0) {
				r.bad++
			}
		}
	}
}

// replyOK checks a reply against the query q: same ID, QR set, NOERROR,
// and with ecs an ECS option in the reply's OPT whose family, source
// prefix and address equal the query's.
func replyOK(b, q []byte, ecs bool) bool {
	if len(b) < 12 || b[2]&0x80 == 0 || b[3]&0x0F != 0 {
		return false
	}
	if !ecs {
		return true
	}
	want := ecsOption(q)
	got := ecsOption(b)
	return want != nil && got != nil && len(got) == len(want) &&
		got[0] == want[0] && got[1] == want[1] && got[2] == want[2] && string(got[4:]) == string(want[4:])
}

// ecsOption returns the data of the ECS option in message b's OPT record,
// or nil. It walks the sections without unpacking (no allocation).
func ecsOption(b []byte) []byte {
	if len(b) < 12 {
		return nil
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	rr := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	off := 12
	var ok bool
	for range qd {
		if off, ok = skipName(b, off); !ok || off+4 > len(b) {
			return nil
		}
		off += 4
	}
	for i := range rr + ar {
		if off, ok = skipName(b, off); !ok || off+10 > len(b) {
			return nil
		}
		typ := binary.BigEndian.Uint16(b[off:])
		rdlen := int(binary.BigEndian.Uint16(b[off+8:]))
		off += 10
		if off+rdlen > len(b) {
			return nil
		}
		if i >= rr && typ == dns.TypeOPT {
			for o := off; o+4 <= off+rdlen; {
				code := binary.BigEndian.Uint16(b[o:])
				l := int(binary.BigEndian.Uint16(b[o+2:]))
				if o+4+l > off+rdlen {
					return nil
				}
				if code == dns.EDNS0SUBNET && l >= 4 {
					return b[o+4 : o+4+l]
				}
				o += 4 + l
			}
			return nil
		}
		off += rdlen
	}
	return nil
}

func skipName(b []byte, off int) (int, bool) {
	for off < len(b) {
		l := b[off]
		switch {
		case l == 0:
			return off + 1, true
		case l&0xC0 == 0xC0:
			return off + 2, off+2 <= len(b)
		case l&0xC0 != 0:
			return 0, false
		}
		off += 1 + int(l)
	}
	return 0, false
}
