package dnslb

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
)

// startTCPLimited serves testdata/dnslb.toml on listen (default
// 127.0.0.1:0 and 127.0.0.2:0) with the server settings mod makes, and
// returns the server and its TCP addresses.
func startTCPLimited(t *testing.T, mod func(*config.ServerConfig)) (*Server, []string) {
	t.Helper()
	cfg, err := config.Load("testdata/dnslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Listen = []string{"127.0.0.1:0", "127.0.0.2:0"}
	mod(&cfg.Server)
	srv := startConfig(t, cfg)
	var addrs []string
	for _, a := range srv.Addrs() {
		if a.Network() == "tcp" {
			addrs = append(addrs, a.String())
		}
	}
	return srv, addrs
}

// dialFrom connects to addr from the loopback address 127.0.<hi>.<lo>.
func dialFrom(addr string, i int) (net.Conn, error) {
	d := net.Dialer{Timeout: time.Second,
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/250), byte(1+i%250))}}
	return d.Dial("tcp", addr)
}

// askTCP is a new client: it connects, sends one query and reads the
// reply, within budget; it returns the time that took.
func askTCP(addr string, budget time.Duration) (time.Duration, error) {
	start := time.Now()
	d := net.Dialer{Timeout: budget}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return time.Since(start), err
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(budget))
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	co := &dns.Conn{Conn: c}
	if err := co.WriteMsg(m); err != nil {
		return time.Since(start), err
	}
	r, err := co.ReadMsg()
	if err != nil {
		return time.Since(start), err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return time.Since(start), fmt.Errorf("reply %v", r)
	}
	return time.Since(start), nil
}

// attack runs n attackers (each in its loop until stop) and, meanwhile,
// 8 new clients one after another on addrs (alternately); every client
// must be answered within 1s.
func underAttack(t *testing.T, addrs []string, n int, attacker func(i int, stop <-chan struct{})) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { attacker(i, stop) })
	}
	time.Sleep(500 * time.Millisecond) // every attacker connected, the limit reached
	var worst time.Duration
	for i := range 8 {
		d, err := askTCP(addrs[i%len(addrs)], time.Second)
		if err != nil {
			t.Errorf("new client %d: %v after %v", i, err, d)
		}
		worst = max(worst, d)
		time.Sleep(150 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d attackers: the slowest of 8 new clients answered in %v", n, worst)
}

func tcpCount(t *testing.T, srv *Server, vec string, reason string) float64 {
	t.Helper()
	switch vec {
	case "refused":
		return metricValue(t, srv, `dnslb_tcp_refused_total{reason="`+reason+`"}`)
	default:
		return metricValue(t, srv, `dnslb_tcp_closed_total{reason="`+reason+`"}`)
	}
}

// TestTCPSlowSenders: 80 clients (of 20 allowed) that send one byte every
// 200 ms and connect again when closed do not keep a new client out, and
// are closed (evicted, or at tcp_message_timeout), never served forever.
func TestTCPSlowSenders(t *testing.T) {
	srv, addrs := startTCPLimited(t, func(sc *config.ServerConfig) {
		sc.MaxTCPConnections = 20
		sc.TCPMessageTimeout.Duration = time.Second
	})
	var closed atomic.Int64
	underAttack(t, addrs, 80, func(i int, stop <-chan struct{}) {
		q := tcpQuery(t, uint16(i), "www.example.org.", dns.TypeA)
		for {
			c, err := dialFrom(addrs[i%2], i)
			if err != nil {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					continue
				}
			}
			for _, b := range q[:len(q)-1] { // never the whole query
				if _, err := c.Write([]byte{b}); err != nil {
					break
				}
				select {
				case <-stop:
					c.Close()
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
			closed.Add(1)
			c.Close()
		}
	})
	ev, mt := tcpCount(t, srv, "closed", "evicted"), tcpCount(t, srv, "closed", "message_timeout")
	t.Logf("closed by the server: %v evicted, %v at the message timeout; %d writes failed", ev, mt, closed.Load())
	if ev+mt < 60 {
		t.Errorf("only %v slow senders closed (evicted %v, message_timeout %v)", ev+mt, ev, mt)
	}
}

// TestTCPIdleReconnecting: 30 idle clients (of 20 allowed) that connect
// again as soon as they are closed do not keep new clients out.
func TestTCPIdleReconnecting(t *testing.T) {
	srv, addrs := startTCPLimited(t, func(sc *config.ServerConfig) { sc.MaxTCPConnections = 20 })
	var conns atomic.Int64
	underAttack(t, addrs, 30, func(i int, stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := dialFrom(addrs[i%2], i)
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			conns.Add(1)
			go func() { <-stop; c.Close() }()
			_, _ = io.Copy(io.Discard, c) // until the server closes it
			c.Close()
		}
	})
	ev := tcpCount(t, srv, "closed", "evicted")
	t.Logf("%d attacker connections, %v evicted, %v refused", conns.Load(), ev, tcpCount(t, srv, "refused", "limit"))
	if ev < 10 {
		t.Errorf("%v evicted, want at least 10", ev)
	}
}

// TestTCPIdleMany: 50 idle connections (of 20 allowed), never closed by
// their clients: the new client does not wait behind them.
func TestTCPIdleMany(t *testing.T) {
	srv, addrs := startTCPLimited(t, func(sc *config.ServerConfig) { sc.MaxTCPConnections = 20 })
	underAttack(t, addrs, 50, func(i int, stop <-chan struct{}) {
		c, err := dialFrom(addrs[i%2], i)
		if err != nil {
			return
		}
		<-stop
		c.Close()
	})
	if ev := tcpCount(t, srv, "closed", "evicted"); ev < 30 {
		t.Errorf("%v evicted, want at least 30", ev)
	}
}

// closedConns returns how many of cs the server closes within d.
func closedConns(cs []net.Conn, d time.Duration) int {
	var n atomic.Int64
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(d))
			if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return int(n.Load())
}

