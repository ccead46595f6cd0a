package answer

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

const stageZone = `$ORIGIN example.org.
$TTL 300
@	IN SOA ns1 hostmaster 1 7200 900 1209600 60
@	IN NS ns1
ns1	IN A 192.0.2.53
www	IN A 192.0.2.1
www	IN A 192.0.2.2
`

// stageStore serves stageZone, no names, default settings.
func stageStore(t testing.TB) *state.Store {
	t.Helper()
	z, err := zones.Parse("example.org.", "example.org.zone", []byte(stageZone))
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
	return st
}

type dropAll struct{ seen int }

func (d *dropAll) Admit(req *dns.Msg, c Client) bool { d.seen++; return false }

type markTTL struct{ calls int }

// Sign stands for a signer: it replaces the answer by a copy with TTL 7.
func (m *markTTL) Sign(p *Plan) bool {
	m.calls++
	for i, rr := range p.Msg().Answer {
		rr = dns.Copy(rr)
		rr.Header().Ttl = 7
		p.Msg().Answer[i] = rr
	}
	return true
}

type counting struct{ answered int }

func (c *counting) Sampled() bool { return false }
func (c *counting) Answered(req *dns.Msg, p *Plan, cl Client, start time.Time, sampled bool) {
	c.answered++
}
func (c *counting) Counter(string, uint16, int, string, bool) (Counter, bool) { return nil, true }

func stageQuery(t *testing.T, w *Worker) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := w.Answer(pkt, netip.MustParseAddrPort("192.0.2.99:5300"), make([]byte, 4096), false, time.Now(), nil)
	if out == nil {
		return nil
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestStages: each hook runs at its stage; admit can drop a query; sign
// sees the plan before it is encoded and its replies bypass the memo;
// account sees every reply decide made.
func TestStages(t *testing.T) {
	st := stageStore(t)

	acct := &counting{}
	plain := NewWorker(st, Stages{Account: acct}, nil)
	for range 3 {
		if r := stageQuery(t, plain); r == nil || len(r.Answer) != 2 || r.Answer[0].Header().Ttl != 300 {
			t.Fatalf("no hooks: reply %v, want two A records with TTL 300", r)
		}
	}
	if acct.answered < 1 || acct.answered > 2 || plain.MemoStats().Hits < 1 {
		t.Errorf("3 queries: %d accounted as decided, %d from the memo; want the memo to take over by the third",
			acct.answered, plain.MemoStats().Hits)
	}

	drop := &dropAll{}
	w := NewWorker(st, Stages{Admit: drop}, nil)
	if r := stageQuery(t, w); r != nil || drop.seen != 1 {
		t.Errorf("admit drops: reply %v, admit saw %d queries; want no reply, 1", r, drop.seen)
	}

	sign := &markTTL{}
	w = NewWorker(st, Stages{Sign: sign}, nil)
	for range 3 {
		if r := stageQuery(t, w); r == nil || len(r.Answer) != 2 || r.Answer[0].Header().Ttl != 7 {
			t.Fatalf("sign: reply %v, want two A records with the signer's TTL 7", r)
		}
	}
	if sign.calls != 3 || w.MemoStats().Hits != 0 {
		t.Errorf("sign called %d times in 3 queries, memo served %d; want 3 and 0", sign.calls, w.MemoStats().Hits)
	}
	// The zone's own records are untouched.
	if r := stageQuery(t, plain); r == nil || r.Answer[0].Header().Ttl != 300 {
		t.Errorf("after signing: plain reply %v, want TTL 300", r)
	}
}

// TestMisplacedOPT: an OPT record in the answer or authority section, one
// with an owner other than the root, or two of them get FORMERR, as NSD
// answers them (RFC 6891 sections 6.1.1 and 6.1.2).
func TestMisplacedOPT(t *testing.T) {
	w := NewWorker(stageStore(t), Stages{}, nil)
	opt := func(owner string) *dns.OPT {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeOPT, Class: 1232}}
		return o
	}
	for _, tc := range []struct {
		name  string
		build func(m *dns.Msg)
		want  int
	}{
		{"opt in additional", func(m *dns.Msg) { m.Extra = []dns.RR{opt(".")} }, dns.RcodeSuccess},
		{"opt in answer", func(m *dns.Msg) { m.Answer = []dns.RR{opt(".")} }, dns.RcodeFormatError},
		{"opt in authority", func(m *dns.Msg) { m.Ns = []dns.RR{opt(".")} }, dns.RcodeFormatError},
		{"opt owned by a name", func(m *dns.Msg) { m.Extra = []dns.RR{opt("example.org.")} }, dns.RcodeFormatError},
		{"two opts", func(m *dns.Msg) { m.Extra = []dns.RR{opt("."), opt(".")} }, dns.RcodeFormatError},
	} {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		tc.build(m)
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out := w.Answer(pkt, netip.MustParseAddrPort("192.0.2.99:5300"), make([]byte, 4096), false, time.Now(), nil)
		r := new(dns.Msg)
		if out == nil || r.Unpack(out) != nil || r.Rcode != tc.want {
			t.Errorf("%s: reply %v, want rcode %s", tc.name, r, dns.RcodeToString[tc.want])
		}
	}
}

// TestECSEchoAfterPlain: a name asked without ECS and then with ECS gets
// the option echoed (scope 0 for a static name) every time, whatever the
// memo kept from the queries without it.
func TestECSEchoAfterPlain(t *testing.T) {
	w := NewWorker(stageStore(t), Stages{}, nil)
	ask := func(ecs bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.SetEdns0(1232, false)
		if ecs {
			o := m.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24,
				Address: netip.MustParseAddr("198.51.100.0").AsSlice()})
		}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out := w.Answer(pkt, netip.MustParseAddrPort("192.0.2.99:5300"), make([]byte, 4096), false, time.Now(), nil)
		r := new(dns.Msg)
		if out == nil || r.Unpack(out) != nil {
			t.Fatalf("no reply")
		}
		return r
	}
	echoed := func(r *dns.Msg) bool {
		if o := r.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if s, ok := e.(*dns.EDNS0_SUBNET); ok && s.SourceNetmask == 24 && s.SourceScope == 0 {
					return true
				}
			}
		}
		return false
	}
	for i := range 3 {
		if r := ask(false); echoed(r) {
			t.Fatalf("query %d without ECS: reply has ECS", i)
		}
	}
	for i := range 4 {
		if r := ask(true); !echoed(r) {
			t.Errorf("query %d with ECS after queries without: no ECS echo in %v", i, r)
		}
	}
	for i := range 2 {
		if r := ask(false); echoed(r) {
			t.Errorf("query %d without ECS after queries with: reply has ECS", i)
		}
	}
}
