package main

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestSubnetList(t *testing.T) {
	const n = 65536
	l, err := subnetList(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != n {
		t.Fatalf("got %d subnets, want %d", len(l), n)
	}
	seen := make(map[uint32]bool, n)
	firsts := make(map[uint32]bool)
	for _, p := range l {
		if p >= 1<<24 {
			t.Fatalf("%#x is not a /24 prefix", p)
		}
		if a := p >> 16; a == 0 || a == 10 || a == 127 || a >= 224 {
			t.Fatalf("%d.%d.%d.0/24 is in an excluded range", p>>16, p>>8&255, p&255)
		}
		if seen[p] {
			t.Fatalf("%d.%d.%d.0/24 twice", p>>16, p>>8&255, p&255)
		}
		seen[p] = true
		firsts[p>>16] = true
	}
	// Spread: every allowed first byte (256 - 0, 10, 127, 224..255) occurs.
	if len(firsts) != 256-3-32 {
		t.Errorf("subnets cover %d first bytes, want %d", len(firsts), 256-3-32)
	}
	if _, err := subnetList(1 << 24); err == nil {
		t.Error("subnetList(2^24) succeeded, but the excluded ranges leave fewer")
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, s := range []string{"192.0.2.1:53", "[2001:db8::1]:53", "0.0.0.0:53", "localhost:53"} {
		var out bytes.Buffer
		err := run([]string{"-server", s, "-duration", "100ms", "-max", "10"}, &out)
		if err == nil || !strings.Contains(err.Error(), "-server "+s) {
			t.Errorf("-server %s: err = %v, want a refusal", s, err)
		}
	}
	if err := run([]string{"-server", "127.0.0.1:53", "-max", "0"}, new(bytes.Buffer)); err == nil {
		t.Error("-max 0 accepted: runs must be bounded in count")
	}
}

// echoServer answers every query NOERROR with one A record and echoes the
// query's OPT, ECS option included (scope set to the source prefix).
func echoServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		if opt := r.IsEdns0(); opt != nil {
			o := m.SetEdns0(1232, false).IsEdns0()
			for _, e := range opt.Option {
				if s, ok := e.(*dns.EDNS0_SUBNET); ok {
					o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: s.Family, SourceNetmask: s.SourceNetmask, SourceScope: s.SourceNetmask, Address: s.Address})
				}
			}
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func parseLine(t *testing.T, line string) map[string]float64 {
	t.Helper()
	v := map[string]float64{}
	for f := range strings.FieldsSeq(line) {
		k, x, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("bad field %q in %q", f, line)
		}
		var n float64
		if _, err := fmt.Sscan(x, &n); err != nil {
			t.Fatalf("bad number in %q: %v", f, err)
		}
		v[k] = n
	}
	for _, k := range []string{"qps", "sent", "received", "lost", "p50_us", "p99_us", "bad"} {
		if _, ok := v[k]; !ok {
			t.Fatalf("no %s= in %q", k, line)
		}
	}
	return v
}

func TestShortRun(t *testing.T) {
	addr := echoServer(t)
	for _, mode := range [][]string{{"-subnets", "1000"}, {"-sources", "16"}} {
		t.Run(mode[0], func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"-server", addr, "-qname", "h0.bench.example,h1.bench.example",
				"-duration", "500ms", "-max", "2000", "-window", "8", "-check"}, mode...)
			t0 := time.Now()
			if err := run(args, &out); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(t0); d > 10*time.Second {
				t.Errorf("run took %v: not bounded by -duration and -timeout", d)
			}
			v := parseLine(t, strings.TrimSpace(out.String()))
			if v["sent"] < 1 || v["sent"] > 2000 {
				t.Errorf("sent = %v, want 1..2000 (-max 2000)", v["sent"])
			}
			if v["received"] < 0.9*v["sent"] {
				t.Errorf("received %v of %v sent, want at least 90%%: %s", v["received"], v["sent"], out.String())
			}
			if v["lost"] != v["sent"]-v["received"] {
				t.Errorf("lost = %v, want sent - received: %s", v["lost"], out.String())
			}
			if v["bad"] != 0 {
				t.Errorf("bad = %v: replies failed the check: %s", v["bad"], out.String())
			}
		})
	}
}

// rawEcho answers each query with the query itself, QR set: the OPT
// record and its ECS option come back unchanged. It does not allocate per
// packet, so a run against it shows the load generator's allocations.
func rawEcho(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n >= 12 {
				buf[2] |= 0x80
				_, _ = c.WriteToUDPAddrPort(buf[:n], from)
			}
		}
	}()
	return c.LocalAddr().String()
}

func TestNoAllocationPerQuery(t *testing.T) {
	addr := rawEcho(t)
	for _, mode := range [][]string{{"-subnets", "4096"}, {"-sources", "64"}} {
		var out bytes.Buffer
		args := append([]string{"-server", addr, "-duration", "2s", "-max", "20000", "-window", "16", "-check"}, mode...)
		if err := run(args, &out); err != nil {
			t.Fatal(err)
		}
		v := parseLine(t, strings.TrimSpace(out.String()))
		if v["received"] < 0.9*v["sent"] || v["bad"] != 0 {
			t.Fatalf("%s: %s", mode[0], out.String())
		}
		// Goroutine start-up and timers allocate a little; per query
		// nothing may.
		t.Logf("%s: %d allocations while sending %v queries", mode[0], loopMallocs, v["sent"])
		if per := float64(loopMallocs) / v["sent"]; per > 0.05 {
			t.Errorf("%s: %d allocations for %v queries (%.3f per query), want none per query", mode[0], loopMallocs, v["sent"], per)
		}
	}
}

// TestCheckCatchesMissingEcho: replies that drop the ECS option are bad.
func TestCheckCatchesMissingEcho(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("h0.bench.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(1, 2, 3, 0).To4()})
	qb, _ := q.Pack()
	r := new(dns.Msg)
	r.SetReply(q)
	r.SetEdns0(1232, false)
	rb, _ := r.Pack()
	if replyOK(rb, qb, true) {
		t.Error("reply without ECS echo passed the check")
	}
	r.IsEdns0().Option = append(r.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, SourceScope: 16, Address: net.IPv4(1, 2, 3, 0).To4()})
	rb, _ = r.Pack()
	if !replyOK(rb, qb, true) {
		t.Error("reply with the ECS echo failed the check")
	}
	r.Rcode = dns.RcodeRefused
	rb, _ = r.Pack()
	if replyOK(rb, qb, true) {
		t.Error("REFUSED passed the check")
	}
}