// TestTCPTotalLimit: max_tcp_connections counts the connections of every
// listen address together.
func TestTCPTotalLimit(t *testing.T) {
	srv, addrs := startTCPLimited(t, func(sc *config.ServerConfig) { sc.MaxTCPConnections = 4 })
	var old []net.Conn
	for i := range 4 {
		c, err := net.Dial("tcp", addrs[i%2])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		old = append(old, c)
	}
	time.Sleep(150 * time.Millisecond) // three times serve.tcpEvictAge
	if d, err := askTCP(addrs[0], time.Second); err != nil {
		t.Fatalf("fifth client: %v after %v", err, d)
	}
	// One of the four (two on each address) was closed for it.
	if n := closedConns(old, time.Second); n != 1 {
		t.Errorf("%d of the 4 idle connections closed, want 1", n)
	}
	if ev := tcpCount(t, srv, "closed", "evicted"); ev != 1 {
		t.Errorf("%v evicted, want 1", ev)
	}
}

// TestTCPPerClient: a client address gets max_tcp_per_client connections;
// more are refused at once, while other clients are served.
func TestTCPPerClient(t *testing.T) {
	srv, addrs := startTCPLimited(t, func(sc *config.ServerConfig) { sc.MaxTCPPerClient = 3 })
	var cs []net.Conn
	refusedAtDial := 0
	start := time.Now()
	for i := range 4 {
		c, err := dialFrom(addrs[i%2], 7)
		if err != nil {
			refusedAtDial++ // the reset can come before the dial returns
			continue
		}
		defer c.Close()
		cs = append(cs, c)
	}
	// One of the four (whichever the server accepted last) is reset at once.
	if n := refusedAtDial + closedConns(cs, time.Second); n != 1 {
		t.Errorf("%d of 4 connections of one client refused, want 1", n)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("refused after %v", d)
	}
	if d, err := askTCP(addrs[1], time.Second); err != nil {
		t.Errorf("another client: %v after %v", err, d)
	}
	if n := tcpCount(t, srv, "refused", "per_client"); n != 1 {
		t.Errorf("refused per_client %v, want 1", n)
	}
}

