package dnslb

import (
	"encoding/binary"
	"runtime"

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
// every query (rotation, policies, health), only packing is saved.
type wireCache struct {
	snap    *Snapshot               // the snapshot the entries were made from
	entries map[string][]*wireReply // by question name as asked
	n, max  int                     // replies held, and the bound at which all are dropped
	hits    int                     // replies served from the cache (for tests)
}

// wireCacheBytes bounds the memory of all goroutines' caches together;
// one cached reply takes about wireReplyBytes.
// A name keeps at most wireVariants replies: one per rotation of its
// RRsets in round-robin order, but shuffled orders (rotate = "random",
// policies) could make one per permutation, and get scans them.
const (
	wireCacheBytes = 64 << 20
	wireReplyBytes = 384
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
		max:     max(1024, wireCacheBytes/wireReplyBytes/runtime.GOMAXPROCS(0)),
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
	c.n++
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
