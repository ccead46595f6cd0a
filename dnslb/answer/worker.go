package answer

import (
	"encoding/binary"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/cookie"
	"github.com/dnslb/dnslb/dnslb/rrl"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/dnslb/wire"
)

// The query path, in the manner of Knot DNS's query-processing layers:
// one query passes through named stages, in order,
//
//	parse → admit → decide → sign → encode → account → limit
//
// and a feature is a hook on a stage, not a branch inside another
// function. parse reads the question (the memo's key) and, when the memo
// has no reply, unpacks the message; decide (decide.go) makes the plan;
// encode (encode.go) writes it; account counts and logs it; limit (rate
// limiting) may drop it or slip it, memo replies included. The cookie
// stage (cookies.go) reads the COOKIE option before admit, for admit and
// limit to see, and adds the reply's cookie as the last step, to every
// reply (a slip's too). admit and sign (DNSSEC) are hooks the server
// does not set yet: a stage that is off is a nil check.
//
// The memo (memo.go, negcache.go) sits beside decide and encode, never
// instead of them: it holds what they wrote, keyed on the question and the
// values of the decision's points, and replays it.

// Admit is the admit stage: it sees each query before decide, with the
// client, and may drop it (no reply) or let it through.
type Admit interface {
	Admit(req *dns.Msg, c Client) bool
}

// Sign is the sign stage: it may change the reply decide made before it
// is encoded (DNSSEC: signatures, the DNSKEY RRset, denial of existence).
// It reports whether it signed the reply: such replies are memoized only
// when it also said until when they hold (Plan.KeepUntil: the end of the
// signatures' validity window); the others are, keyed on DO as always.
type Sign interface {
	Sign(p *Plan) bool
}

// TSIG is the stage of signed queries (RFC 8945): a query that carries a
// TSIG record goes to it whole, after parse. It returns the reply: its
// own (an error such as BADKEY), or what answer gives for the query
// without its TSIG (the stages from admit on), signed.
type TSIG interface {
	Signed(pkt []byte, req *dns.Msg, c Client, answer func(plain []byte) []byte) []byte
}

// Limit is the rate-limit stage (dnslb/rrl): it sees each UDP reply,
// from the memo or decided, just before it is sent, with its client,
// response class and account name (Plan.RateClass) and the arrival time,
// and says whether to send it, drop it or slip it (send a minimal reply
// instead: TC=1, or BADCOOKIE to a client that sent a cookie). TCP
// replies and clients with a good server cookie are exempt: the stage
// is not called for them.
type Limit interface {
	Limit(c Client, class rrl.Class, name string, now time.Time) Verdict
}

// Verdict is what the Limit stage says of a reply.
type Verdict uint8

// The verdicts.
const (
	SendReply Verdict = iota
	DropReply
	SlipReply
)

// Account is the account stage: what is counted and logged of each reply.
type Account interface {
	// Sampled tells whether the next query is logged in detail; a
	// sampled query skips the memo, so that the log gets its plan.
	Sampled() bool
	// Answered accounts one reply that decide and encode made, from
	// its arrival at start.
	Answered(req *dns.Msg, p *Plan, c Client, start time.Time, sampled bool)
	// Counter is the query counter of replies of (zone, qtype, rcode,
	// policy, transport), for the memo to keep with its entry; known is
	// false when the counter is a stand-in the memo must not keep (a zone
	// the metrics do not know yet). It may return nil.
	Counter(zone string, qtype uint16, rcode int, policy string, tcp bool) (c Counter, known bool)
}

// Counter is one query counter of the account stage.
type Counter interface{ Inc() }

// Stages are the hooks of the query path; a nil hook is off.
type Stages struct {
	TSIG TSIG // nil: a TSIG record is ignored
	// Cookies answers DNS Cookies (cookies.go); nil: off, a COOKIE
	// option is ignored.
	Cookies *Cookies
	Admit   Admit
	Sign    Sign
	Account Account // nil: nothing counted
	Limit   Limit   // nil: no rate limiting
}

