package answer

import (
	"hash/maphash"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/dnslb/rrl"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/dnslb/wire"
)

// memo is one serving worker's memo of encoded replies: the replies
// encode wrote (fastCache), keyed by question, flags and decision key,
// and the NXDOMAIN and REFUSED templates (negCache). Nothing in it is
// shared: the worker uses it without locks.
type memo struct {
	fast fastCache
	neg  negCache
}

// memoBytes is what each budget of the memos of GOMAXPROCS workers holds
// at most together: the answers, and the replies anyone can make keys
// for (new names, wildcard names). A server has GOMAXPROCS workers per
// listen address for UDP and GOMAXPROCS for TCP, so one listen address
// bounds them at 2 x 2 x 64 MB, plus 2 x 4 MB of doorkeepers (fastSeen);
// they fill only as far as questions are asked.
const memoBytes = 64 << 20

// newMemo returns an empty memo whose UDP replies leave room bytes free
// under 512 (the cookie stage's option, which is added to every reply
// to a query with a cookie).
func newMemo(room int) *memo {
	per := max(1<<20, memoBytes/runtime.GOMAXPROCS(0))
	return &memo{fast: fastCache{max: per, anyMax: per, room: room}, neg: negCache{room: room}}
}

// fastCache is the memo of encode: the replies to the common queries as
// bytes, so that answering one costs a parse of the datagram, a table
// lookup, the query's decisions and a copy: no unpacking, lookup or
// packing.
//
// A query qualifies (fastQuery.parse) when it is exactly one question,
// opcode QUERY, and at most an OPT record with version 0, no flags but
// DO and CO, and no option but one well-formed EDNS Client Subnet and one
// well-formed DNS cookie (which decide ignores; the cookie stage adds
// the reply's cookie to the memo's reply as to encode's). decide's reply then depends on
// the question, RD, whether there was an OPT and its DO and CO bits
// (the sign stage's too: it signs with DO, and CO keeps NXDOMAIN), the
// generation (zones, health, overrides, serving settings, GeoIP data),
// and the values its decision points took (plan.points): the round-robin
// orders and the names' selections. Those values are the decision key:
// for a geo or nearest name the group chosen and its order, not the
// client's subnet, so every client of one data centre shares the reply.
// The ECS option is the query's, echoed with the scope of this query's
// selection: written in per query, with the ID and the question's case.
//
// An entry is kept per question and flags. A reply without decision
// points is held there; one whose only point is a zone RRset's rotation
// holds one slot per order (or one reply whose records rotate: perm),
// and the hit steps the counter as decide would. Any other entry holds
// the points without their values (the recipe): a hit takes them again
// (point.take, decide's own code), and the reply is under the question's
// key extended with the values. When the reply for the values taken is
// not held, decide runs with those values (plan.replay) and encode's
// bytes are kept: the same code makes cached and uncached replies.
//
// A new generation drops everything, and so does the end of the
// validity window of a signed reply held (the sign stage's
// Plan.KeepUntil; a signed reply without it is not kept). Not kept: replies cut by
// truncation or too large to fit 512 bytes with any ECS option, replies
// with Extended DNS Errors, REFUSED (negCache has a template), replies
// with more than maxPoints points or a point of more than maxChoice
// records. Replies for names that need not exist (NXDOMAIN, NODATA,
// referrals, wildcard and DNAME answers, every type at a CNAME: whoever
// asks can make endless keys) have a budget of their own, dropped alone
// when it is spent; they are kept only from their key's second query
// (admit).
type fastCache struct {
	snap    *state.Snapshot // the generation the entries were made from
	until   int64           // Unix seconds: the earliest end of a held signed reply's window (Plan.KeepUntil); 0: none held
	entries fastTable
	bytes   int // held by answers, about; at max all are dropped
	max     int
	anyB    int // bytes of replies for names that need not exist (fastReply.any); at anyMax they are dropped
	anyMax  int
	room    int            // bytes every reply leaves free under 512: the cookie stage's (newMemo)
	shard   int            // the worker's shard of the names' answer counters (Worker.Answer sets it)
	rng     *rand.Rand     // the policies' random source on replays
	choices policy.Choices // the geo choices of the hits' selections, of snap
	hits    int            // replies served (for tests)
	perms   int            // replies made by rotating a held one (for tests)
	sink    uint64
	seen    []uint16 // the doorkeeper (see admit); made on first use
	seed    maphash.Seed
	key     [fastKeyMax]byte     // a decision key being made
	replay  [maxPoints]point     // the values a hit took, for decide when the reply is not held
	tmpl    [minUDPSize]byte     // a reply being kept, its question in lower case
	clients [maxBatch]netip.Addr // a batch's clients, for geoWarmer (prefetch)
}

