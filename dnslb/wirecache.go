package dnslb

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/miekg/dns"
)

// wireCache is one UDP serving goroutine's cache of packed replies.
// Packing with name compression is the largest part of answering a
// query, and the packed bytes depend only on the header fields, the
// question as asked (compression is case-sensitive, so the exact name),
// the records of each section and our OPT record. The store's records are
// immutable, so a record is known by its pointer: when a reply has the
// same header, question, OPT and record pointers as a cached one, its
// bytes are the cached bytes with the query's ID. Replies holding records
// made for one query (wildcard owners, DNAME synthesis, TTL overrides) or
// EDNS options (ECS) are never cached. The query path runs in full for
// every query that gets here (rotation, policies, health), only packing
// is saved; the plainest answers are served earlier, from fastCache.
type wireCache struct {
	snap    *Snapshot               // the snapshot the entries were made from
	entries map[string][]*wireReply // by question name as asked
	n, max  int                     // bytes held, about, and the bound at which all are dropped
	hits    int                     // replies served from the cache (for tests)

	fast fastCache
	neg  negCache
}

// wireCacheBytes is what each kind of cache of GOMAXPROCS workers holds
// at most together: the packed replies, the fastCache answers, and the
// fastCache replies anyone can make keys for (new names, client subnets:
// the geo bench, 10,000 names from 4 subnets, holds about 50 MB of them).
// A server has GOMAXPROCS workers per listen address for UDP and
// GOMAXPROCS for TCP, so one listen address bounds them at 2 x 3 x 64 MB,
// plus 2 x 4 MB of doorkeepers (fastSeen); they fill only as far as
// questions are asked. wireReplyBytes is what a cached reply costs beyond its
// bytes. A name keeps at most wireVariants replies: one per rotation of
// its RRsets in round-robin order, but shuffled orders (rotate = "random",
// policies) could make one per permutation, and get scans them.
const (
	wireCacheBytes = 64 << 20
	wireReplyBytes = 256
	wireVariants   = 32
)

// wireReply is one cached reply: what it was packed from, and the bytes.
type wireReply struct {
	qtype  uint16
	qclass uint16
	hdr    uint64 // header flags, opcode and rcode: replyHeader
	opt    uint64 // our OPT record: replyOPTKey
	na, nn int    // records in answer and authority; the rest of rrs is additional
	rrs    []dns.RR
	wire   []byte
}

func newWireCache() *wireCache {
	return &wireCache{
		entries: make(map[string][]*wireReply),
		max:     max(1<<20, wireCacheBytes/runtime.GOMAXPROCS(0)),
		fast: fastCache{
			max: max(1<<20, wireCacheBytes/runtime.GOMAXPROCS(0)), anyMax: max(1<<20, wireCacheBytes/runtime.GOMAXPROCS(0))},
	}
}

// replyHeader packs every header field of m but the ID, and Compress.
func replyHeader(m *dns.Msg) uint64 {
	h := uint64(uint32(m.Rcode)) | uint64(m.Opcode&0xff)<<32
	for i, f := range [...]bool{m.Response, m.Authoritative, m.Truncated, m.RecursionDesired,
		m.RecursionAvailable, m.Zero, m.AuthenticatedData, m.CheckingDisabled, m.Compress} {
		if f {
			h |= 1 << (40 + i)
		}
	}
	return h
}

// wireLookup is what identifies one reply in the cache.
type wireLookup struct {
	name          string // the question name as asked: compression is case-sensitive
	qtype, qclass uint16
	hdr, opt      uint64
	extra         []dns.RR // the additional section without our OPT record
}

