package answer

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/cookie"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

type count struct{ n int }

func (c *count) Inc() { c.n++ }

// cookieStage is a cookie stage under a fixed secret and clock, with
// counters to read.
func cookieStage(now time.Time) (*Cookies, *[cookie.NumResults]count, cookie.Secret) {
	k := cookie.Secret{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	st := &Cookies{Checker: cookie.NewChecker(k, nil, func() time.Time { return now })}
	var seen [cookie.NumResults]count
	for i := range seen {
		st.Seen[i] = &seen[i]
	}
	return st, &seen, k
}

var cookieClient = netip.MustParseAddrPort("198.51.100.7:5300")

// cookieQuery packs a query for name with EDNS of size udp (0: none) and
// the COOKIE options given in hex.
func cookieQuery(t testing.TB, name string, udp uint16, cookies ...string) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Id = 4242
	if udp > 0 {
		m.SetEdns0(udp, false)
		for _, c := range cookies {
			o := m.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: c})
		}
	}
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// replyCookie returns the reply's COOKIE option in hex, "" for none, and
// how many there are.
func replyCookie(r *dns.Msg) (string, int) {
	var c string
	n := 0
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if ck, ok := e.(*dns.EDNS0_COOKIE); ok {
				c, n = ck.Cookie, n+1
			}
		}
	}
	return c, n
}

func ask(t testing.TB, w *Worker, pkt []byte) *dns.Msg {
	t.Helper()
	out := w.Answer(pkt, cookieClient, make([]byte, 4096), false, time.Now(), nil)
	r := new(dns.Msg)
	if out == nil {
		t.Fatalf("no reply")
	}
	if err := r.Unpack(out); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return r
}

type admitSeen struct{ last CookieState }

func (a *admitSeen) Admit(req *dns.Msg, c Client) bool { a.last = c.Cookie; return true }