// fastSeen is the size of the doorkeepers of GOMAXPROCS workers together
// (4 MB): fingerprints of keys whose reply was not kept because it was
// the first time they were asked. It must be large against the keys asked
// between two queries of one key.
const fastSeen = 1 << 21

// seenSlots is one worker's doorkeeper size: a power of two.
func seenSlots() int {
	n := 1 << 16
	for n < fastSeen/runtime.GOMAXPROCS(0) {
		n <<= 1
	}
	return n
}

// fastKeyMax is the longest key: a name, type, class, the flags, and the
// values of maxPoints points.
const fastKeyMax = 255 + 4 + 1 + maxPoints*(2+maxChoice)

// fastEntryBytes is what an entry costs beyond its buffer;
// fastRotations is the most orders a rotation entry holds (filled is a
// bitmask), so RRsets of more addresses are kept by decision key;
// maxDecisions bounds the replies one question keeps by decision key (a
// weighted pick over many addresses has many orders).
const (
	fastEntryBytes = 160
	fastRotations  = 64
	maxDecisions   = 64
)

// fastReply is one entry: buf holds the key followed by one slot of size
// bytes per order, in the same allocation as the struct (newFastReply),
// so a hit reads the table's slot and then one run of memory: the
// processor's caches miss few times (the table holds entries for every
// name asked for, and the kernel's work between queries evicts them).
// Slot k holds order k once filled has bit k; every order's reply has the
// size of the first, others are not kept. With a recipe the entry holds
// no reply: the replies are under the key extended with the values.
type fastReply struct {
	buf       []byte // the key (never written after the entry is made), then the slots
	klen      uint16
	n         uint16 // orders of the rotation (1 without)
	size      uint16 // of each reply; 0 until the first is kept
	filled    uint64
	recipe    []point // the decision points, their values not taken
	decisions int     // replies kept under this recipe's keys
	any       bool    // under the budget of keys anyone can make (put)
	perm      bool    // one reply held, the others made by rotating its answer (permuted)
	noEcho    bool    // no ECS echo (SERVFAIL)
	k0        uint8   // perm: the order the held reply is
	ans, rec  uint16  // perm: where the answer records start, and each one's length
	scope     uint8   // the ECS scope of the replies without a policy point
	qtype     uint16
	rcode     uint16
	rot       *atomic.Uint32 // the rotation's counter (n > 1)
	counted   [2]Counter     // the metrics' counters of the replies over UDP and TCP, found on first use
	zone      string         // for metrics
	policy    string
	class     rrl.Class // the rate-limit account (Plan.class, Plan.acct)
	acct      string
}

// key returns the entry's key, at the start of buf.
func (r *fastReply) key() []byte { return r.buf[:r.klen] }