// lookup returns what identifies m (before it is packed: packing changes
// the OPT record), or false when m may not be cached.
func (c *wireCache) lookup(m *dns.Msg, qc *queryCtx) (l wireLookup, ok bool) {
	if c == nil || qc.copied || qc.snap == nil || len(m.Question) != 1 {
		return l, false
	}
	// Only answers are cached: their names exist in a zone, so the
	// entries are bounded by the zones. NXDOMAIN, referrals and REFUSED
	// can be asked for any name (random-subdomain floods), and names in
	// mixed case (0x20 randomisation by resolvers) would rarely repeat;
	// caching those would only churn.
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 || hasUpper(m.Question[0].Name) {
		return l, false
	}
	l.extra = m.Extra
	if n := len(l.extra); n > 0 {
		if o, isOPT := l.extra[n-1].(*dns.OPT); isOPT {
			if len(o.Option) > 0 {
				return l, false
			}
			l.extra = l.extra[:n-1]
			l.opt = 1<<63 | uint64(o.Hdr.Class)<<32 | uint64(o.Hdr.Ttl)
		}
	}
	for _, rr := range l.extra {
		if _, isOPT := rr.(*dns.OPT); isOPT {
			return l, false
		}
	}
	q := m.Question[0]
	l.name, l.qtype, l.qclass = q.Name, q.Qtype, q.Qclass
	l.hdr = replyHeader(m)
	return l, true
}

// get writes the cached bytes of m into buf with m's ID, if it has them.
func (c *wireCache) get(l *wireLookup, m *dns.Msg, qc *queryCtx, buf []byte) ([]byte, bool) {
	if qc.snap != c.snap {
		return nil, false
	}
	for _, r := range c.entries[l.name] {
		if r.qtype != l.qtype || r.qclass != l.qclass || r.hdr != l.hdr || r.opt != l.opt || r.na != len(m.Answer) || r.nn != len(m.Ns) ||
			len(r.rrs) != r.na+r.nn+len(l.extra) || len(r.wire) > len(buf) ||
			!sameRRs(r.rrs[:r.na], m.Answer) || !sameRRs(r.rrs[r.na:r.na+r.nn], m.Ns) ||
			!sameRRs(r.rrs[r.na+r.nn:], l.extra) {
			continue
		}
		out := buf[:copy(buf, r.wire)]
		binary.BigEndian.PutUint16(out, m.Id)
		c.hits++
		return out, true
	}
	return nil, false
}

// put caches wire, the packed m.
func (c *wireCache) put(l *wireLookup, m *dns.Msg, qc *queryCtx, wire []byte) {
	if qc.snap != c.snap || c.n >= c.max {
		clear(c.entries) // a new snapshot, or full: start again
		c.snap, c.n = qc.snap, 0
	}
	if len(c.entries[l.name]) >= wireVariants {
		return
	}
	r := &wireReply{qtype: l.qtype, qclass: l.qclass, hdr: l.hdr, opt: l.opt, na: len(m.Answer), nn: len(m.Ns),
		wire: append([]byte(nil), wire...)}
	r.rrs = make([]dns.RR, 0, len(m.Answer)+len(m.Ns)+len(l.extra))
	r.rrs = append(append(append(r.rrs, m.Answer...), m.Ns...), l.extra...)
	c.entries[l.name] = append(c.entries[l.name], r)
	c.n += len(wire) + wireReplyBytes
}

