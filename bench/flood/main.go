// Command flood is the load of the rate-limiting bench (bench/flood.sh):
// a reflection-style flood of one question over UDP from many loopback
// source addresses, with a legitimate client inside the flooded /24 that
// asks the same question as a resolver would (UDP, retries on timeout,
// TCP when the reply is truncated). It reports the bytes the server sent
// for the bytes it was sent (bytes out ÷ bytes in), and how many of the
// legitimate client's questions were answered. Loopback only; bounded in
// count and time.
//
//	go run ./bench/flood -server 127.0.0.1:25351 -sources 10000 -qps 8000 -duration 10s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

type result struct {
	Server        string  `json:"server"`
	Sources       int     `json:"sources"`
	Prefixes      int     `json:"prefixes"`
	QPS           int     `json:"qps"`
	Sent          int64   `json:"sent"`
	BytesIn       int64   `json:"bytes_in"`
	Replies       int64   `json:"replies"`
	Full          int64   `json:"full"`
	Truncated     int64   `json:"truncated"`
	BytesOut      int64   `json:"bytes_out"`
	Ratio         float64 `json:"out_per_in"`
	LegitAsked    int     `json:"legit_asked"`
	LegitResolved int     `json:"legit_resolved"`
	LegitViaTCP   int     `json:"legit_via_tcp"`
	LegitTries    []int   `json:"legit_tries"` // [k]: questions answered at the (k+1)th try
}

func main() {
	server := flag.String("server", "127.0.0.1:25351", "server address (UDP and TCP), loopback only")
	sources := flag.Int("sources", 1, "source addresses of the flood (127.100.P.H, at most 250 per /24)")
	qps := flag.Int("qps", 200, "flood queries per second, all sources together")
	dur := flag.Duration("duration", 10*time.Second, "flood duration (at most 60s)")
	name := flag.String("name", "h1.bench.example.", "the flooded question's name")
	qtype := flag.String("type", "A", "the flooded question's type")
	legit := flag.Int("legit", 100, "questions the legitimate client asks during the flood")
	tries := flag.Int("tries", 8, "legitimate client: UDP tries per question")
	timeout := flag.Duration("timeout", 250*time.Millisecond, "legitimate client: UDP timeout per try")
	withCookie := flag.Bool("cookie", false, "legitimate client: send DNS cookies (RFC 7873), the server cookie of the last reply back")
	flag.Parse()
	if *dur > time.Minute || *sources < 1 || *sources > 60000 || *qps < 1 || *qps > 200000 {
		fmt.Fprintln(os.Stderr, "flood: duration at most 60s, 1..60000 sources, 1..200000 qps")
		os.Exit(2)
	}
	srv, err := netip.ParseAddrPort(*server)
	if err != nil || !srv.Addr().IsLoopback() {
		fmt.Fprintln(os.Stderr, "flood: -server must be a loopback address:port")
		os.Exit(2)
	}
	qt := dns.StringToType[*qtype]
	res, err := run(srv, *sources, *qps, *dur, dns.Fqdn(*name), qt, *legit, *tries, *timeout, *withCookie)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

// source returns the i-th flood source address: 250 hosts per /24.
func source(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 100 + byte(i/250/256), byte(i / 250 % 256), byte(1 + i%250)})
}

