package dnslb

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
)

// rawExchange sends pkt over UDP to addr and returns the reply, or nil
// when none comes within wait.
func rawExchange(t testing.TB, addr string, pkt []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func TestServeUDPMalformed(t *testing.T) {
	_, addr := startServer(t, "testdata/dnslb.toml")
	q := new(dns.Msg)
	q.SetQuestion("www.example.org.", dns.TypeA)
	q.Id = 0x1234
	good, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	resp := q.Copy()
	resp.Response = true
	respPkt, err := resp.Pack()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		pkt     []byte
		formerr bool // else: no reply at all
	}{
		{"short header", good[:11], false},
		{"response", respPkt, false},
		{"header only, one question announced", good[:12], true},
		{"cut in the question", good[:20], true},
		{"compression pointer loop", append(append([]byte{}, good[:12]...), 0xc0, 12, 0, 1, 0, 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait := 2 * time.Second
			if !tc.formerr {
				wait = 300 * time.Millisecond
			}
			b := rawExchange(t, addr, tc.pkt, wait)
			if !tc.formerr {
				if b != nil {
					t.Fatalf("got a %d-byte reply, want none", len(b))
				}
				return
			}
			r := new(dns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Fatalf("reply does not unpack: %v", err)
			}
			if r.Id != 0x1234 || !r.Response || r.Rcode != dns.RcodeFormatError {
				t.Fatalf("reply id %#x qr %v rcode %s, want id 0x1234, qr, FORMERR", r.Id, r.Response, dns.RcodeToString[r.Rcode])
			}
		})
	}
	// The server still answers after all that.
	r := exchange(t, addr, "udp", q)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Fatalf("after malformed packets: rcode %s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

// runQuiet runs the test config's server on 127.0.0.1:0 without logging
// and returns its address.
func runQuiet(tb testing.TB) string {
	tb.Helper()
	srv, stop := launch(tb, "testdata/dnslb.toml", nil)
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	return srv.Addrs()[0].String()
}

// TestServeUDPSockets checks that every socket of the group is served and
// that Run closes them all and returns.
func TestServeUDPSockets(t *testing.T) {
	srv, stop := launch(t, "testdata/dnslb.toml", nil)
	addr := srv.Addrs()[0].String()
	// Distinct source ports hash to different sockets of the group.
	for i := range 4 * runtime.GOMAXPROCS(0) {
		q := new(dns.Msg)
		q.SetQuestion("mail.example.org.", dns.TypeA)
		if r := exchange(t, addr, "udp", q); r.Rcode != dns.RcodeSuccess {
			t.Fatalf("query %d: rcode %s", i, dns.RcodeToString[r.Rcode])
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The port is free again: nothing still holds a socket.
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("port still bound after Run returned: %v", err)
	}
	pc.Close()
}

func newTestWorker(tb testing.TB) *udpWorker {
	tb.Helper()
	return newConfigWorker(tb, "testdata/dnslb.toml")
}

// newConfigServer is a server made (not started) from the config at path.
func newConfigServer(tb testing.TB, path string) *Server {
	tb.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// newConfigWorker is a serving goroutine's worker (with its caches) for
// a server of its own, made from the config at path.
func newConfigWorker(tb testing.TB, path string) *udpWorker {
	tb.Helper()
	return newUDPWorker(newConfigServer(tb, path))
}

var testClient = netip.MustParseAddrPort("[::ffff:192.0.2.7]:5353")

// answerMsg answers req from c as the serving path does (decide, encode),
// without the memo, and returns the reply unpacked (nil for no reply).
func answerMsg(tb testing.TB, srv *Server, req *dns.Msg, c answer.Client) *dns.Msg {
	tb.Helper()
	pkt, err := req.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	w := newUDPWorker(srv)
	w.ans.SetMemo(false)
	from := c.Addr
	if !from.IsValid() {
		from = testClient
	}
	out := w.ans.Answer(pkt, from, make([]byte, 65535), c.TCP, time.Now(), nil)
	if out == nil {
		return nil
	}
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		tb.Fatalf("reply to %v does not unpack: %v", req, err)
	}
	return m
}

// FuzzServeUDPPacket feeds arbitrary datagrams to the UDP packet path:
// nothing may panic, and every reply unpacks, is a response with the
// query's ID and fits the UDP limits.
func FuzzServeUDPPacket(f *testing.F) {
	w := newTestWorker(f)
	for _, b := range seedQueries(f) {
		f.Add(b)
		f.Add(b[:len(b)-3])
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		out := w.answer(pkt, testClient, w.outs[0])
		if out == nil {
			return
		}
		if len(pkt) < 12 {
			t.Fatalf("reply to a %d-byte packet", len(pkt))
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		if !r.Response || r.Id != uint16(pkt[0])<<8|uint16(pkt[1]) {
			t.Fatalf("reply id %#x qr %v to query id %#x", r.Id, r.Response, uint16(pkt[0])<<8|uint16(pkt[1]))
		}
		if len(out) > 4096 {
			t.Fatalf("UDP reply of %d bytes", len(out))
		}
	})
}

// BenchmarkServeUDP sends queries over loopback to a running server, 32
// in flight, and reports the time per answered query. The client's own
// work is included, so this bounds the server's cost from above.
func BenchmarkServeUDP(b *testing.B) {
	addr := runQuiet(b)
	c, err := net.Dial("udp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := new(dns.Msg)
	req.SetQuestion("www.example.org.", dns.TypeA)
	pkt, err := req.Pack()
	if err != nil {
		b.Fatal(err)
	}
	const window = 32
	buf := make([]byte, 4096)
	inflight := 0
	send := func() {
		if _, err := c.Write(pkt); err != nil {
			b.Fatal(err)
		}
		inflight++
	}
	b.ReportAllocs()
	for b.Loop() {
		for inflight < window {
			send()
		}
		// A lost datagram is given up after the deadline, so the
		// benchmark always ends.
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(buf); err != nil {
			b.Logf("read: %v", err)
		}
		inflight--
	}
}

// TestWireCache answers the same queries, in the same order, through a
// worker with the reply cache and one without: every reply must be the
// same bytes (rotation included), whatever the case of the name, EDNS
// and the ID.
func TestWireCache(t *testing.T) {
	cached, plain := newTestWorker(t), newTestWorker(t)
	plain.ans.SetMemo(false)
	type query struct {
		name  string
		qtype uint16
		edns  int // 0: none, else the buffer size
		do    bool
	}
	var qs []query
	for _, name := range []string{"www.example.org.", "WWW.example.ORG.", "mail.example.org.",
		"nope.example.org.", "a.sub.example.org.", "x.w.example.org.", "api.example.org.",
		"chain.Example.org.", "a.dn.example.org.", "example.org.", "big.example.org.",
		"sub.example.org.", "child.example.org.", "x.cn.example.org.", "example.com."} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeMX, dns.TypeTXT, dns.TypeDS, dns.TypeANY} {
			qs = append(qs, query{name, qtype, 0, false}, query{name, qtype, 1232, true}, query{name, qtype, 512, false})
		}
	}
	id := uint16(0)
	for round := range 6 {
		for _, q := range qs {
			id++
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			m.Id = id
			m.RecursionDesired = round%2 == 0
			if q.edns > 0 {
				m.SetEdns0(uint16(q.edns), q.do)
			}
			pkt, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			sameReply(t, cached, plain, pkt, testClient, fmt.Sprintf("round %d, edns %d", round, q.edns))
		}
	}
	fast := cached.ans.MemoStats().Hits
	if fast < 100 {
		t.Fatalf("%d replies from the memo in %d queries, want at least 100", fast, 6*len(qs))
	}
	t.Logf("%d replies from the memo in %d queries", fast, 6*len(qs))
}

func contextWithCleanup(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}

// TestFastReplyReload: the memo's replies are dropped by a reload (a new
// generation), follow a new udp_size, and with rotate = "random" keep
// every order.
func TestFastReplyReload(t *testing.T) {
	cfgPath := copyTestConfig(t)
	zonePath := filepath.Join(filepath.Dir(cfgPath), "zones", "example.org.zone")
	zf, err := os.OpenFile(zonePath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zf.WriteString("multi IN A 192.0.2.31\nmulti IN A 192.0.2.32\nmulti IN A 192.0.2.33\n"); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newUDPWorker(srv)
	ask := func() *dns.Msg {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion("mail.example.org.", dns.TypeA)
		q.SetEdns0(1232, false)
		pkt, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(w.answer(pkt, testClient, w.outs[0])); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for range 3 {
		ask()
	}
	if w.ans.MemoStats().Hits != 2 {
		t.Fatalf("%d precomputed replies in 3 queries, want 2", w.ans.MemoStats().Hits)
	}

	zone, err := os.ReadFile(zonePath)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, zonePath, strings.Replace(string(zone), "192.0.2.25", "192.0.2.26", 1))
	conf, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, cfgPath, strings.Replace(string(conf), "[server]\n", "[server]\nudp_size = 1400\n", 1))
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	r := ask()
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.26" || r.IsEdns0().UDPSize() != 1400 {
		t.Fatalf("after reload: %v", r)
	}

	replaceFile(t, cfgPath, strings.Replace(string(conf), "[server]\n", "[server]\nrotate = \"random\"\n", 1))
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := ask(); r.IsEdns0().UDPSize() == 1400 {
			t.Fatalf("udp_size 1400 still served after reload: %v", r)
		}
	}
	// With rotate = "random" the order of an RRset is a decision point
	// drawn per query: the memo keeps a reply per order, and every order
	// still comes up.
	hits := w.ans.MemoStats().Hits
	orders := map[string]bool{}
	for range 200 {
		q := new(dns.Msg)
		q.SetQuestion("multi.example.org.", dns.TypeA)
		pkt, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(w.answer(pkt, testClient, w.outs[0])); err != nil {
			t.Fatal(err)
		}
		orders[fmt.Sprint(r.Answer)] = true
	}
	if len(orders) != 6 || w.ans.MemoStats().Hits-hits < 150 {
		t.Fatalf("rotate = random: %d orders of 3 records in 200 queries (want all 6), %d from the memo", len(orders), w.ans.MemoStats().Hits-hits)
	}
}
