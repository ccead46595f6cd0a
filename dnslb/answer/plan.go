package answer

import (
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/dnslb/rrl"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

// Client is where a query came from.
type Client struct {
	Addr netip.AddrPort
	TCP  bool
	// Cookie is what the query's DNS cookie option (RFC 7873) showed:
	// set by the cookie check before admit; rate limiting reads it.
	Cookie CookieState
}

// CookieState is what a query's COOKIE option showed.
type CookieState uint8

const (
	NoCookie     CookieState = iota // no COOKIE option (or cookies off)
	ClientCookie                    // a client cookie alone, or a server cookie that did not verify
	GoodCookie                      // a server cookie this server (or its fleet) made, still fresh
)

// plan is what decide made of one query: the reply's header and sections,
// and everything the encoder and the memo of encoded replies need. The
// sections hold the generation's own records (never changed), or copies
// where this query changed a TTL or an owner name.
type Plan struct {
	msg  *dns.Msg // header, question and sections; encode adds the OPT record
	snap *state.Snapshot
	// recs holds the A and AAAA records made for this reply from the
	// zone's address sets (zones.RRset.AppendRR): reset reuses them, so
	// nothing keeps a record of the sections past the reply.
	recs *zones.Scratch

	// EDNS (RFC 6891): whether the reply carries our OPT record and its DO
	// bit, the ECS option to echo (nil: none) with the scope the answer
	// depended on (RFC 7871 section 7.2.1), and an Extended DNS Error
	// (RFC 8914), edeNone for none.
	edns  bool
	do    bool
	co    bool // the query's CO flag (RFC 9824): NXDOMAIN asked for, echoed
	ecs   *dns.EDNS0_SUBNET
	echo  bool
	scope int
	ede   uint16
	nsid  bool   // the query asked for our NSID, and we have one (RFC 5001)
	deleg string // a referral's delegation point (RFC 9471 glue rules)

	limit int    // the size a UDP reply must fit (truncate); 0 over TCP
	asked string // the question name as asked, when not in lower case
	cut   bool   // encode had to leave records out to fit limit

	// The query's client, after ECS, for the selections.
	client netip.Addr
	source int // ECS source prefix after capping; -1 without ECS

	zone   string // origin of the zone answering, for metrics
	policy string // the first policy applied, for metrics and the query log

	// The reply's rate-limit account (dnslb/rrl): its class and the name
	// counted (the query name, wildcard owner, zone or delegation point).
	class rrl.Class
	acct  string

	// How the memo may keep the reply: whether it holds records made for
	// this query's name (wildcard, DNAME: anyone can make such names),
	// whether it may be kept at all, and the decision points: each choice
	// decide made that another query for the same question could make
	// differently. Their values are the decision key.
	synth    bool
	noMemo   bool
	points   []point // in pointsBuf
	replay   []point // values to take instead of choosing (memo fills a key)
	replayed int     // how many of replay were taken
	counters []atomic.Uint32
	shard    int // the worker's shard of the names' answer counters (state.AnswerShard)

	// The query's arrival (Arrival), set after decide, and the sign
	// stage's KeepUntil in Unix seconds (0: not said).
	start time.Time
	until int64

	pointsBuf [maxPoints]point
	q         [1]dns.Question // the question in lower case, when asked otherwise

	// The encoder's EDNS records, reused from query to query.
	opt     dns.OPT
	options [3]dns.EDNS0
	ecsOut  dns.EDNS0_SUBNET
	edeOut  dns.EDNS0_EDE
	nsidOut dns.EDNS0_NSID
}

// Msg is the reply decide made (the OPT record is the encoder's).
func (p *Plan) Msg() *dns.Msg { return p.msg }

// DO reports whether the query asked for DNSSEC records (RFC 3225).
func (p *Plan) DO() bool { return p.do }

// CO reports whether the query's EDNS flags carry CO (RFC 9824 section
// 4): the client wants the NXDOMAIN rcode of a compact denial.
func (p *Plan) CO() bool { return p.co }

// Snapshot is the generation the reply was decided from.
func (p *Plan) Snapshot() *state.Snapshot { return p.snap }

// Arrival is when the query arrived (what the serving loop read the
// clock as, for its batch): the sign stage signs as of then, and the
// memo ages what it signed from the same clock.
func (p *Plan) Arrival() time.Time { return p.start }

// KeepUntil is the sign stage's word that the reply it signed is the
// reply to every query of the same question and decision key until t
// (the end of its signatures' validity window): the memo may keep it
// that long. A signed reply without it is not memoized.
func (p *Plan) KeepUntil(t time.Time) { p.until = t.Unix() }

// Delegation is a referral's delegation point, "" for other replies.
func (p *Plan) Delegation() string { return p.deleg }

// Zone is the origin of the zone that answered, "" for none.
func (p *Plan) Zone() string { return p.zone }

// RateClass is the reply's response class and the name its rate-limit
// account counts it under (see dnslb/rrl).
func (p *Plan) RateClass() (rrl.Class, string) { return p.class, p.acct }

// Policy names the first policy the answer applied, "" for none.
func (p *Plan) Policy() string { return p.policy }

// edeNone is plan.ede without an Extended DNS Error.
const edeNone = 0xffff

// maxPoints is how many decision points a reply the memo keeps may have;
// a reply with more is never kept.
const maxPoints = 4

// pointKind says what a decision point chooses.
type pointKind uint8

const (
	pointRotation pointKind = iota + 1 // a zone RRset's round-robin order
	pointShuffle                       // rotate = "random": a zone RRset's order drawn at random
	pointPolicy                        // a load-balanced name's selection
)

// maxChoice is the most records a point's value orders (a shuffle's
// permutation, a policy's addresses); larger ones are never kept.
const maxChoice = 16

// point is one decision point and the value taken there. decide makes
// the points as it meets them and takes each one's value (take); the
// memo keeps a reply's points without their values and takes them again
// for the next query of the same question: the same function on the
// same generation, so a key made of the values names one reply.
type point struct {
	kind pointKind
	n    int             // records of the RRset (rotation, shuffle)
	ctr  *atomic.Uint32  // the RRset's round-robin counter (rotation)
	view *state.NameView // the name (policy)
	fam  policy.Family   // the family asked (policy)

	// The value.
	k      int              // rotation: the order
	order  [maxChoice]uint8 // shuffle: the permutation; policy: the addresses (as policy.Policy.Addr indexes)
	norder int
	d      policy.Decision // policy: what Select gave, Addrs nil (see order)
}

// take chooses the point's value for query context c: steps the
// counter, draws the order, or runs the name's selection.
func (pt *point) take(c *selectCtx) bool {
	switch pt.kind {
	case pointRotation:
		pt.k = 0
		if pt.ctr != nil {
			pt.k = int((pt.ctr.Add(1) - 1) % uint32(pt.n))
		}
	case pointShuffle:
		if pt.n > maxChoice {
			return false
		}
		for i := range pt.n {
			pt.order[i] = uint8(i)
		}
		o := pt.order[:pt.n]
		c.rand().Shuffle(pt.n, func(i, j int) { o[i], o[j] = o[j], o[i] })
		pt.norder = pt.n
	case pointPolicy:
		p := pt.view.Policy
		q := policy.Query{Client: c.client, Family: pt.fam, Choices: c.choices}
		if c.source >= 0 {
			q.ECS, q.SourcePrefix = true, c.source
		}
		var buf [maxChoice]netip.Addr
		out := buf[:0]
		if n := p.NumAddrs(); n > len(buf) {
			out = make([]netip.Addr, 0, n)
		}
		d := p.Select(&q, pt.view, c.geo, c.rand(), out)
		if len(d.Addrs) > maxChoice {
			return false
		}
		pt.norder = len(d.Addrs)
		for i, a := range d.Addrs {
			pt.order[i] = uint8(p.AddrIndex(a))
		}
		// Field by field, leaving Addrs (buf) and Group (a string
		// Select may take from anywhere, so escape analysis counts it
		// as buf's) behind: buf stays on the stack.
		pt.d = policy.Decision{Scope: d.Scope, TTL: d.TTL, HasTTL: d.HasTTL, AllDown: d.AllDown,
			Action: d.Action, Rotations: d.Rotations, Rotation: d.Rotation}
	}
	return true
}

// lead returns the address (as a policy.Policy.Addr index) that the
// reply of a policy point's value leads with, as selectRRs makes it: the
// first address of the order that is not drained; -1 when the reply
// holds none (when_all_down's servfail or nodata).
func (pt *point) lead() int {
	d, v := &pt.d, pt.view
	if d.AllDown && (d.Action == policy.Servfail || d.Action == policy.Nodata) {
		return -1
	}
	for _, x := range pt.order[:pt.norder] {
		if !v.Degraded() || !v.Drained(v.Policy.Addr(int(x))) {
			return int(x)
		}
	}
	return -1
}

// sameKind reports whether pt is the point that r is a value of: the
// same choice, made over the same records or name.
func (pt *point) sameKind(r *point) bool {
	return pt.kind == r.kind && pt.n == r.n && pt.ctr == r.ctr && pt.view == r.view && pt.fam == r.fam
}

// appendKey appends the point's value to a decision key: what the reply
// depends on, and nothing else (not the ECS scope, which the memo writes
// per query).
func (pt *point) appendKey(key []byte) []byte {
	switch pt.kind {
	case pointRotation:
		return append(key, byte(pt.k))
	case pointShuffle:
		return append(key, pt.order[:pt.norder]...)
	}
	var f byte
	if pt.d.AllDown {
		f = 1 | byte(pt.d.Action)<<1
	}
	key = append(key, f, byte(pt.norder))
	return append(key, pt.order[:pt.norder]...)
}

// selectCtx is what taking a point reads besides the point: the client
// and the generation's GeoIP data, and a random source: the caller's own
// (the memo's, one per serving goroutine), or one from randPool taken on
// first use.
type selectCtx struct {
	client netip.Addr
	source int // ECS source prefix, -1 without ECS
	geo    policy.Locator
	r      *rand.Rand
	pooled bool // r is randPool's: done returns it
	// choices is the memo's geo choices (its hits only; nil elsewhere).
	choices *policy.Choices
}

func (c *selectCtx) rand() *rand.Rand {
	if c.r == nil {
		c.r, c.pooled = randPool.Get().(*rand.Rand), true
	}
	return c.r
}

// done returns the random source, if one was taken from randPool.
func (c *selectCtx) done() {
	if c.pooled {
		randPool.Put(c.r)
		c.r, c.pooled = nil, false
	}
}