// Worker answers queries, one at a time: it holds one serving goroutine's
// scratch space and memo, so nothing in it is shared and the query path
// takes no lock. Make one per serving goroutine.
type Worker struct {
	store  *state.Store
	stages Stages
	log    *slog.Logger
	req    dns.Msg
	qs     wire.QueryScratch // req's sections when wire.UnpackQuery took its fast path
	sc     replyScratch
	plan   Plan
	memo   *memo // nil: every query takes decide and encode
	fq     fastQuery
	fqs    []fastQuery                 // a batch's queries, parsed by Prefetch; made on first use
	ck     [cookie.ReplyLen]byte       // the reply's COOKIE option (the cookie stage)
	ckIn   [cookie.ClientLen + 32]byte // a query's COOKIE option, when miekg/dns unpacked it
	// untimed counts the replies from the memo since TakeUntimed.
	untimed int
}

// NewWorker returns a Worker answering from st's current snapshot, with
// the memo on; log gets debug lines only (the query path logs nothing
// above debug: clients control its volume).
func NewWorker(st *state.Store, stages Stages, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if stages.Account == nil {
		stages.Account = noAccount{}
	}
	w := &Worker{store: st, stages: stages, log: log}
	w.plan.shard = state.AnswerShard(workerIDs.Add(1) - 1)
	w.SetMemo(true)
	w.plan.msg = w.sc.newReply()
	return w
}

// workerIDs numbers the workers, for their shards of the names' answer
// counters (state.Answers): workers made one after another write apart.
var workerIDs atomic.Uint32

// SetMemo turns the memo on or off (off: every reply is decided and
// encoded, for tests and benchmarks that compare the two).
func (w *Worker) SetMemo(on bool) {
	switch {
	case on && w.memo == nil:
		w.memo = newMemo(w.memoRoom())
		w.memo.fast.shard = w.plan.shard
	case !on:
		w.memo = nil
	}
}

// memoRoom is what the memo's replies must leave free under 512 bytes:
// the cookie stage's option, when it is on.
func (w *Worker) memoRoom() int {
	if w.stages.Cookies != nil {
		return cookieRoom
	}
	return 0
}

// MemoStats is what the memo served and holds: replies from its entries
// (Hits, of which Rotated were made by rotating a held reply) and from
// its NXDOMAIN and REFUSED templates (NegHits); the entries held, and the
// bytes of their replies, apart (OtherBytes) for names that need not
// exist.
type MemoStats struct{ Hits, Rotated, NegHits, Entries, Bytes, OtherBytes int }

// MemoStats returns the memo's counts (zero with the memo off).
func (w *Worker) MemoStats() MemoStats {
	if w.memo == nil {
		return MemoStats{}
	}
	f := &w.memo.fast
	return MemoStats{Hits: f.hits, Rotated: f.perms, NegHits: w.memo.neg.hits, Entries: f.entries.n, Bytes: f.bytes, OtherBytes: f.anyB}
}

// TakeUntimed returns how many replies came from the memo since the last
// call: the caller times them together (a UDP batch at once).
func (w *Worker) TakeUntimed() int {
	n := w.untimed
	w.untimed = 0
	return n
}

// Idle lets go of what the worker holds of a generation that is no
// longer the current one: the memo's entries and templates and the last
// plan's snapshot and records. A worker that answers nothing would otherwise keep an
// old generation (every zone of it) alive after a reload; serving loops
// call Idle when they have waited a while with nothing to answer. It
// costs a pointer comparison when nothing changed.
func (w *Worker) Idle() {
	snap := w.store.Snapshot()
	w.plan.snap = nil
	if w.plan.recs != nil {
		w.plan.recs.Reset() // the last reply's records point into its zones
	}
	if w.memo == nil {
		return
	}
	if f := &w.memo.fast; f.snap != nil && f.snap != snap {
		f.reset(nil)
	}
	if n := &w.memo.neg; n.snap != nil && n.snap != snap {
		clear(n.tmpl)
		n.refused = [16]*negTemplate{}
		n.snap = nil
	}
}

// maxBatch bounds the datagrams Prefetch looks at in one call.
const maxBatch = 64

