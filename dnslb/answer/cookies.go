package answer

import (
	"encoding/hex"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/cookie"
	"github.com/dnslb/dnslb/dnslb/wire"
)

// Cookies is the cookie stage (RFC 7873 with RFC 9018's server cookie),
// run after parse for every query: it reads the query's COOKIE option,
// sets Client.Cookie for admit, answers a malformed option with FORMERR,
// and adds the client cookie with a server cookie to the reply's OPT
// record as the last step of Worker.Answer, for replies from the memo and
// from encode alike. Over UDP the reply keeps room for the option: the
// memo keeps only replies that fit 512 bytes with it (newMemo), and
// decide's replies are truncated to the client's size less the option.
type Cookies struct {
	Checker *cookie.Checker
	// Seen counts the queries by what their COOKIE option showed,
	// indexed by cookie.Result; a nil counter counts nothing.
	Seen [cookie.NumResults]Counter
}

// cookieRoom is what the cookie option adds to a reply: code, length,
// client and server cookie.
const cookieRoom = 4 + cookie.ReplyLen

func (k *Cookies) count(r cookie.Result) {
	if c := k.Seen[r]; c != nil {
		c.Inc()
	}
}

// memoCookie is the cookie stage of a reply from the memo: the memo's
// queries have at most one well-formed cookie (fastQuery.parse), and its
// replies leave room for the option. It returns what the cookie showed,
// for the limit stage, and whether the reply gets a cookie (then in w.ck,
// for addCookie).
func (w *Worker) memoCookie(q *fastQuery, from netip.Addr) (CookieState, bool) {
	k := w.stages.Cookies
	if k == nil {
		return NoCookie, false
	}
	if q.Cookie == nil {
		k.count(cookie.None)
		return NoCookie, false
	}
	r := k.Checker.Check(q.Cookie, from.Unmap(), &w.ck)
	k.count(r)
	if r == cookie.Good {
		return GoodCookie, true
	}
	return ClientCookie, true
}

// addCookie adds the cookie the check made (in w.ck) to the reply out: a
// reply made after checkCookie said the query had a cookie (encode's,
// a rate limiter's slip) passes through it.
func (w *Worker) addCookie(out []byte) []byte {
	return wire.AppendOption(out, dns.EDNS0COOKIE, w.ck[:])
}

// checkCookie is the cookie stage of a query that takes decide: what its
// COOKIE option showed (the reply's option is then in w.ck).
func (w *Worker) checkCookie(req *dns.Msg, from netip.Addr) cookie.Result {
	k := w.stages.Cookies
	r := cookie.None
	if opt := req.IsEdns0(); opt != nil {
		if data, n := w.queryCookie(opt); n > 1 {
			r = cookie.Malformed // RFC 7873 section 5.2.2: more than one
		} else if n == 1 {
			r = k.Checker.Check(data, from, &w.ck)
		}
	}
	k.count(r)
	return r
}

// queryCookie returns the data of opt's COOKIE option and how many there
// are. The usual query's one option (unpackQuery's fast path) is read
// from the packet; miekg/dns holds others as hex.
func (w *Worker) queryCookie(opt *dns.OPT) (data []byte, n int) {
	if w.qs.Cookie != nil {
		return w.qs.Cookie, 1
	}
	for _, o := range opt.Option {
		c, ok := o.(*dns.EDNS0_COOKIE)
		if !ok {
			continue
		}
		n++
		if n > 1 {
			continue
		}
		data = w.ckIn[:0] // a length out of bounds is Malformed
		if len(c.Cookie) <= 2*len(w.ckIn) {
			if m, err := hex.Decode(w.ckIn[:], []byte(c.Cookie)); err == nil {
				data = w.ckIn[:m]
			}
		}
	}
	return data, n
}

// formErrEDNS is the reply to a query whose EDNS is malformed (a COOKIE
// option of a wrong length, RFC 7873 section 5.2.2): FORMERR with the
// question and our OPT record, as BIND and Knot send it.
func formErrEDNS(req *dns.Msg, udpSize int, buf []byte) []byte {
	req.SetRcodeFormatError(req)
	req.Zero = false
	req.Ns, req.Answer = nil, nil
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(uint16(udpSize))
	req.Extra = []dns.RR{opt}
	out, err := req.PackBuffer(buf)
	if err != nil {
		return nil
	}
	return out
}
