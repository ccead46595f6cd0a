package dnslb

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
)

func TestRotation(t *testing.T) {
	_, addr := startServer(t, "testdata/dnslb.toml")
	firsts := map[string]int{}
	for range 30 {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		r := exchange(t, addr, "udp", m)
		if len(r.Answer) != 3 {
			t.Fatalf("answer has %d records, want 3", len(r.Answer))
		}
		firsts[r.Answer[0].(*dns.A).A.String()]++
	}
	for _, a := range []string{"192.0.2.10", "192.0.2.11", "192.0.2.12"} {
		if firsts[a] != 10 {
			t.Errorf("%s came first %d times in 30 queries, want 10 (round-robin): %v", a, firsts[a], firsts)
		}
	}
}

func TestEDNSAndErrors(t *testing.T) {
	srv, addr := startServer(t, "testdata/dnslb.toml")

	t.Run("badvers", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(1)
		r := exchange(t, addr, "udp", m)
		if r.Rcode != dns.RcodeBadVers || r.IsEdns0() == nil || len(r.Answer) != 0 {
			t.Errorf("rcode %s, opt %v, answer %d; want BADVERS with OPT and no answer", dns.RcodeToString[r.Rcode], r.IsEdns0(), len(r.Answer))
		}
	})
	t.Run("edns echoed with our size and DO", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.SetEdns0(4096, true)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2}})
		r := exchange(t, addr, "udp", m)
		o := r.IsEdns0()
		if o == nil || o.UDPSize() != 1232 || !o.Do() || o.Version() != 0 || len(o.Option) != 0 {
			t.Errorf("OPT %v, want udp 1232, DO set, version 0, no options", o)
		}
	})
	t.Run("no edns no opt", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		if r := exchange(t, addr, "udp", m); r.IsEdns0() != nil {
			t.Errorf("reply has OPT to a query without one")
		}
	})
	t.Run("truncated without edns", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("big.example.org.", dns.TypeTXT)
		r := exchange(t, addr, "udp", m)
		if !r.Truncated || len(r.Answer) != 0 {
			t.Errorf("tc=%v answer=%d, want TC and an empty answer (600+ bytes over 512)", r.Truncated, len(r.Answer))
		}
		r = exchange(t, addr, "tcp", m)
		if r.Truncated || len(r.Answer) != 6 {
			t.Errorf("over TCP tc=%v answer=%d, want the 6 TXT records", r.Truncated, len(r.Answer))
		}
		m.SetEdns0(1232, false)
		if r := exchange(t, addr, "udp", m); r.Truncated || len(r.Answer) != 6 {
			t.Errorf("with EDNS 1232 tc=%v answer=%d, want all 6", r.Truncated, len(r.Answer))
		}
	})
	t.Run("additional dropped before TC", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("_sip._udp.example.org.", dns.TypeSRV)
		res := answerMsg(t, srv, m, answer.Client{})
		if res.Truncated || len(res.Answer) != 1 || res.Len() > 512 {
			t.Errorf("tc=%v answer=%d len=%d", res.Truncated, len(res.Answer), res.Len())
		}
	})
	t.Run("notimp", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.Opcode = dns.OpcodeStatus
		if r := exchange(t, addr, "udp", m); r.Rcode != dns.RcodeNotImplemented {
			t.Errorf("rcode %s, want NOTIMP", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("two questions", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.Question = append(m.Question, m.Question[0])
		if r := exchange(t, addr, "udp", m); r.Rcode != dns.RcodeFormatError {
			t.Errorf("rcode %s, want FORMERR", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("any is minimal", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeANY)
		r := exchange(t, addr, "udp", m)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 || r.Answer[0].Header().Rrtype == dns.TypeANY {
			t.Errorf("ANY: rcode %s answer %v", dns.RcodeToString[r.Rcode], r.Answer)
		}
	})
	t.Run("garbage gets formerr or silence", func(t *testing.T) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, pkt := range [][]byte{{0x12, 0x34, 0x01, 0x00, 0x00, 0x01}, {0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff}} {
			if _, err := c.Write(pkt); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			if err != nil {
				continue // silence is allowed
			}
			r := new(dns.Msg)
			if err := r.Unpack(buf[:n]); err != nil || r.Rcode != dns.RcodeFormatError || r.Id != uint16(pkt[0])<<8|uint16(pkt[1]) {
				t.Errorf("reply to garbage: %v %v, want FORMERR with the query's ID", r, err)
			}
		}
		// The server still answers.
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		exchange(t, addr, "udp", m)
	})
	t.Run("tcp pipelined", func(t *testing.T) {
		conn, err := dns.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		names := []string{"www.example.org.", "api.example.org.", "nope.example.org.", "mail.example.org."}
		for i, n := range names {
			m := new(dns.Msg)
			m.SetQuestion(n, dns.TypeA)
			m.Id = uint16(100 + i)
			if err := conn.WriteMsg(m); err != nil {
				t.Fatal(err)
			}
		}
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		for i := range names {
			r, err := conn.ReadMsg()
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			if r.Id != uint16(100+i) || r.Question[0].Name != names[i] {
				t.Errorf("reply %d: id %d %s", i, r.Id, r.Question[0].Name)
			}
		}
	})
}
