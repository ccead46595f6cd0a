package answer

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/cookie"
)

// TestCookiesWithLimit: the cookie stage and the limit stage together, on
// the memo's path and decide's. A client with a good server cookie is
// never limited; a client that sent only its own cookie gets, for a
// slipped reply, BADCOOKIE carrying a server cookie (RFC 7873 section
// 5.2.3), so that it can retry with it; a client without cookies gets
// TC=1 without a cookie.
func TestCookiesWithLimit(t *testing.T) {
	now := time.Unix(1700000000, 0)
	const client = "2464c4abcf10c957"
	for _, memo := range []bool{true, false} {
		stage, _, k := cookieStage(now)
		lim := &recordLimit{verdict: SlipReply}
		w := NewWorker(stageStore(t), Stages{Cookies: stage, Limit: lim}, nil)
		w.SetMemo(memo)
		sc := cookie.Make(&k, mustHex(t, client), cookieClient.Addr(), uint32(now.Unix()))
		good := client + hex.EncodeToString(sc[:])
		for range 3 { // from the third on, memo hits
			lim.seen = nil
			r := ask(t, w, cookieQuery(t, "www.example.org.", 1232, good))
			if r.Rcode != dns.RcodeSuccess || r.Truncated || len(r.Answer) != 2 {
				t.Fatalf("memo %v: good cookie: %v, want the answer, not limited", memo, r)
			}
			if len(lim.seen) != 0 {
				t.Errorf("memo %v: good cookie: the limit stage was asked %v", memo, lim.seen)
			}
			if c, n := replyCookie(r); n != 1 || len(c) != 2*24 || c[:16] != client {
				t.Errorf("memo %v: good cookie: reply cookie %q (%d)", memo, c, n)
			}

			r = ask(t, w, cookieQuery(t, "www.example.org.", 1232, client))
			if r.Rcode != dns.RcodeBadCookie || len(r.Answer) != 0 {
				t.Errorf("memo %v: client cookie, slipped: rcode %s, %d answers; want BADCOOKIE", memo, dns.RcodeToString[r.Rcode], len(r.Answer))
			}
			if c, n := replyCookie(r); n != 1 || len(c) != 2*24 || c[:16] != client {
				t.Errorf("memo %v: BADCOOKIE without the server cookie: %q (%d)", memo, c, n)
			}

			r = ask(t, w, cookieQuery(t, "www.example.org.", 1232))
			if r.Rcode != dns.RcodeSuccess || !r.Truncated || len(r.Answer) != 0 {
				t.Errorf("memo %v: no cookie, slipped: %v, want TC=1", memo, r)
			}
			if _, n := replyCookie(r); n != 0 {
				t.Errorf("memo %v: a cookie in the reply to a query without one", memo)
			}
		}
		if memo && w.MemoStats().Hits == 0 {
			t.Error("the memo served nothing: the memo path was not tested")
		}
	}
}
