package dnslb

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/metrics"
)

// TestServeUDPv6 serves on [::1] (the AF_INET6 side of the recvmmsg loop).
func TestServeUDPv6(t *testing.T) {
	cfg, err := config.Load("testdata/dnslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Listen = []string{"[::1]:0"}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := contextWithCleanup(t)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Started():
	case err := <-done:
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	q := new(dns.Msg)
	q.SetQuestion("mail.example.org.", dns.TypeA)
	r := exchange(t, srv.Addrs()[0].String(), "udp", q)
	if got := section(r.Answer); len(got) != 1 || got[0] != "mail.example.org. 300 IN A 192.0.2.25" {
		t.Fatalf("answer %v", got)
	}
}

// TestUDPOutsideNetpoller checks that the UDP sockets of a running server
// are in no epoll instance of the process (detachUDP), while its TCP
// listener is (so the check does find what the netpoller watches), and
// that every one of them answers and is closed by Run.
func TestUDPOutsideNetpoller(t *testing.T) {
	srv, stop := launch(t, "testdata/dnslb.toml", nil)
	port := srv.Addrs()[0].(*net.UDPAddr).Port
	udp := socketInodes(t, "/proc/net/udp", port, "07")
	tcp := socketInodes(t, "/proc/net/tcp", port, "0A")
	if len(udp) != runtime.GOMAXPROCS(0) || len(tcp) != 1 {
		t.Fatalf("port %d: %d UDP sockets (want %d), %d TCP listeners", port, len(udp), runtime.GOMAXPROCS(0), len(tcp))
	}
	watched := epollInodes(t)
	for ino := range udp {
		if watched[ino] {
			t.Errorf("UDP socket inode %s is in an epoll instance", ino)
		}
	}
	for ino := range tcp {
		if !watched[ino] {
			t.Errorf("TCP listener inode %s is in no epoll instance: the check sees nothing", ino)
		}
	}
	for i := range 4 * runtime.GOMAXPROCS(0) {
		q := new(dns.Msg)
		q.SetQuestion("mail.example.org.", dns.TypeA)
		if r := exchange(t, srv.Addrs()[0].String(), "udp", q); r.Rcode != dns.RcodeSuccess {
			t.Fatalf("query %d: rcode %s", i, dns.RcodeToString[r.Rcode])
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if left := socketInodes(t, "/proc/net/udp", port, "07"); len(left) != 0 {
		t.Fatalf("%d UDP sockets still open after Run returned", len(left))
	}
}

// socketInodes returns the inodes of the sockets in table (/proc/net/udp
// or tcp) bound to port in state st.
func socketInodes(t *testing.T, table string, port int, st string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	inos := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != st || !strings.HasSuffix(f[1], fmt.Sprintf(":%04X", port)) {
			continue
		}
		inos[f[9]] = true
	}
	return inos
}

// epollInodes returns the inodes (decimal) of every file that an epoll
// instance of this process watches, from /proc/self/fdinfo.
func epollInodes(t *testing.T) map[string]bool {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fdinfo")
	if err != nil {
		t.Fatal(err)
	}
	inos := map[string]bool{}
	for _, fd := range fds {
		b, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			continue // closed since
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "tfd:") {
				continue
			}
			for _, f := range strings.Fields(line) {
				if hex, ok := strings.CutPrefix(f, "ino:"); ok {
					if n, err := strconv.ParseUint(hex, 16, 64); err == nil {
						inos[strconv.FormatUint(n, 10)] = true
					}
				}
			}
		}
	}
	return inos
}