// TestTCPTimeouts: the first byte, a whole message (whatever bytes of it
// come) and the time between messages each have their deadline.
func TestTCPTimeouts(t *testing.T) {
	srv, addrs := startTCPLimited(t, func(sc *config.ServerConfig) {
		sc.TCPFirstByteTimeout.Duration = 300 * time.Millisecond
		sc.TCPMessageTimeout.Duration = 500 * time.Millisecond
		sc.TCPIdleTimeout.Duration = 700 * time.Millisecond
	})
	closedAfter := func(c net.Conn, start time.Time) time.Duration {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, err := c.Read(make([]byte, 512)); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("read: %v", err)
				}
				return time.Since(start)
			}
		}
	}
	// Silent.
	c, err := net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := closedAfter(c, time.Now()); d < 250*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("silent connection closed after %v, want about 300ms", d)
	}
	// A byte every 100 ms: closed at the message timeout all the same.
	c2, err := net.Dial("tcp", addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	start := time.Now()
	go func() {
		for _, b := range tcpQuery(t, 1, "www.example.org.", dns.TypeA)[:20] {
			if _, err := c2.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	if d := closedAfter(c2, start); d < 450*time.Millisecond || d > 1700*time.Millisecond {
		t.Errorf("slow message closed after %v, want about 500ms", d)
	}
	// Idle after an answer.
	c3, err := net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if _, err := c3.Write(tcpQuery(t, 2, "www.example.org.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	readTCPReply(t, c3)
	if d := closedAfter(c3, time.Now()); d < 600*time.Millisecond || d > 2*time.Second {
		t.Errorf("idle connection closed after %v, want about 700ms", d)
	}
	for _, r := range []string{"first_byte_timeout", "message_timeout", "idle_timeout"} {
		if n := tcpCount(t, srv, "closed", r); n != 1 {
			t.Errorf("closed %s: %v, want 1", r, n)
		}
	}
}

// TestTCPKeepalive: replies with EDNS over TCP carry edns-tcp-keepalive
// with the idle timeout (RFC 7828), from the memo too and with ECS; over
// UDP never.
func TestTCPKeepalive(t *testing.T) {
	_, addrs := startTCPLimited(t, func(sc *config.ServerConfig) { sc.TCPIdleTimeout.Duration = 7 * time.Second })
	keepalive := func(r *dns.Msg) (uint16, int) {
		o := r.IsEdns0()
		if o == nil {
			return 0, -1
		}
		n := 0
		var v uint16
		for _, e := range o.Option {
			if k, ok := e.(*dns.EDNS0_TCP_KEEPALIVE); ok {
				n++
				v = k.Timeout
			}
		}
		return v, n
	}
	for _, ecs := range []bool{true, false} { // ECS first: after a query without ECS the memo drops the echo (a bug of its own, UDP too)
		for i := range 3 { // the second and third come from the memo
			m := new(dns.Msg)
			m.SetQuestion("www.example.org.", dns.TypeA)
			m.SetEdns0(1232, false)
			if ecs {
				o := m.IsEdns0()
				o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(192, 0, 2, 0).To4()})
			}
			r := exchange(t, addrs[0], "tcp", m)
			if v, n := keepalive(r); n != 1 || v != 70 {
				t.Errorf("tcp (ecs %v, query %d): %d keepalive options, timeout %d; want 1, 70\n%v", ecs, i, n, v, r)
			}
			if ecs && r.IsEdns0() != nil {
				var got bool
				for _, e := range r.IsEdns0().Option {
					_, ok := e.(*dns.EDNS0_SUBNET)
					got = got || ok
				}
				if !got {
					t.Errorf("tcp (ecs, query %d): no ECS echoed: %v", i, r)
				}
			}
			if v, n := keepalive(exchange(t, addrs[0], "udp", m)); n > 0 {
				t.Errorf("udp: keepalive %d", v)
			}
		}
	}
	// Without EDNS: no OPT record at all.
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	if r := exchange(t, addrs[0], "tcp", m); r.IsEdns0() != nil {
		t.Errorf("reply without EDNS asked has %v", r.IsEdns0())
	}
}