// TestCookieStage: the rules of RFC 7873 section 5.2 on every path a
// reply takes (the memo, decide and encode, an admit hook that keeps the
// memo off), the result counted, and Client.Cookie as admit sees it.
func TestCookieStage(t *testing.T) {
	now := time.Unix(1700000000, 0)
	const client = "2464c4abcf10c957"
	for _, mode := range []string{"memo", "no memo", "admit"} {
		t.Run(mode, func(t *testing.T) {
			stage, seen, k := cookieStage(now)
			adm := &admitSeen{}
			stages := Stages{Cookies: stage}
			if mode == "admit" {
				stages.Admit = adm
			}
			w := NewWorker(stageStore(t), stages, nil)
			w.SetMemo(mode != "no memo")
			sc := cookie.Make(&k, mustHex(t, client), cookieClient.Addr(), uint32(now.Unix()))
			good := client + hex.EncodeToString(sc[:])
			old := cookie.Make(&k, mustHex(t, client), cookieClient.Addr(), uint32(now.Unix())-2000)
			oldGood := client + hex.EncodeToString(old[:])
			for _, tc := range []struct {
				name    string
				pkt     []byte
				rcode   int
				cookie  string // the reply's, "" none
				result  cookie.Result
				state   CookieState
				noReply bool
			}{
				{"no EDNS", cookieQuery(t, "www.example.org.", 0), dns.RcodeSuccess, "", cookie.None, NoCookie, false},
				{"EDNS, no cookie", cookieQuery(t, "www.example.org.", 1232), dns.RcodeSuccess, "", cookie.None, NoCookie, false},
				{"client cookie", cookieQuery(t, "www.example.org.", 1232, client), dns.RcodeSuccess, good, cookie.ClientOnly, ClientCookie, false},
				{"good server cookie: echoed", cookieQuery(t, "www.example.org.", 1232, good), dns.RcodeSuccess, good, cookie.Good, GoodCookie, false},
				{"good but 33 minutes old: renewed", cookieQuery(t, "www.example.org.", 1232, oldGood), dns.RcodeSuccess, good, cookie.Good, GoodCookie, false},
				{"bad server cookie: a new one", cookieQuery(t, "www.example.org.", 1232, client+"01000000"+strings.Repeat("ab", 12)), dns.RcodeSuccess, good, cookie.Bad, ClientCookie, false},
				{"NXDOMAIN", cookieQuery(t, "nx.example.org.", 1232, good), dns.RcodeNameError, good, cookie.Good, GoodCookie, false},
				{"REFUSED", cookieQuery(t, "www.example.net.", 1232, good), dns.RcodeRefused, good, cookie.Good, GoodCookie, false},
				{"7 bytes", cookieQuery(t, "www.example.org.", 1232, client[:14]), dns.RcodeFormatError, "", cookie.Malformed, NoCookie, false},
				{"9 bytes", cookieQuery(t, "www.example.org.", 1232, client+"00"), dns.RcodeFormatError, "", cookie.Malformed, NoCookie, false},
				{"15 bytes", cookieQuery(t, "www.example.org.", 1232, client+strings.Repeat("00", 7)), dns.RcodeFormatError, "", cookie.Malformed, NoCookie, false},
				{"41 bytes", cookieQuery(t, "www.example.org.", 1232, client+strings.Repeat("00", 33)), dns.RcodeFormatError, "", cookie.Malformed, NoCookie, false},
				{"two cookies", cookieQuery(t, "www.example.org.", 1232, client, client), dns.RcodeFormatError, "", cookie.Malformed, NoCookie, false},
			} {
				// Three times: the memo takes over from the second or third.
				for i := range 3 {
					before := seen[tc.result].n
					adm.last = 99
					r := ask(t, w, tc.pkt)
					got, n := replyCookie(r)
					if r.Rcode != tc.rcode || got != tc.cookie || n > 1 || r.Id != 4242 {
						t.Errorf("%s (query %d): rcode %s, cookie %q (%d), id %d; want %s, %q", tc.name, i+1,
							dns.RcodeToString[r.Rcode], got, n, r.Id, dns.RcodeToString[tc.rcode], tc.cookie)
					}
					if (r.IsEdns0() != nil) != (tc.name != "no EDNS") {
						t.Errorf("%s: reply OPT %v", tc.name, r.IsEdns0())
					}
					if seen[tc.result].n != before+1 {
						t.Errorf("%s: %v counted %d times, want once", tc.name, tc.result, seen[tc.result].n-before)
					}
					if mode == "admit" && tc.rcode != dns.RcodeFormatError && adm.last != tc.state {
						t.Errorf("%s: admit saw Cookie %d, want %d", tc.name, adm.last, tc.state)
					}
				}
			}
			if hits := w.MemoStats().Hits + w.MemoStats().NegHits; (mode == "memo") != (hits > 0) {
				t.Errorf("%s: %d replies from the memo", mode, hits)
			}
		})
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bigStore serves big.example.org with 29 A records: 508 bytes with an
// OPT record, so 512 bytes do not hold it with a cookie.
func bigStore(t testing.TB) *state.Store {
	t.Helper()
	var b strings.Builder
	b.WriteString(stageZone)
	for i := range 29 {
		fmt.Fprintf(&b, "big IN A 192.0.2.%d\n", 100+i)
	}
	z, err := zones.Parse("example.org.", "example.org.zone", []byte(b.String()))
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

// TestCookieRoom: a reply that fits the client's 512 bytes without the
// cookie but not with it is truncated (TC=1) to leave the cookie room,
// whether the memo saw the name first without a cookie or not; with 1232
// bytes it comes whole.
func TestCookieRoom(t *testing.T) {
	stage, _, _ := cookieStage(time.Now())
	for _, memo := range []bool{true, false} {
		w := NewWorker(bigStore(t), Stages{Cookies: stage}, nil)
		w.SetMemo(memo)
		for i := range 3 {
			out := w.Answer(cookieQuery(t, "big.example.org.", 512), cookieClient, make([]byte, 4096), false, time.Now(), nil)
			r := new(dns.Msg)
			if err := r.Unpack(out); err != nil || len(out) > 512 || r.Truncated || len(r.Answer) != 29 {
				t.Fatalf("memo %v, query %d without a cookie: %d bytes, TC %v, %d answers; want 29 answers in 512 bytes", memo, i, len(out), r.Truncated, len(r.Answer))
			}
		}
		for i := range 3 {
			out := w.Answer(cookieQuery(t, "big.example.org.", 512, "0102030405060708"), cookieClient, make([]byte, 4096), false, time.Now(), nil)
			r := new(dns.Msg)
			if err := r.Unpack(out); err != nil || len(out) > 512 || !r.Truncated {
				t.Errorf("memo %v, query %d with a cookie, 512 bytes: %d bytes, TC %v, err %v; want TC within 512", memo, i, len(out), r.Truncated, err)
			}
			if c, _ := replyCookie(r); len(c) != 2*cookie.ReplyLen {
				t.Errorf("memo %v, query %d: truncated reply's cookie %q", memo, i, c)
			}
			out = w.Answer(cookieQuery(t, "big.example.org.", 1232, "0102030405060708"), cookieClient, make([]byte, 4096), false, time.Now(), nil)
			if err := r.Unpack(out); err != nil || r.Truncated || len(r.Answer) != 29 {
				t.Errorf("memo %v, query %d with a cookie, 1232 bytes: TC %v, %d answers; want 29", memo, i, r.Truncated, len(r.Answer))
			}
			// Over TCP nothing is cut.
			out = w.Answer(cookieQuery(t, "big.example.org.", 512, "0102030405060708"), cookieClient, make([]byte, 65535), true, time.Now(), nil)
			if err := r.Unpack(out); err != nil || r.Truncated || len(r.Answer) != 29 {
				t.Errorf("memo %v, query %d over TCP: TC %v, %d answers; want 29", memo, i, r.Truncated, len(r.Answer))
			}
		}
	}
}

// TestCookieSameBytes: the memo's replies with a cookie are the bytes
// decide and encode make.
func TestCookieSameBytes(t *testing.T) {
	now := time.Now()
	stage, _, _ := cookieStage(now)
	st := stageStore(t)
	memo, plain := NewWorker(st, Stages{Cookies: stage}, nil), NewWorker(st, Stages{Cookies: stage}, nil)
	plain.SetMemo(false)
	for _, name := range []string{"ns1.example.org.", "nx.example.org.", "www.example.net.", "NS1.Example.ORG."} {
		pkt := cookieQuery(t, name, 1232, "0102030405060708")
		for i := range 3 {
			a := memo.Answer(pkt, cookieClient, make([]byte, 4096), false, now, nil)
			b := plain.Answer(pkt, cookieClient, make([]byte, 4096), false, now, nil)
			if !bytes.Equal(a, b) {
				t.Errorf("%s query %d: memo\n%x\ndecided\n%x", name, i, a, b)
			}
		}
	}
	if memo.MemoStats().Hits+memo.MemoStats().NegHits == 0 {
		t.Error("the memo served nothing")
	}
}

// TestCookieMemoAllocs: a memo hit with a cookie allocates nothing.
func TestCookieMemoAllocs(t *testing.T) {
	stage, _, _ := cookieStage(time.Now())
	w := NewWorker(stageStore(t), Stages{Cookies: stage}, nil)
	pkt := cookieQuery(t, "www.example.org.", 1232, "0102030405060708")
	buf := make([]byte, 4096)
	for range 3 {
		w.Answer(pkt, cookieClient, buf, false, time.Now(), nil)
	}
	hits := w.MemoStats().Hits
	if n := testing.AllocsPerRun(100, func() { w.Answer(pkt, cookieClient, buf, false, time.Now(), nil) }); n != 0 {
		t.Errorf("a memo hit with a cookie: %v allocations", n)
	}
	if w.MemoStats().Hits < hits+100 {
		t.Errorf("not from the memo")
	}
}

// BenchmarkMemoCookie is a memo hit without a cookie option, with a
// client cookie alone, and with a good server cookie.
func BenchmarkMemoCookie(b *testing.B) {
	now := time.Now()
	stage, _, k := cookieStage(now)
	client := mustHex(b, "0102030405060708")
	sc := cookie.Make(&k, client, cookieClient.Addr(), uint32(now.Unix()))
	for _, bc := range []struct {
		name   string
		stages Stages
		pkt    []byte
	}{
		{"off", Stages{}, cookieQuery(b, "www.example.org.", 1232)},
		{"on/none", Stages{Cookies: stage}, cookieQuery(b, "www.example.org.", 1232)},
		{"on/client", Stages{Cookies: stage}, cookieQuery(b, "www.example.org.", 1232, "0102030405060708")},
		{"on/good", Stages{Cookies: stage}, cookieQuery(b, "www.example.org.", 1232, "0102030405060708"+hex.EncodeToString(sc[:]))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := NewWorker(stageStore(b), bc.stages, nil)
			buf := make([]byte, 4096)
			for range 3 {
				w.Answer(bc.pkt, cookieClient, buf, false, now, nil)
			}
			b.ReportAllocs()
			for b.Loop() {
				w.Answer(bc.pkt, cookieClient, buf, false, now, nil)
			}
			if w.MemoStats().Hits == 0 {
				b.Fatal("not from the memo")
			}
		})
	}
}