// TestServeUDPBurst sends many queries back to back from one socket, so
// that the server reads them in batches (parsed and prefetched together),
// with datagrams that get no reply mixed in: every query gets the reply it
// gets alone, and nothing else comes back.
func TestServeUDPBurst(t *testing.T) {
	srv, stop := launch(t, "testdata/dnslb.toml", nil)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	addr := srv.Addrs()[0].String()
	type question struct {
		name  string
		qtype uint16
		edns  bool
	}
	var qs []question
	for _, name := range []string{"www.example.org.", "WwW.Example.ORG.", "mail.example.org.", "api.example.org.",
		"x.w.example.org.", "nope.example.org.", "example.org.", "www.child.example.org.", "ns1.example.org."} {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT} {
			qs = append(qs, question{name, qt, false}, question{name, qt, true})
		}
	}
	msg := func(q question, id uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.Id = id
		if q.edns {
			m.SetEdns0(1232, false)
		}
		return m
	}
	// What each query gets alone (twice: the second from a warm cache).
	want := map[int][]string{}
	for i, q := range qs {
		exchange(t, addr, "udp", msg(q, 1))
		r := exchange(t, addr, "udp", msg(q, 1))
		want[i] = append([]string{dns.RcodeToString[r.Rcode]}, append(section(r.Answer), section(r.Ns)...)...)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	response := msg(qs[0], 9999)
	response.Response = true
	resp, _ := response.Pack()
	// Replies are read while the queries go out, at most 48 ahead, so
	// that neither side's socket buffer overflows (they drop datagrams
	// when full: these are a few hundred bytes each).
	const rounds, ahead = 3, 48
	sent := rounds * len(qs)
	var replied atomic.Int32
	var stopped atomic.Bool // the reader has returned
	done := make(chan error, 1)
	go func() {
		defer stopped.Store(true)
		buf := make([]byte, 65535)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for got := 0; got < sent; got++ {
			n, err := c.Read(buf)
			if err != nil {
				done <- fmt.Errorf("after %d of %d replies: %v", got, sent, err)
				return
			}
			r := new(dns.Msg)
			if err := r.Unpack(buf[:n]); err != nil {
				done <- err
				return
			}
			if int(r.Id) >= sent {
				done <- fmt.Errorf("reply with ID %d: no such query", r.Id)
				return
			}
			i := int(r.Id) % len(qs)
			g := append([]string{dns.RcodeToString[r.Rcode]}, append(section(r.Answer), section(r.Ns)...)...)
			if fmt.Sprint(g) != fmt.Sprint(want[i]) || r.Question[0].Name != qs[i].name {
				done <- fmt.Errorf("%s %s: in a burst %v, alone %v", qs[i].name, dns.TypeToString[qs[i].qtype], g, want[i])
				return
			}
			replied.Add(1)
		}
		done <- nil
	}()
	for round := range rounds {
		for i, q := range qs {
			for round*len(qs)+i-int(replied.Load()) >= ahead && !stopped.Load() {
				time.Sleep(100 * time.Microsecond)
			}
			if stopped.Load() {
				break
			}
			p, err := msg(q, uint16(round*len(qs)+i)).Pack()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
			if i%7 == 0 {
				_, _ = c.Write([]byte{1, 2, 3, 4, 5}) // too short: no reply
				_, _ = c.Write(resp)                  // a response: no reply
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("a reply too many (%d bytes)", n)
	}
	// Every reply counted once, and timed once: precomputed ones per
	// batch (timeReplies), the others one by one.
	counted, timed := udpQueryMetrics(t, srv.Metrics())
	if answered := uint64(2*len(qs) + sent); counted != answered || timed != answered {
		t.Errorf("%d queries answered over UDP: dnslb_queries_total counts %d, dnslb_query_duration_seconds %d", answered, counted, timed)
	}
}

// udpQueryMetrics sums dnslb_queries_total over UDP and reads the count of
// dnslb_query_duration_seconds over UDP, from the exposition.
func udpQueryMetrics(t *testing.T, m *metrics.Registry) (counted, timed uint64) {
	t.Helper()
	for _, line := range strings.Split(scrape(t, m), "\n") {
		name, rest, _ := strings.Cut(line, "{")
		labels, value, _ := strings.Cut(rest, "} ")
		if !strings.Contains(labels, `transport="udp"`) {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		switch name {
		case "dnslb_queries_total":
			counted += uint64(n)
		case "dnslb_query_duration_seconds_count":
			timed += uint64(n)
		}
	}
	return counted, timed
}