// Prefetch parses the queries of a batch of datagrams (from the sources
// from, one per datagram) for the memo and starts reading the memo's
// entries for all of them at once, and the GeoIP tables where the
// clients' lookups will read them (see fastCache.prefetch); Answer then
// takes each parsed query as pre. It returns nil with the memo off.
func (w *Worker) Prefetch(pkts [][]byte, from []netip.AddrPort) []Parsed {
	if w.memo == nil || len(pkts) < 2 {
		return nil
	}
	if w.fqs == nil {
		w.fqs = make([]fastQuery, maxBatch)
	}
	qs := w.fqs[:min(len(pkts), maxBatch)]
	w.memo.fast.prefetch(pkts, from, qs)
	return qs
}

// Parsed is a query parsed for the memo's key (by Prefetch).
type Parsed = fastQuery

// noAccount counts nothing.
type noAccount struct{}

func (noAccount) Sampled() bool                                     { return false }
func (noAccount) Answered(*dns.Msg, *Plan, Client, time.Time, bool) {}
func (noAccount) Counter(string, uint16, int, string, bool) (Counter, bool) {
	return nil, true
}

// Answer is the reply to a query over UDP or (tcp) TCP that arrived at
// start (the UDP loop reads the clock once per batch: the metrics'
// durations then run from the batch's arrival). It runs the stages of
// the query path in order: parse (the memo's key, and unpacking when the
// memo has no reply), decide, encode, account. A reply from the memo is
// counted apart, and the caller takes them with TakeUntimed,
// for a UDP batch at once before it is sent. The memo's replies serve
// both transports: they are never cut, and fit 512 bytes.
//
// pre, if not nil, is pkt already parsed for the memo
// (Prefetch); otherwise Answer parses it.
func (w *Worker) Answer(pkt []byte, from netip.AddrPort, buf []byte, tcp bool, start time.Time, pre *Parsed) []byte {
	// Like miekg/dns: no reply to anything without a full header, or to
	// responses (any reply could be used to reflect or loop).
	if len(pkt) < 12 || binary.BigEndian.Uint16(pkt[2:])&(1<<15) != 0 {
		return nil
	}
	snap := w.store.Snapshot()
	acct := w.stages.Account
	sampled := acct.Sampled()

	// parse: the memo's key, and the memo's reply if it holds one.
	var fq *fastQuery // the query, if it qualifies for the memo
	var replay []point
	var lk limitKey
	if w.memo == nil || sampled || w.stages.Admit != nil {
		pre = nil // decide and encode (a logged query: the log wants the Plan)
	} else if pre == nil {
		pre = &w.fq
		pre.parse(pkt)
	}
	c := Client{Addr: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), TCP: tcp}
	if pre != nil && pre.ok {
		fq = pre
		out, values, fill := w.memo.fast.get(acct, snap, fq, from.Addr(), pkt, buf, tcp, start, &lk)
		if out == nil && !fill {
			out = w.memo.neg.answer(acct, snap, fq, pkt, buf, tcp, &lk)
		}
		if out != nil {
			w.untimed++
			var withCookie bool
			c.Cookie, withCookie = w.memoCookie(fq, c.Addr.Addr())
			f := fq.Flags() // the flags: RD, OPT (2), DO (4)
			out = w.limit(out, c, lk, f&2 != 0, f&4 != 0, snap.UDPSize, start)
			if withCookie && out != nil {
				out = w.addCookie(out)
			}
			return out
		}
		replay = values
	}
	req := &w.req
	if err := wire.UnpackQuery(req, &w.qs, pkt); err != nil {
		return w.limit(wire.FormErr(req, buf), c, limitKey{class: rrl.Error}, false, false, snap.UDPSize, start)
	}

	// tsig: a signed query is checked, and its reply signed
	if w.stages.TSIG != nil && hasTSIG(req) {
		return w.stages.TSIG.Signed(pkt, req, c, func(plain []byte) []byte { return w.Answer(plain, from, buf, tcp, start, nil) })
	}

	// cookies: what the COOKIE option showed, for admit; the reply's
	// option is added after encode
	withCookie := false
	if w.stages.Cookies != nil {
		switch w.checkCookie(req, c.Addr.Addr()) {
		case cookie.Malformed:
			return w.limit(formErrEDNS(req, snap.UDPSize, buf), c, limitKey{class: rrl.Error}, true, false, snap.UDPSize, start)
		case cookie.Good:
			c.Cookie, withCookie = GoodCookie, true
		case cookie.ClientOnly, cookie.Bad:
			c.Cookie, withCookie = ClientCookie, true
		}
	}

	// admit
	if w.stages.Admit != nil && !w.stages.Admit.Admit(req, c) {
		return nil
	}

	// decide
	p := &w.plan
	p.replay = replay
	defer w.sc.release()
	if !decide(snap, req, c, p) {
		return nil
	}

	// sign
	p.start = start
	if w.stages.Sign != nil && w.stages.Sign.Sign(p) && p.until == 0 {
		fq = nil // signed, and not said for how long: not memoized
	}

	// encode, with room for the cookie over UDP
	if withCookie && p.limit > 0 {
		p.limit -= cookieRoom
	}
	out, err := encode(p, buf)
	if err != nil {
		w.log.Debug("pack reply", "err", err)
		return nil
	}
	if fq != nil {
		w.memo.fast.put(fq, p, out)
		if p.until == 0 { // a signed reply names its query (RRSIG, NSEC owners): never a template (put checks the shape too)
			w.memo.neg.put(fq, p, out)
			w.memo.neg.putRefused(fq, p, out)
		}
	}

	// account
	acct.Answered(req, p, c, start, sampled)

	// limit, then the reply's cookie (a slip gets one too)
	out = w.limit(out, c, limitKey{p.class, p.acct}, p.edns, p.do, snap.UDPSize, start)
	if withCookie && out != nil {
		out = w.addCookie(out)
	}
	return out
}