// get writes the reply to q (from client from, in generation snap) into
// buf, if it is held, and counts it in the metrics (tcp is its
// transport; the caller times it). When the question is known but the
// reply for the values its decision points took now is not held yet, it
// returns no reply but those values, with fill set: decide must make the
// reply with them.
//
// With a reply, lk gets its rate-limit account.
func (c *fastCache) get(acct Account, snap *state.Snapshot, q *fastQuery, from netip.Addr, pkt, buf []byte, tcp bool, now time.Time, lk *limitKey) (out []byte, replay []point, fill bool) {
	// A signed reply is of its signatures' validity window: once the
	// window ends, everything goes as for a new generation, so the window
	// is part of every held signed reply's key (the next one is kept anew).
	if snap != c.snap || c.until != 0 && now.Unix() >= c.until {
		c.reset(snap)
		return nil, nil, false
	}
	e := c.entries.findHash(q.Key, q.h)
	if e == nil {
		return nil, nil, false
	}
	rot, scope := 0, int(e.scope)
	if e.recipe != nil {
		if c.rng == nil {
			c.rng = randPool.Get().(*rand.Rand) // kept: the memo is one goroutine's
		}
		sc := selectCtx{geo: snap.Geo(), source: -1, r: c.rng, choices: &c.choices}
		if q.ECS != nil {
			sc.client, sc.source = ecsClient(q.ECS)
		} else {
			sc.client = from.Unmap()
		}
		key := append(c.key[:0], q.Key...)
		replay = c.replay[:len(e.recipe)]
		scope = 0
		for i := range e.recipe {
			pt := &replay[i]
			*pt = e.recipe[i]
			if !pt.take(&sc) {
				sc.done()
				return nil, nil, false
			}
			if pt.kind == pointPolicy {
				scope = max(scope, pt.d.Scope)
			}
			key = pt.appendKey(key)
		}
		sc.done()
		if e = c.entries.find(key); e == nil {
			return nil, replay, true
		}
	} else if e.n > 1 {
		rot = int((e.rot.Add(1) - 1) % uint32(e.n)) // as decide steps it (plan.appendOrdered)
		if e.filled&(1<<rot) == 0 {
			replay = c.replay[:1]
			replay[0] = point{kind: pointRotation, n: int(e.n), ctr: e.rot, k: rot}
			return nil, replay, true
		}
	}
	size := int(e.size)
	if e.filled&(1<<rot) == 0 || size+len(q.ECS)+c.room > len(buf) {
		return nil, nil, false
	}
	if e.perm {
		e.permuted(buf, rot)
		c.perms++
	} else {
		at := int(e.klen) + rot*size
		copy(buf, e.buf[at:at+size])
	}
	out = buf[:size]
	out[0], out[1] = pkt[0], pkt[1] // the ID
	if q.Mixed {
		copy(out[12:], q.Qname) // the question as asked
	}
	if q.ECS != nil && !e.noEcho {
		// Our OPT record ends the reply with no data: the option goes
		// after it (RFC 7871 section 7.2.1: as asked, with our scope).
		out = wire.EchoECS(out, q.ECS, byte(scope))
	}
	c.hits++
	for i := range replay {
		if pt := &replay[i]; pt.kind == pointPolicy {
			pt.view.Answers.Add(c.shard, pt.lead()) // the shares, as selectRRs counts them
		}
	}
	lk.class, lk.name = e.class, e.acct
	t := 0
	if tcp {
		t = 1
	}
	ref := e.counted[t]
	if ref == nil {
		var known bool
		ref, known = acct.Counter(e.zone, e.qtype, int(e.rcode), e.policy, tcp)
		if known {
			// Kept only once the zone is known to the metrics: a
			// reload publishes the snapshot before it announces new
			// zones, and until then they count under "none".
			e.counted[t] = ref
		}
	}
	if ref != nil {
		ref.Inc()
	}
	return out, nil, false
}

func (c *fastCache) reset(snap *state.Snapshot) {
	c.entries.clear()
	c.choices.Reset()
	c.snap = snap
	c.bytes, c.anyB = 0, 0
	c.until = 0
}

