package dnslb

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tcpQuery is one length-prefixed query for name.
func tcpQuery(t *testing.T, id uint16, name string, qtype uint16) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = id
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...)
}

// readTCPReply reads one length-prefixed reply.
func readTCPReply(t *testing.T, c net.Conn) *dns.Msg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatalf("read length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read reply: %v", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	return r
}

// TestTCPServing: queries sent in one write, in pieces of one byte, and
// after a message too long for the first read buffer are all answered, in
// order, on one connection; a response sent as a query gets no reply and
// does not stop the connection; many large answers come whole.
func TestTCPServing(t *testing.T) {
	_, addr := startServer(t, "testdata/dnslb.toml")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// 300 queries in one write: every reply, in order, with its ID.
	names := []string{"www.example.org.", "mail.example.org.", "nope.example.org.", "a.sub.example.org.", "x.w.example.org."}
	var all []byte
	for i := range 300 {
		all = append(all, tcpQuery(t, uint16(i), names[i%len(names)], dns.TypeA)...)
	}
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		r := readTCPReply(t, c)
		if r.Id != uint16(i) || r.Question[0].Name != names[i%len(names)] || r.Truncated {
			t.Fatalf("reply %d: %v", i, r)
		}
	}

	// One query a byte at a time.
	for _, b := range tcpQuery(t, 7, "mail.example.org.", dns.TypeA) {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if r := readTCPReply(t, c); r.Id != 7 || len(r.Answer) != 1 {
		t.Fatalf("byte-wise query: %v", r)
	}

	// A response is not answered; a query with 6,000 bytes of padding
	// (longer than the first read buffer) is, and so is the next.
	resp := tcpQuery(t, 8, "mail.example.org.", dns.TypeA)
	resp[4] |= 0x80 // QR
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	m.Id = 9
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_PADDING{Padding: make([]byte, 6000)})
	big, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	big = append(binary.BigEndian.AppendUint16(nil, uint16(len(big))), big...)
	if _, err := c.Write(append(append(resp, big...), tcpQuery(t, 10, "www.example.org.", dns.TypeAAAA)...)); err != nil {
		t.Fatal(err)
	}
	if r := readTCPReply(t, c); r.Id != 9 || len(r.Answer) == 0 {
		t.Fatalf("reply to the padded query: %v", r)
	}
	if r := readTCPReply(t, c); r.Id != 10 {
		t.Fatalf("reply after the padded query: %v", r)
	}

	// Large answers are not truncated over TCP, and 300 of them asked in
	// one write (more than the server buffers before writing) all come.
	all = nil
	for i := range 300 {
		all = append(all, tcpQuery(t, uint16(1000+i), "big.example.org.", dns.TypeTXT)...)
	}
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if r := readTCPReply(t, c); r.Id != uint16(1000+i) || r.Truncated || r.Len() <= 512 {
			t.Fatalf("large answer %d over TCP: id %d, truncated %v, %d bytes", i, r.Id, r.Truncated, r.Len())
		}
	}
}

// TestTCPIdleAndShutdown: a connection idle for tcp_idle_timeout is
// closed by the server; at shutdown, queries already sent are answered
// before the connection closes, and Run returns.
func TestTCPIdleAndShutdown(t *testing.T) {
	cfgPath := copyTestConfig(t)
	conf, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(conf), "[server]\n", "[server]\ntcp_idle_timeout = \"300ms\"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, stop := launch(t, filepath.Clean(cfgPath), nil)
	addr := srv.Addrs()[0].String()

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	start := time.Now()
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idle.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %d, %v; want EOF", n, err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("idle connection closed after %v, want about 300ms", d)
	}

	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := busy.Write(tcpQuery(t, 1, "www.example.org.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if r := readTCPReply(t, busy); r.Id != 1 {
		t.Fatalf("reply %v", r)
	}
	done := make(chan error, 1)
	go func() { done <- stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return with a TCP connection open")
	}
	_ = busy.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := busy.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("connection still open after shutdown: %d, %v", n, err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("TCP still accepted after Run returned")
	}
}
