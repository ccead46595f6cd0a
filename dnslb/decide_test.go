package dnslb

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestRefusedEDE: REFUSED for a name in none of our zones carries EDE 20
// "Not Authoritative" when the query has EDNS (RFC 8914 section 4.21, as
// NSD and Knot send it), from decide and from the REFUSED template alike,
// and no OPT record without EDNS.
func TestRefusedEDE(t *testing.T) {
	w := newTestWorker(t)
	for i := range 3 { // the first from decide, then from the template
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("n%d.example.com.", i), dns.TypeA)
		m.SetEdns0(1232, false)
		r := answerWorker(t, w, m)
		if r.Rcode != dns.RcodeRefused {
			t.Fatalf("rcode %s, want REFUSED", dns.RcodeToString[r.Rcode])
		}
		var ede *dns.EDNS0_EDE
		if o := r.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if x, ok := e.(*dns.EDNS0_EDE); ok {
					ede = x
				}
			}
		}
		if ede == nil || ede.InfoCode != dns.ExtendedErrorCodeNotAuthoritative {
			t.Fatalf("query %d: REFUSED with EDE %v, want code 20", i, ede)
		}
	}
	if w.ans.MemoStats().NegHits == 0 {
		t.Error("no REFUSED from the template")
	}
	m := new(dns.Msg)
	m.SetQuestion("x.example.com.", dns.TypeA)
	if r := answerWorker(t, w, m); r.IsEdns0() != nil {
		t.Errorf("REFUSED without EDNS has an OPT record: %v", r)
	}
}

// answerWorker sends m through worker w's path over UDP and unpacks the reply.
func answerWorker(t *testing.T, w *udpWorker, m *dns.Msg) *dns.Msg {
	t.Helper()
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := w.ans.Answer(pkt, testClient, w.outs[0], false, time.Now(), nil)
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("reply to %v: %v", m, err)
	}
	return r
}

// TestLyingCounts: a query whose header counts records that are not there
// gets FORMERR (miekg/dns's Unpack would quietly lower the count), as NSD
// and Knot answer it.
func TestLyingCounts(t *testing.T) {
	w := newTestWorker(t)
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	good, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		off  int // the count's offset in the header
		n    uint16
	}{{"qdcount 2", 4, 2}, {"ancount 1", 6, 1}, {"nscount 3", 8, 3}, {"arcount 1", 10, 1}} {
		pkt := append([]byte(nil), good...)
		binary.BigEndian.PutUint16(pkt[tc.off:], tc.n)
		out := w.ans.Answer(pkt, testClient, w.outs[0], false, time.Now(), nil)
		r := new(dns.Msg)
		if out == nil || r.Unpack(out) != nil || r.Rcode != dns.RcodeFormatError {
			t.Errorf("%s: reply %v, want FORMERR", tc.name, r)
		}
	}
	if r := answerWorker(t, w, m); r.Rcode != dns.RcodeSuccess {
		t.Errorf("the honest query got %s", dns.RcodeToString[r.Rcode])
	}
}

// TestReferralGlueTC: a UDP referral whose in-domain glue does not all fit
// sets TC, so that the resolver asks again over TCP (RFC 9471 section 3);
// glue that fits gives no TC.
func TestReferralGlueTC(t *testing.T) {
	cfgPath := writeLBConfig(t, "")
	var b strings.Builder
	b.WriteString("$ORIGIN deleg.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n")
	for i := range 20 { // the NS records fit 512 bytes, their glue does not
		fmt.Fprintf(&b, "big IN NS ns%d.big\nns%d.big IN A 192.0.2.%d\n", i, i, i+1)
	}
	b.WriteString("small IN NS ns.small\nns.small IN A 192.0.2.99\n")
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfgPath), "zones", "deleg.test.zone"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	w := newUDPWorker(newConfigServer(t, cfgPath))
	for _, tc := range []struct {
		name string
		tc   bool
	}{{"www.big.deleg.test.", true}, {"www.small.deleg.test.", false}} {
		m := new(dns.Msg)
		m.SetQuestion(tc.name, dns.TypeA)
		r := answerWorker(t, w, m)
		if r.Truncated != tc.tc || r.Authoritative || len(r.Ns) == 0 {
			t.Errorf("%s: tc=%v aa=%v ns=%d, want tc=%v and a referral", tc.name, r.Truncated, r.Authoritative, len(r.Ns), tc.tc)
		}
	}
}