// limitKey is a reply's rate-limit account: what Plan.RateClass says,
// kept by the memo with its replies.
type limitKey struct {
	class rrl.Class
	name  string
}

// limit is the limit stage: out as it is, nil (drop), or out made the
// slip reply (edns, do: the query had an OPT record, with DO; udpSize is
// ours).
func (w *Worker) limit(out []byte, c Client, k limitKey, edns, do bool, udpSize int, now time.Time) []byte {
	if w.stages.Limit == nil || c.TCP || c.Cookie == GoodCookie || out == nil {
		return out
	}
	switch w.stages.Limit.Limit(c, k.class, k.name, now) {
	case DropReply:
		return nil
	case SlipReply:
		return wire.Slip(out, edns, do, udpSize, c.Cookie == ClientCookie)
	}
	return out
}

// hasTSIG reports whether req carries a TSIG record (the last one of
// the additional section, where it belongs, or anywhere: the TSIG stage
// answers a misplaced one with FORMERR).
func hasTSIG(req *dns.Msg) bool {
	for _, rr := range req.Extra {
		if rr.Header().Rrtype == dns.TypeTSIG {
			return true
		}
	}
	return false
}

// scratchRRs is the capacity of each reused reply section: enough for
// the common answers (a few addresses, a referral with its glue). Larger
// sections grow by append into new arrays, which are not kept.
const scratchRRs = 16

// replyScratch is a serving goroutine's reply message and the section
// arrays it reuses from query to query. Only records are stored in the
// arrays, never written through: the store's records stay untouched.
type replyScratch struct {
	msg               dns.Msg
	answer, ns, extra [scratchRRs]dns.RR
}

// newReply returns the scratch reply, its sections the scratch arrays.
func (sc *replyScratch) newReply() *dns.Msg {
	sc.msg = dns.Msg{Answer: sc.answer[:0], Ns: sc.ns[:0], Extra: sc.extra[:0]}
	return &sc.msg
}

// release drops the records the last reply left in the arrays, so that
// they do not keep an old snapshot's zones alive, and gives the message
// the arrays back (a large reply grew new ones).
func (sc *replyScratch) release() {
	clearRRs(sc.answer[:])
	clearRRs(sc.ns[:])
	clearRRs(sc.extra[:])
	sc.newReply()
}

// clearRRs clears the prefix of rrs that appends filled: they fill from
// the start, so the first nil ends it.
func clearRRs(rrs []dns.RR) {
	for i := range rrs {
		if rrs[i] == nil {
			return
		}
		rrs[i] = nil
	}
}