// sameRRs reports whether a and b hold the same records (the same
// pointers, not just equal contents).
func sameRRs(a, b []dns.RR) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasUpper(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// fastCache holds the replies to the common queries as bytes, so that
// answering one costs a parse of the datagram, a map lookup, a rotation
// counter step and a copy: no unpacking, lookup, selection or packing.
//
// A query qualifies (fastQuery.parse) when it is exactly one question,
// opcode QUERY, and at most an OPT record with version 0, no
// flags but DO, and no option but one well-formed EDNS Client Subnet and
// DNS cookies (which the full path ignores as well).
// The reply then depends on the question, RD, whether there was an OPT
// and its DO bit, the snapshot (zones, health, overrides), the GeoIP
// data, our EDNS buffer size, the rotation taken and, for names whose
// policy looks at the client (geo, nearest, sticky), the client: its
// ECS subnet, or without ECS its address. With ECS the reply is the same
// bytes with the query's option echoed at the end, and the scope set.
//
// So each key maps to one reply per rotation, filled lazily: a query
// steps the rotation counter exactly as the full path would, and when
// that rotation's bytes are not held yet the full path runs pinned to
// it and they are kept. Names whose replies depend on the client hold a
// marker under the plain key and the replies under the key extended with
// the client. A new snapshot, GeoIP data, udp_size or rotate setting
// drops everything. Not kept: replies cut by truncation or larger than
// fit 512 bytes with any ECS option, random or weighted picks, SERVFAIL
// from when_all_down, anything with two rotations. Replies for names
// that need not exist (NXDOMAIN, NODATA, referrals, wildcard
// and DNAME answers, every type at a CNAME, every client: whoever asks
// can make endless keys) have a budget of their own, dropped alone when
// it is spent; they are kept only from their key's second query (admit).
// REFUSED is not kept (handle answers it without the ECS echo).
type fastCache struct {
	snap    *Snapshot // the snapshot the entries were made from
	entries fastTable
	bytes   int // held by answers, about; at max all are dropped
	max     int
	anyB    int // bytes of replies for names that need not exist (fastReply.any); at anyMax they are dropped
	anyMax  int
	hits    int // replies served (for tests)
	perms   int // replies made by permuting a held one (for tests)
	unperm  int // perm entries that held every reply after all (for tests)
	sink    uint64
	seen    []uint16 // the doorkeeper (see admit); made on first use
	seed    maphash.Seed
}

// fastSeen is the size of the doorkeepers of GOMAXPROCS workers together
// (4 MB): fingerprints of keys whose reply was not kept because it was
// the first time they were asked. It must be large against the keys asked
// between two queries of one key (the geo bench has 80,000 client keys in
// rotation: with 64k slots most second queries found their slot taken by
// another key).
const fastSeen = 1 << 21

// seenSlots is one worker's doorkeeper size: a power of two.
func seenSlots() int {
	n := 1 << 16
	for n < fastSeen/runtime.GOMAXPROCS(0) {
		n <<= 1
	}
	return n
}

// fastKeyMax is the longest key: a name, type, class, the flags, and a
// client (a marker and the longest ECS option data or address).
const fastKeyMax = 255 + 4 + 1 + 1 + 20

// fastEntryBytes is what an entry costs beyond its buffer;
// fastRotations is the most rotations an entry holds (filled is a
// bitmask), so RRsets of more addresses always take the full path.
const (
	fastEntryBytes = 160
	fastRotations  = 64
)

// fastReply is every reply to one key: buf holds the key followed by one
// slot of size bytes per rotation, in the same allocation as the struct
// (newFastReply), so a hit reads the table's slot and then one run of
// memory: the processor's caches miss few times (the table holds entries
// for every name asked for, and the kernel's work between queries evicts
// them). Slot k holds rotation k once filled has bit k; every rotation's
// reply has the size of the first, others are not kept. With byClient the
// entry is only a marker: the replies are under the key extended with the
// client.
type fastReply struct {
	buf      []byte // the key (never written after the entry is made), then the slots
	klen     uint16
	n        uint16 // rotations
	size     uint16 // of each reply; 0 until the first is kept
	filled   uint64
	byClient bool
	any      bool   // under the budget of keys anyone can make (put)
	perm     bool   // one reply held, the others made from it (permuted)
	rrsetRot bool   // perm, and the answer is a zone RRset rotated: no rotation needs checking
	k0       uint8  // perm: the rotation the held reply is
	ans, rec uint16 // perm: where the answer records start, and each one's length
	scope    uint8  // the ECS scope of the replies
	qtype    uint16
	rcode    uint16
	rot      *atomic.Uint32 // the rotation's counter: a zone RRset's,
	pol      *Policy        // or a policy's, or neither (n == 1)
	counted  [2]*counterRef // the metrics' counters of the replies over UDP and TCP, found on first use
	zone     string         // for metrics
	policy   string
}

// key returns the entry's key, at the start of buf.
func (r *fastReply) key() []byte { return r.buf[:r.klen] }

// next steps the reply's rotation counter as the full path would, and
// returns the rotation.
func (r *fastReply) next() int {
	switch {
	case r.rot != nil:
		return int((r.rot.Add(1) - 1) % uint32(r.n)) // as appendOrdered steps it
	case r.pol != nil:
		return r.pol.NextRotation(int(r.n))
	}
	return 0
}

// fastQuery is what the fast path read from one datagram.
type fastQuery struct {
	key   []byte // question (name in lower case) and flags, in kbuf
	ecs   []byte // the query's ECS option (code, length, data), or nil
	mixed bool   // the name has upper-case letters (as with 0x20 randomisation)
	qname []byte // the name as asked, in the datagram
	ok    bool   // what parse returned
	h     uint64 // key's hash in the table (fastTable.hash), when prefetch made it; else 0
	kbuf  [fastKeyMax]byte
}

// parse fills q from pkt (which has a full header and is a query) and
// reports, also in q.ok, whether pkt qualifies.
func (q *fastQuery) parse(pkt []byte) bool {
	q.ok, q.h = q.parseQuery(pkt), 0
	return q.ok
}

func (q *fastQuery) parseQuery(pkt []byte) bool {
	// Opcode QUERY; QD=1, AN=NS=0, AR 0 or 1.
	if pkt[2]&0x78 != 0 || binary.BigEndian.Uint32(pkt[4:]) != 1<<16 || pkt[8]|pkt[9]|pkt[10] != 0 || pkt[11] > 1 {
		return false
	}
	off := 12
	for {
		if off >= len(pkt) {
			return false
		}
		l := int(pkt[off])
		if l == 0 {
			break
		}
		if l > 63 || off+1+l > len(pkt) {
			return false // a compression pointer, or cut short
		}
		off += 1 + l
	}
	off += 5 // the root label, type and class
	if off-12 > 255+4 || off > len(pkt) {
		return false
	}
	flags := pkt[2] & 1 // RD
	q.ecs = nil
	if pkt[11] == 1 {
		// The OPT record: root name, type OPT, any size, extended rcode
		// and version 0, no flags but DO, and no option or one ECS.
		o := pkt[off:]
		if len(o) < 11 || o[0] != 0 || binary.BigEndian.Uint16(o[1:]) != dns.TypeOPT ||
			o[5]|o[6]|o[7]&0x7f|o[8] != 0 || int(binary.BigEndian.Uint16(o[9:])) != len(o)-11 {
			return false
		}
		// Options: at most one ECS, and DNS cookies (RFC 7873), which the
		// full path ignores too, so they change nothing in the reply.
		for opts := o[11:]; len(opts) > 0; {
			if len(opts) < 4 {
				return false
			}
			l := 4 + int(binary.BigEndian.Uint16(opts[2:]))
			if l > len(opts) {
				return false
			}
			switch binary.BigEndian.Uint16(opts) {
			case dns.EDNS0SUBNET:
				if q.ecs != nil || !validECS(opts[:l]) {
					return false
				}
				q.ecs = opts[:l]
			case dns.EDNS0COOKIE:
				if l < 4+8 || l > 4+40 {
					return false
				}
			default:
				return false
			}
			opts = opts[l:]
		}
		flags |= 2 | o[7]>>7<<2
	} else if off != len(pkt) {
		return false
	}
	n := copy(q.kbuf[:], pkt[12:off])
	q.kbuf[n] = flags
	q.key = q.kbuf[:n+1]
	q.qname, q.mixed = pkt[12:off-4], false
	// The key holds the name in lower case. Length bytes (at most 63)
	// are never letters, so the whole name can be mapped.
	for i, b := range q.key[:len(q.qname)] {
		if b >= 'A' && b <= 'Z' {
			q.key[i] = b + 'a' - 'A'
			q.mixed = true
		}
	}
	return true
}

// validECS reports whether opt is exactly one EDNS Client Subnet option
// as RFC 7871 section 6 has it: family 1 or 2, a source prefix within
// the family, scope 0, just the address bytes the prefix needs and no
// bits set beyond it. The full path answers any other option.
func validECS(opt []byte) bool {
	if len(opt) < 8 || binary.BigEndian.Uint16(opt) != dns.EDNS0SUBNET ||
		int(binary.BigEndian.Uint16(opt[2:])) != len(opt)-4 || opt[7] != 0 {
		return false
	}
	bits, addr := int(opt[6]), opt[8:]
	switch binary.BigEndian.Uint16(opt[4:]) {
	case 1:
		if bits > 32 {
			return false
		}
	case 2:
		if bits > 128 {
			return false
		}
	default:
		return false
	}
	if len(addr) != (bits+7)/8 {
		return false
	}
	return bits%8 == 0 || addr[len(addr)-1]&(0xff>>(bits%8)) == 0
}

// clientKey extends q's key with the client: the ECS family, prefix and
// address (capped), or the source address.
func (c *fastCache) clientKey(q *fastQuery, from netip.Addr) []byte {
	k := q.key
	if q.ecs != nil {
		// The answer depends on the subnet as capped (maxECSv4, maxECSv6)
		// and masked, not on longer prefixes or the bits beyond.
		bits := int(q.ecs[6])
		if q.ecs[5] == 1 {
			bits = min(bits, maxECSv4)
		} else {
			bits = min(bits, maxECSv6)
		}
		k = append(k, 0, q.ecs[5], byte(bits))
		addr := q.ecs[8 : 8+(bits+7)/8]
		k = append(k, addr...)
		if bits%8 != 0 {
			k[len(k)-1] &= 0xff << (8 - bits%8)
		}
		return k
	}
	a := from.Unmap()
	if a.Is4() {
		b := a.As4()
		return append(append(k, 1), b[:]...)
	}
	b := a.As16()
	return append(append(k, 2), b[:]...)
}

// get writes the reply to q into buf, if it is held, and counts it in
// the metrics (tcp is its transport; the caller times it). When
// the key is known but the rotation its counter gave is not filled yet,
// it returns no reply but the rotation, with fill set: the full path must
// give that rotation.
func (c *fastCache) get(s *Server, q *fastQuery, from netip.Addr, pkt, buf []byte, tcp bool) (out []byte, rot int, fill bool) {
	snap := s.store.Snapshot()
	if snap != c.snap {
		c.reset(snap)
		return nil, 0, false
	}
	e := c.entries.findHash(q.key, q.h)
	if e != nil && e.byClient {
		e = c.entries.find(c.clientKey(q, from))
	}
	if e == nil || snap.Random {
		return nil, 0, false
	}
	rot = e.next()
	size := int(e.size)
	if e.filled&(1<<rot) == 0 || size+len(q.ecs) > len(buf) {
		return nil, rot, true
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
	if q.mixed {
		copy(out[12:], q.qname) // the question as asked
	}
	if q.ecs != nil {
		// Our OPT record ends the reply with no data: the option goes
		// after it (RFC 7871 section 7.2.1: as asked, with our scope).
		binary.BigEndian.PutUint16(out[size-2:], uint16(len(q.ecs)))
		out = append(out, q.ecs...)
		out[size+7] = e.scope
	}
	c.hits++
	t := transportIndex(tcp)
	ref := e.counted[t]
	if ref == nil {
		var known bool
		ref, known = s.metrics.queryCounter(e.zone, e.qtype, int(e.rcode), e.policy, tcp)
		if known {
			// Kept only once the zone is known to the metrics: a
			// reload publishes the snapshot before it announces new
			// zones, and until then they count under "none".
			e.counted[t] = ref
		}
	}
	s.metrics.countQuery(ref)
	return out, rot, false
}

func (c *fastCache) reset(snap *Snapshot) {
	c.entries.clear()
	c.snap = snap
	c.bytes, c.anyB = 0, 0
}

// put keeps wire, the packed reply m to q, if it qualifies.
func (c *fastCache) put(s *Server, q *fastQuery, from netip.Addr, m *dns.Msg, qc *queryCtx, wire []byte) {
	// REFUSED (a name outside our zones) is left out: handle answers it
	// before ECS, without echoing the option.
	if qc.snap == nil || qc.snap != c.snap || qc.fail || qc.cut || m.Truncated || qc.rots > 1 || qc.nondet ||
		qc.snap.Random || len(m.Question) != 1 || m.Rcode == dns.RcodeRefused {
		return
	}
	tmpl, ok := replyTemplate(q, wire)
	if !ok || len(tmpl)+4+4+16 > minUDPSize {
		return
	}
	// wire has its question in lower case whatever the query's (handle
	// packs it so, restoreCase puts the query's back afterwards): it
	// serves the question in any case with the question's bytes replaced.
	n, k := 1, 0
	if qc.rots == 1 {
		n, k = qc.rotN, qc.rotK
	}
	if n > fastRotations || k >= n {
		return
	}
	// Entries bounded by the zones' contents (an answer of the type
	// asked, for a name that exists, for any client) share the main
	// budget; the rest can be made without end by whoever asks (new
	// names, every type at a CNAME, every client address or subnet).
	qtype := m.Question[0].Qtype
	any := m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 || qc.synth || qc.clientDep ||
		m.Answer[0].Header().Rrtype != qtype
	key := q.key
	if qc.clientDep {
		if r := c.entries.find(key); r == nil {
			// A wildcard's names are endless: the marker waits for the
			// client's key to be asked twice (admit below agrees then).
			if qc.synth && !c.admit(c.clientKey(q, from)) {
				return
			}
			r = newFastReply(len(key))
			copy(r.buf, key)
			r.klen, r.byClient = uint16(len(key)), true
			c.add(r, qc.synth)
		} else if !r.byClient {
			return
		}
		key = c.clientKey(q, from)
	}
	r := c.entries.find(key)
	if r == nil {
		// A key anyone can make is kept only from its second query: one
		// asked once (a flood of new names, types or clients) costs a
		// hash.
		if any && !c.admit(key) {
			return
		}
		slots := n
		ans, rec, perm := permShape(tmpl, len(q.qname), n)
		if perm {
			slots = 1
		}
		r = newFastReply(len(key) + slots*len(tmpl))
		copy(r.buf, key)
		r.klen, r.n, r.size, r.qtype = uint16(len(key)), uint16(n), uint16(len(tmpl)), qtype
		r.perm, r.ans, r.rec = perm, uint16(ans), uint16(rec)
		// Plain records (no policy) rotated as a zone RRset: the answer
		// is the RRset's records, which permShape found, in rotation k.
		r.rrsetRot = perm && qc.policy == "" && qc.rots == 1 && qc.rotSet != nil && qc.rotPol == nil &&
			len(qc.rotSet.RRs) == n
		r.rcode, r.scope, r.zone, r.policy = uint16(m.Rcode), uint8(qc.scope), qc.zone, qc.policy
		if qc.rots == 1 {
			r.pol = qc.rotPol
			r.rot = qc.rotCtr
		}
		if !c.add(r, any) {
			return
		}
	}
	if r.byClient || int(r.n) != n || int(r.size) != len(tmpl) || r.filled&(1<<k) != 0 {
		return
	}
	if r.perm && r.filled != 0 {
		// Another rotation: held only if the one reply gives it.
		got := make([]byte, len(tmpl))
		r.permuted(got, k)
		if string(got) != string(tmpl) {
			// Not a rotation of the records: from now on the entry
			// holds every reply (this one first).
			if r = c.unpermute(r); r == nil {
				return
			}
		}
	}
	switch {
	case !r.perm:
		copy(r.buf[int(r.klen)+k*len(tmpl):], tmpl)
	case r.filled == 0:
		copy(r.buf[r.klen:], tmpl)
		r.k0 = uint8(k)
		if r.rrsetRot {
			// A zone RRset's rotation k answers RRs[k:] then RRs[:k]
			// (answer.go): every rotation is this one's records
			// rotated, and is held from now on.
			r.filled = ^uint64(0) >> (64 - n)
		}
	}
	r.filled |= 1 << k
}

// unpermute replaces the perm entry r with one that holds a reply per
// rotation, none filled yet, under r's budget (whose count keeps r's cost
// too: a little early to fill up, never late). It returns nil when the
// budget refused it.
func (c *fastCache) unpermute(r *fastReply) *fastReply {
	full := newFastReply(int(r.klen) + int(r.n)*int(r.size))
	buf := full.buf
	*full = *r
	full.buf, full.perm, full.rrsetRot, full.filled = buf, false, false, 0
	copy(full.buf, r.key())
	if !c.add(full, r.any) {
		return nil
	}
	c.unperm++
	return full
}

// permShape reports whether reply (to a question of qlen bytes) can stand
// for n rotations of its answer: it has n answer records right after the
// question, each owned by the question's name (a pointer to it) with the
// same type, class, TTL and data length, and no other records but an OPT.
// It returns where the records start and each one's length.
func permShape(reply []byte, qlen, n int) (ans, rec int, ok bool) {
	if n < 2 || n > 255 || len(reply) < 12 || int(binary.BigEndian.Uint16(reply[6:])) != n ||
		binary.BigEndian.Uint16(reply[8:]) != 0 {
		return 0, 0, false
	}
	ans = 12 + qlen + 4
	if ans+12 > len(reply) {
		return 0, 0, false
	}
	first := reply[ans : ans+12]
	if first[0] != 0xC0 || first[1] != 12 {
		return 0, 0, false
	}
	rec = 12 + int(binary.BigEndian.Uint16(first[10:]))
	end := ans + n*rec
	if end > len(reply) {
		return 0, 0, false
	}
	for i := 1; i < n; i++ {
		if string(reply[ans+i*rec:ans+i*rec+12]) != string(first) {
			return 0, 0, false
		}
	}
	// What follows is our OPT record, if anything (ARCOUNT 0 or 1).
	switch ar := binary.BigEndian.Uint16(reply[10:]); {
	case ar == 0 && end == len(reply):
	case ar == 1 && end+11 <= len(reply) && reply[end] == 0 && binary.BigEndian.Uint16(reply[end+1:]) == dns.TypeOPT:
	default:
		return 0, 0, false
	}
	return ans, rec, true
}

// permuted writes rotation k of a perm entry's replies into out: the
// held reply (rotation k0) with its answer records rotated by k-k0, as
// the full path's round-robin rotates them (put checks each rotation
// against the full path's reply before it is served).
func (r *fastReply) permuted(out []byte, k int) {
	base := r.buf[r.klen : int(r.klen)+int(r.size)]
	ans, rec, n := int(r.ans), int(r.rec), int(r.n)
	d := (k - int(r.k0) + n) % n
	end := ans + n*rec
	copy(out, base[:ans])
	w := ans + copy(out[ans:], base[ans+d*rec:end])
	copy(out[w:], base[ans:ans+d*rec])
	copy(out[end:], base[end:])
}

// prefetch parses each datagram of a batch (pkts) into qs (for answerOn
// to use) and reads, for each query, the table slot and then the entry
// that answering it will read. Nothing depends on those reads but a sum,
// so the processor has them all in flight at once and the cache misses
// of a batch are waited for together, not one query after another.
func (c *fastCache) prefetch(pkts [][]byte, qs []fastQuery) {
	var slots [udpBatch]*fastSlot
	n := 0
	for i, p := range pkts[:min(len(pkts), len(qs), udpBatch)] {
		q := &qs[i]
		q.ok = false
		if len(p) < 12 || !q.parse(p) || c.entries.n == 0 {
			continue
		}
		q.h = c.entries.hash(q.key)
		slots[n] = &c.entries.slots[q.h&uint64(len(c.entries.slots)-1)]
		n++
	}
	var sum uint64
	for _, s := range slots[:n] {
		sum += s.h
	}
	var ents [udpBatch]*fastReply
	m := 0
	for _, s := range slots[:n] {
		if e := s.e; e != nil {
			sum += uint64(e.klen)
			ents[m] = e
			m++
		}
	}
	// Then the key, the held reply's first and last bytes, and the
	// rotation counter.
	for _, e := range ents[:m] {
		sum += uint64(e.buf[0])
		if end := int(e.klen) + int(e.size); e.perm && end <= len(e.buf) {
			sum += uint64(e.buf[e.klen]) + uint64(e.buf[end-1])
		}
		if e.rot != nil {
			sum += uint64(e.rot.Load())
		}
	}
	c.sink += sum
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

// fastTable is fastCache's index: open addressing with linear probing,
// at most half full. A slot holds the key's hash beside the entry, so a
// lookup reads one slot (16 bytes, four to a cache line) and then only
// the entry it is after; Go's map read a control word, the slot, and
// the key's bytes elsewhere (three cache misses, a tenth of the whole
// server's time under the static bench).
type fastTable struct {
	slots  []fastSlot // a power of two; nil until the first insert
	n      int
	seed   maphash.Seed
	seeded bool
}

type fastSlot struct {
	h uint64 // the key's hash with the low bit set; 0: empty
	e *fastReply
}

func (t *fastTable) hash(key []byte) uint64 { return maphash.Bytes(t.seed, key) | 1 }

// find returns the entry with key, or nil.
func (t *fastTable) find(key []byte) *fastReply { return t.findHash(key, 0) }

// findHash is find with key's hash, if h is not 0.
func (t *fastTable) findHash(key []byte, h uint64) *fastReply {
	if t.n == 0 {
		return nil
	}
	if h == 0 {
		h = t.hash(key)
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.h == 0 {
			return nil
		}
		if s.h == h && string(s.e.key()) == string(key) {
			return s.e
		}
	}
}

// insert adds e, or replaces the entry with its key.
func (t *fastTable) insert(e *fastReply) {
	if t.slots == nil {
		if !t.seeded {
			// One seed for the table's life: prefetch's hashes stay
			// good across a clear.
			t.seed, t.seeded = maphash.MakeSeed(), true
		}
		t.slots = make([]fastSlot, 1024)
	}
	if 2*(t.n+1) > len(t.slots) {
		t.rebuild(2*len(t.slots), nil)
	}
	t.put(t.hash(e.key()), e)
}

func (t *fastTable) put(h uint64, e *fastReply) {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.h == 0 {
			s.h, s.e = h, e
			t.n++
			return
		}
		if s.h == h && string(s.e.key()) == string(e.key()) {
			s.e = e
			return
		}
	}
}

// drop removes the entries gone says to, by putting the others back in
// a cleared table (linear probing has no cheap single delete).
func (t *fastTable) drop(gone func(*fastReply) bool) {
	if t.n > 0 {
		t.rebuild(len(t.slots), gone)
	}
}

// rebuild puts the entries, but those gone says to drop (if gone is not
// nil), in a new table of size slots.
func (t *fastTable) rebuild(size int, gone func(*fastReply) bool) {
	old := t.slots
	t.slots, t.n = make([]fastSlot, size), 0
	for _, s := range old {
		if s.h != 0 && (gone == nil || !gone(s.e)) {
			t.put(s.h, s.e)
		}
	}
}

func (t *fastTable) clear() {
	if len(t.slots) > 1<<16 {
		t.slots = nil // start small again
	} else {
		clear(t.slots)
	}
	t.n = 0
}

// fastBox puts a fastReply and its buffer in one allocation; D is a byte
// array, its capacity.
type fastBox[D any] struct {
	r fastReply
	d D
}

// newFastReply returns an entry whose buf has n bytes, right after the
// struct in memory when n is small enough for one of the boxes.
func newFastReply(n int) *fastReply {
	var r *fastReply
	switch {
	case n <= 64:
		r = boxed[[64]byte]()
	case n <= 128:
		r = boxed[[128]byte]()
	case n <= 256:
		r = boxed[[256]byte]()
	case n <= 384:
		r = boxed[[384]byte]()
	case n <= 512:
		r = boxed[[512]byte]()
	case n <= 1024:
		r = boxed[[1024]byte]()
	case n <= 2048:
		r = boxed[[2048]byte]()
	default:
		r = &fastReply{buf: make([]byte, n)}
	}
	r.buf = r.buf[:n]
	return r
}

// boxed returns the entry of a new fastBox, its buf the box's array.
func boxed[D any]() *fastReply {
	b := new(fastBox[D])
	b.r.buf = unsafe.Slice((*byte)(unsafe.Pointer(&b.d)), unsafe.Sizeof(b.d))
	return &b.r
}

// replyTemplate returns the reply wire (to query q) as the cache keeps
// it: without the ECS option, if the query had one, and with our OPT
// record (which the reply then ends with) holding no data.
func replyTemplate(q *fastQuery, wire []byte) ([]byte, bool) {
	if q.key[len(q.key)-1]&2 == 0 {
		return wire, true // no OPT asked, none given
	}
	n := len(q.ecs)
	if len(wire) < 12+11+n {
		return nil, false
	}
	o := wire[len(wire)-11-n:] // our OPT record, if it is last
	if o[0] != 0 || binary.BigEndian.Uint16(o[1:]) != dns.TypeOPT || int(binary.BigEndian.Uint16(o[9:])) != n {
		return nil, false
	}
	if n == 0 {
		return wire, true
	}
	// The echoed option is the query's but for the scope.
	e := o[11:]
	if string(e[:7]) != string(q.ecs[:7]) || string(e[8:]) != string(q.ecs[8:]) {
		return nil, false
	}
	t := append([]byte(nil), wire[:len(wire)-n]...)
	t[len(t)-2], t[len(t)-1] = 0, 0
	return t, true
}