func run(srv netip.AddrPort, sources, qps int, dur time.Duration, name string, qtype uint16, legit, tries int, timeout time.Duration, withCookie bool) (*result, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	m.RecursionDesired = false
	pkt, err := m.Pack()
	if err != nil {
		return nil, err
	}
	res := &result{Server: srv.String(), Sources: sources, Prefixes: (sources + 249) / 250, QPS: qps}
	conns := make([]*net.UDPConn, sources)
	for i := range conns {
		c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(source(i), 0)), net.UDPAddrFromAddrPort(srv))
		if err != nil {
			return nil, fmt.Errorf("source %d (%v): %w", i, source(i), err)
		}
		defer c.Close()
		conns[i] = c
	}
	end := time.Now().Add(dur)
	var replies, full, tc, bytesOut atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		_ = c.SetReadDeadline(end.Add(time.Second))
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65535)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				replies.Add(1)
				bytesOut.Add(int64(n))
				if n >= 4 && buf[2]&2 != 0 {
					tc.Add(1)
				} else {
					full.Add(1)
				}
			}
		}()
	}

	// The legitimate client, from the first flooded /24.
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	lres := make(chan [4]int, 1)
	go func() { lres <- legitimate(ctx, srv, name, qtype, legit, tries, timeout, dur, withCookie, res) }()

	// The flood: every 10 ms, its share of the queries, round-robin over
	// the sources.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var sent int64
	next := 0
	for now := range tick.C {
		if !now.Before(end) {
			break
		}
		due := int64(float64(qps) * now.Sub(start).Seconds())
		for ; sent < due; sent++ {
			binaryID(pkt, uint16(sent))
			if _, err := conns[next].Write(pkt); err == nil {
				res.BytesIn += int64(len(pkt))
			}
			if next++; next == len(conns) {
				next = 0
			}
		}
	}
	res.Sent = sent
	l := <-lres
	res.LegitAsked, res.LegitResolved, res.LegitViaTCP = l[0], l[1], l[2]
	wg.Wait()
	res.Replies, res.Full, res.Truncated, res.BytesOut = replies.Load(), full.Load(), tc.Load(), bytesOut.Load()
	if res.BytesIn > 0 {
		res.Ratio = float64(res.BytesOut) / float64(res.BytesIn)
	}
	return res, nil
}

func binaryID(pkt []byte, id uint16) { pkt[0], pkt[1] = byte(id>>8), byte(id) }

// legitimate asks the question n times, spread over dur, from an address
// of the first flooded /24 (127.100.0.251), as a resolver: each question
// on its own (a resolver has many in flight), with tries UDP queries of
// timeout each, and TCP when a reply is truncated. It returns the
// questions asked, answered, and answered over TCP.
func legitimate(ctx context.Context, srv netip.AddrPort, name string, qtype uint16, n, tries int, timeout, dur time.Duration, withCookie bool, res *result) [4]int {
	src := netip.AddrFrom4([4]byte{127, 100, 0, 251})
	udp := &dns.Client{Net: "udp", Timeout: timeout, Dialer: &net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}}
	tcp := &dns.Client{Net: "tcp", Timeout: time.Second, Dialer: &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}}
	byTry := make([]atomic.Int64, tries)
	const clientCookie = "24a5ac1f7c2d9e03" // 8 bytes, in hex
	var serverCookie atomic.Pointer[string]
	var asked, resolved, viaTCP atomic.Int64
	var wg sync.WaitGroup
	gap := dur * 8 / 10 / time.Duration(n+1) // asked before the flood ends
	t := time.NewTicker(gap)
	defer t.Stop()
	for range n {
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		asked.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := new(dns.Msg)
			m.SetQuestion(name, qtype)
			m.SetEdns0(1232, false)
			for try := range tries {
				if withCookie {
					// The client cookie, then the server cookie of the
					// last reply that had one (none at first).
					c := &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: clientCookie}
					if sc := serverCookie.Load(); sc != nil {
						c.Cookie += *sc
					}
					m.IsEdns0().Option = []dns.EDNS0{c}
				}
				r, _, err := udp.Exchange(m, srv.String())
				if err != nil {
					continue // dropped: try again
				}
				if withCookie {
					if o := r.IsEdns0(); o != nil {
						for _, e := range o.Option {
							if c, ok := e.(*dns.EDNS0_COOKIE); ok && len(c.Cookie) > len(clientCookie) {
								sc := c.Cookie[len(clientCookie):]
								serverCookie.Store(&sc)
							}
						}
					}
					if r.Rcode == dns.RcodeBadCookie {
						continue // RFC 7873 section 5.3: again, with the server cookie
					}
				}
				if r.Truncated {
					if r, _, err = tcp.Exchange(m, srv.String()); err != nil {
						return
					}
					viaTCP.Add(1)
				}
				if r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
					resolved.Add(1)
					byTry[try].Add(1)
				}
				return
			}
		}()
	}
	wg.Wait()
	res.LegitTries = make([]int, tries)
	for i := range byTry {
		res.LegitTries[i] = int(byTry[i].Load())
	}
	return [4]int{int(asked.Load()), int(resolved.Load()), int(viaTCP.Load())}
}