// put keeps wire, the encoded reply p to q, if it qualifies.
func (c *fastCache) put(q *fastQuery, p *Plan, reply []byte) {
	m := p.msg
	if p.snap != c.snap || p.noMemo || p.cut || m.Truncated || len(m.Question) != 1 ||
		m.Rcode == dns.RcodeRefused || p.ede != edeNone {
		return
	}
	t, ok := wire.WithoutECS(&q.Query, reply)
	if !ok || len(t)+4+4+16+c.room > minUDPSize {
		return
	}
	// The memo keeps the question in lower case (as its key has it) and
	// writes it as asked per query.
	tmpl := c.tmpl[:copy(c.tmpl[:], t)]
	copy(tmpl[12:], q.Key[:len(q.Qname)])
	// Entries bounded by the zones' contents (an answer of the type
	// asked, for a name that exists) share the main budget; the rest can
	// be made without end by whoever asks (new names, every type at a
	// CNAME).
	qtype := m.Question[0].Qtype
	any := m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 || p.synth || m.Answer[0].Header().Rrtype != qtype
	n, k := 1, 0
	var ctr *atomic.Uint32
	key := q.Key
	switch pts := p.points; {
	case len(pts) == 0:
	case len(pts) == 1 && pts[0].kind == pointRotation && pts[0].n <= fastRotations:
		n, k, ctr = pts[0].n, pts[0].k, pts[0].ctr
	default:
		r := c.entries.find(key)
		if r == nil {
			if any && !c.admit(key) {
				return
			}
			r = newFastReply(len(key))
			copy(r.buf, key)
			r.klen, r.n = uint16(len(key)), 1
			r.recipe = make([]point, len(pts))
			for i, pt := range pts {
				r.recipe[i] = point{kind: pt.kind, n: pt.n, ctr: pt.ctr, view: pt.view, fam: pt.fam}
			}
			if !c.add(r, any) {
				return
			}
		} else if r.recipe == nil || len(r.recipe) != len(pts) {
			return
		}
		for i := range pts {
			if !r.recipe[i].sameKind(&pts[i]) {
				return
			}
		}
		if r.decisions >= maxDecisions {
			return
		}
		r.decisions++
		key = append(c.key[:0], key...)
		for i := range pts {
			key = pts[i].appendKey(key)
		}
		// Replies under a recipe are bounded by its decisions: no
		// doorkeeper for them.
		any = r.any
	}
	r := c.entries.find(key)
	if r == nil {
		// A key anyone can make is kept only from its second query: one
		// asked once (a flood of new names or types) costs a hash.
		if any && len(p.points) <= 1 && !c.admit(key) {
			return
		}
		slots := n
		ans, rec, perm := wire.PermShape(tmpl, len(q.Qname), n)
		if perm {
			slots = 1
		}
		r = newFastReply(len(key) + slots*len(tmpl))
		copy(r.buf, key)
		r.klen, r.n, r.size, r.qtype = uint16(len(key)), uint16(n), uint16(len(tmpl)), qtype
		r.perm, r.ans, r.rec = perm, uint16(ans), uint16(rec)
		r.rcode, r.scope, r.zone, r.policy = uint16(m.Rcode), uint8(p.scope), p.zone, p.policy
		r.noEcho, r.rot = p.msg.Rcode == dns.RcodeServerFailure, ctr // as decide sets p.echo
		r.class, r.acct = p.class, p.acct
		if !c.add(r, any) {
			return
		}
	}
	if r.recipe != nil || int(r.n) != n || int(r.size) != len(tmpl) || r.filled&(1<<k) != 0 {
		return
	}
	if p.until != 0 && (c.until == 0 || p.until < c.until) {
		c.until = p.until
	}
	switch {
	case !r.perm:
		copy(r.buf[int(r.klen)+k*len(tmpl):], tmpl)
	case r.filled == 0:
		copy(r.buf[r.klen:], tmpl)
		r.k0 = uint8(k)
		// A zone RRset's order k answers RRs[k:] then RRs[:k]
		// (plan.appendOrdered), and permShape found the answer to be
		// those records, each of one shape: every order is this one's
		// records rotated, and is held from now on.
		r.filled = ^uint64(0) >> (64 - n)
	}
	r.filled |= 1 << k
}

// permuted writes rotation k of a perm entry's replies into out: the
// held reply (rotation k0) with its answer records rotated by k-k0, as
// the full path's round-robin rotates them (put checks each rotation
// against the full path's reply before it is served).
func (r *fastReply) permuted(out []byte, k int) {
	n := int(r.n)
	wire.Rotate(out, r.buf[r.klen:int(r.klen)+int(r.size)], int(r.ans), int(r.rec), n, (k-int(r.k0)+n)%n)
}

