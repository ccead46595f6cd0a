package healthcheck

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// dnsBackend serves example.org. A over UDP and TCP on one 127.0.0.1 port
// and answers NXDOMAIN for every other name.
func dnsBackend(t *testing.T) int {
	t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		q := req.Question[0]
		if q.Name != "example.org." {
			m.Rcode = dns.RcodeNameError
		} else if q.Qtype == dns.TypeA {
			rr, _ := dns.NewRR("example.org. 300 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	pc, ln := udpTCPPair(t)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return portOf(t, pc.LocalAddr())
}

func TestDNSChecker(t *testing.T) {
	port := dnsBackend(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := portOf(t, dead.Addr())
	dead.Close()
	tests := []struct {
		name   string
		cfg    Config
		reason string
	}{
		{"noerror", Config{QueryName: "example.org"}, "ok"},
		{"tcp", Config{QueryName: "example.org.", Transport: "tcp"}, "ok"},
		{"nodata is noerror", Config{QueryName: "example.org", QueryType: "mx"}, "ok"},
		{"nxdomain", Config{QueryName: "www.example.net"}, "rcode NXDOMAIN"},
		{"expect nxdomain", Config{QueryName: "www.example.net", ExpectRcode: "NXDOMAIN"}, "ok"},
		{"refused", Config{QueryName: "example.org", Transport: "tcp", Port: deadPort}, "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Type = "dns"
			if tc.cfg.Port == 0 {
				tc.cfg.Port = port
			}
			got := check(mustChecker(t, tc.cfg), loopback)
			if got.Reason != tc.reason || got.OK != (tc.reason == "ok") {
				t.Errorf("Check = %+v, want reason %q", got, tc.reason)
			}
		})
	}
}

// udpTCPPair listens on one free 127.0.0.1 port over both UDP and TCP,
// retrying when the TCP side of a free UDP port is taken.
func udpTCPPair(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no 127.0.0.1 port free for both UDP and TCP")
	return nil, nil
}
