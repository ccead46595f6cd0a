package answer

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/rrl"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

const limitZone = `$ORIGIN example.org.
$TTL 300
@	IN SOA ns1 hostmaster 1 7200 900 1209600 60
@	IN NS ns1
ns1	IN A 192.0.2.53
www	IN A 192.0.2.1
*.wild	IN A 192.0.2.7
sub	IN NS ns.sub
ns.sub	IN A 192.0.2.54
`

// recordLimit records what the limit stage was asked and answers verdict.
type recordLimit struct {
	seen    []string
	verdict Verdict
}

func (r *recordLimit) Limit(c Client, class rrl.Class, name string, now time.Time) Verdict {
	r.seen = append(r.seen, fmt.Sprintf("%v %s", class, name))
	return r.verdict
}

func limitWorker(t *testing.T, l Limit) *Worker {
	t.Helper()
	z, err := zones.Parse("example.org.", "example.org.zone", []byte(limitZone))
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.NewStore()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Replace([]*zones.Zone{z}, nil, state.Serving{UDPSize: 1232}); err != nil {
		t.Fatal(err)
	}
	return NewWorker(st, Stages{Limit: l}, nil)
}

func askLimit(t *testing.T, w *Worker, name string, qtype uint16, edns bool, tcp bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(1232, true)
	}
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := w.Answer(pkt, netip.MustParseAddrPort("192.0.2.99:5300"), make([]byte, 4096), tcp, time.Now(), nil)
	if out == nil {
		return nil
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("%s: unpack %x: %v", name, out, err)
	}
	return r
}

// TestLimitClasses: the limit stage gets each reply's class and account,
// the same from the memo as decided (every question is asked three
// times: decided, decided and kept, from the memo).
func TestLimitClasses(t *testing.T) {
	l := &recordLimit{}
	w := limitWorker(t, l)
	for _, tc := range []struct {
		name  string
		qtype uint16
		want  string
	}{
		{"www.example.org.", dns.TypeA, "positive www.example.org."},
		{"www.example.org.", dns.TypeAAAA, "nodata www.example.org."},
		{"a.wild.example.org.", dns.TypeA, "positive *.wild.example.org."},
		{"b.wild.example.org.", dns.TypeMX, "nodata *.wild.example.org."},
		{"nope.example.org.", dns.TypeA, "nxdomain example.org."},
		{"x.sub.example.org.", dns.TypeA, "referral sub.example.org."},
		{"www.example.net.", dns.TypeA, "error "},
	} {
		for i := range 3 {
			l.seen = l.seen[:0]
			if r := askLimit(t, w, tc.name, tc.qtype, true, false); r == nil {
				t.Fatalf("%s: no reply", tc.name)
			}
			if len(l.seen) != 1 || l.seen[0] != tc.want {
				t.Errorf("%s %s (query %d): limit saw %q, want %q", tc.name, dns.TypeToString[tc.qtype], i+1, l.seen, tc.want)
			}
		}
	}
	// NXDOMAIN for new names (the memo's template): the zone's account.
	for i := range 5 {
		l.seen = l.seen[:0]
		askLimit(t, w, fmt.Sprintf("r%d.example.org.", i), dns.TypeA, true, false)
		if len(l.seen) != 1 || l.seen[0] != "nxdomain example.org." {
			t.Errorf("random name %d: limit saw %q", i, l.seen)
		}
	}
	if w.MemoStats().Hits == 0 || w.MemoStats().NegHits == 0 {
		t.Errorf("memo stats %+v: the memo did not answer", w.MemoStats())
	}
	// TCP: not asked.
	l.seen = l.seen[:0]
	askLimit(t, w, "www.example.org.", dns.TypeA, true, true)
	if len(l.seen) != 0 {
		t.Errorf("over TCP the limit was asked: %q", l.seen)
	}
}

// TestLimitVerdicts: drop gives no reply; slip gives the header with TC,
// the question and our OPT record (DO echoed), from the memo and decided.
func TestLimitVerdicts(t *testing.T) {
	l := &recordLimit{verdict: DropReply}
	w := limitWorker(t, l)
	for i := range 3 {
		if r := askLimit(t, w, "www.example.org.", dns.TypeA, true, false); r != nil {
			t.Fatalf("drop, query %d: got a reply %v", i+1, r)
		}
	}
	l.verdict = SlipReply
	for i := range 3 {
		for _, edns := range []bool{true, false} {
			r := askLimit(t, w, "www.example.org.", dns.TypeA, edns, false)
			if r == nil {
				t.Fatalf("slip, query %d: no reply", i+1)
			}
			if !r.Truncated || len(r.Answer)+len(r.Ns) != 0 || len(r.Question) != 1 || r.Question[0].Name != "www.example.org." || r.Rcode != dns.RcodeSuccess {
				t.Errorf("slip, query %d: %v, want TC=1, the question, no records", i+1, r)
			}
			opt := r.IsEdns0()
			if edns != (opt != nil) || len(r.Extra) > 1 {
				t.Fatalf("slip, edns %v: extra %v", edns, r.Extra)
			}
			if opt != nil && (!opt.Do() || opt.UDPSize() != 1232) {
				t.Errorf("slip: OPT %v, want DO and 1232", opt)
			}
		}
	}
}