// prefetch parses each datagram of a batch (pkts, from the sources from)
// into qs (for answerOn to use) and reads, for each query, the table slot
// and then the entry that answering it will read, and for an entry with a
// recipe the GeoIP tables where its client's lookup will read (Set.Warm).
// Nothing depends on those reads but a sum, so the processor has them all
// in flight at once and the cache misses of a batch are waited for
// together, not one query after another.
func (c *fastCache) prefetch(pkts [][]byte, from []netip.AddrPort, qs []fastQuery) {
	var slots [maxBatch]*fastSlot
	var of [maxBatch]uint8 // the query of each slot
	n := 0
	for i, p := range pkts[:min(len(pkts), len(qs), maxBatch)] {
		q := &qs[i]
		q.ok = false
		if len(p) < 12 || !q.parse(p) || c.entries.n == 0 {
			continue
		}
		q.h = c.entries.hash(q.Key)
		slots[n], of[n] = &c.entries.slots[q.h&uint64(len(c.entries.slots)-1)], uint8(i)
		n++
	}
	var sum uint64
	for _, s := range slots[:n] {
		sum += s.h
	}
	var ents [maxBatch]*fastReply
	m := 0
	for j, s := range slots[:n] {
		if e := s.e; e != nil {
			sum += uint64(e.klen)
			ents[m], of[m] = e, of[j]
			m++
		}
	}
	// Then the key, the held reply's first and last bytes, the rotation
	// counter, and for a recipe (a name's selection, taken again on the
	// hit) the GeoIP tables where the client's lookup will read them.
	clients := &c.clients // not on the stack: Warm is an interface's, which its argument escapes through
	nc := 0
	for j, e := range ents[:m] {
		sum += uint64(e.buf[0])
		if end := int(e.klen) + int(e.size); e.perm && end <= len(e.buf) {
			sum += uint64(e.buf[e.klen]) + uint64(e.buf[end-1])
		}
		if e.rot != nil {
			sum += uint64(e.rot.Load())
		}
		if e.recipe == nil {
			continue
		}
		switch q, i := &qs[of[j]], int(of[j]); {
		case q.ECS != nil:
			clients[nc], _ = ecsClient(q.ECS)
			nc++
		case i < len(from):
			clients[nc] = from[i].Addr().Unmap()
			nc++
		}
	}
	if nc > 1 && c.snap != nil {
		if warm, ok := c.snap.Geo().(geoWarmer); ok {
			sum += uint64(warm.Warm(clients[:nc]))
		}
	}
	c.sink += sum
}

// geoWarmer is GeoIP data that can start reading its tables for a batch
// of lookups ahead of them (geo.Set.Warm).
type geoWarmer interface {
	Warm(addrs []netip.Addr) uint32
}

// admit reports whether the replies to key are worth keeping: only when
// the key was asked before (TinyLFU's doorkeeper). A random-subdomain
// flood asks every name once (or every type, or from every address), and
// keeping those replies would cost a copy and an insertion per query, then
// dropping them all, and save nothing.
func (c *fastCache) admit(key []byte) bool {
	if c.seen == nil {
		c.seen, c.seed = make([]uint16, seenSlots()), maphash.MakeSeed()
	}
	h := maphash.Bytes(c.seed, key)
	fp := uint16(h>>48) | 1 // never 0, the empty slot
	slot := &c.seen[h&uint64(len(c.seen)-1)]
	if *slot == fp {
		return true
	}
	*slot = fp
	return false
}

// add inserts r within the budgets, and reports whether it did.
func (c *fastCache) add(r *fastReply, any bool) bool {
	cost := cap(r.buf) + fastEntryBytes
	if any {
		if c.anyB += cost; c.anyB > c.anyMax {
			c.entries.drop(func(e *fastReply) bool { return e.any })
			c.anyB = 0
			return false
		}
		r.any = true
	} else if c.bytes += cost; c.bytes > c.max {
		c.reset(c.snap)
		return false
	}
	c.entries.insert(r)
	return true
}
