package dnslb

import (
	"encoding/binary"
	"runtime"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones"
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
	n, max  int                     // replies held, and the bound at which all are dropped
	hits    int                     // replies served from the cache (for tests)

	fast fastCache
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
		fast: fastCache{entries: make(map[string]fastReply),
			max: max(1<<20, wireCacheBytes/runtime.GOMAXPROCS(0))},
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

// fastCache holds, for the plainest queries, every reply their question
// can get from one snapshot, so that answering one costs a parse of the
// question, a map lookup, the rotation counter and a copy: no unpacking,
// lookup, building or packing.
//
// A query qualifies (fastKey) when it is exactly one question in lower
// case, opcode QUERY, and at most an OPT record with version 0, no
// options and no flags but DO. Its reply then depends only on the
// question, RD, whether there was an OPT and its DO bit, the snapshot,
// our EDNS buffer size, the rotate setting and the rotation counter of
// each RRset. A reply is kept only when it is an answer (NOERROR with
// records) that no policy or health selected, holding only the store's
// records, at most 512 bytes and uncut by truncate (so the client's
// buffer size does not matter), with at most one rotated RRset, in the
// answer section, in round-robin order. Its rotations are all packed
// once, and a hit advances the RRset's counter exactly as the full path
// does. Everything else goes the full path.
type fastCache struct {
	snap    *Snapshot
	udpSize int32
	entries map[string]fastReply // by fastKey
	bytes   int                  // held, about; at max all are dropped
	max     int
	hits    int // replies served (for tests)
	key     [fastKeyMax]byte
}

// fastKeyMax is the longest fastKey: a name, type, class and the flags.
const fastKeyMax = 255 + 4 + 1

// fastReply is every reply to one fastKey: for rotation k of set, the
// bytes wire[k*size:(k+1)*size] (set nil: one reply). It is held in the
// map by value, and its key is a prefix of the same string as wire: a
// hit touches few cache lines.
type fastReply struct {
	set   *zones.RRset
	zone  string // for metrics
	wire  string
	size  int32
	qtype uint16
}

// fastKey returns the key of pkt (which has a full header and is a
// query) in c.key, or nil when pkt does not qualify.
func (c *fastCache) fastKey(pkt []byte) []byte {
	// Opcode QUERY; QD=1, AN=NS=0, AR 0 or 1.
	if pkt[2]&0x78 != 0 || binary.BigEndian.Uint32(pkt[4:]) != 1<<16 || pkt[8]|pkt[9]|pkt[10] != 0 || pkt[11] > 1 {
		return nil
	}
	off := 12
	for {
		if off >= len(pkt) {
			return nil
		}
		l := int(pkt[off])
		if l == 0 {
			break
		}
		if l > 63 || off+1+l > len(pkt) {
			return nil // a compression pointer, or cut short
		}
		for _, b := range pkt[off+1 : off+1+l] {
			if b >= 'A' && b <= 'Z' {
				return nil
			}
		}
		off += 1 + l
	}
	off += 5 // the root label, type and class
	if off-12 > 255+4 || off > len(pkt) {
		return nil
	}
	flags := pkt[2] & 1 // RD
	if pkt[11] == 1 {
		// The OPT record: root name, type OPT, any size, TTL 0 but DO, no data.
		o := pkt[off:]
		if len(o) != 11 || o[0] != 0 || binary.BigEndian.Uint16(o[1:]) != dns.TypeOPT ||
			binary.BigEndian.Uint32(o[5:])&^0x8000 != 0 || o[9]|o[10] != 0 {
			return nil
		}
		flags |= 2 | o[7]>>7<<2
	} else if off != len(pkt) {
		return nil
	}
	n := copy(c.key[:], pkt[12:off])
	c.key[n] = flags
	return c.key[:n+1]
}

// get writes the reply to the query with key into buf, if it is held,
// and returns it with its zone and qtype (for metrics).
func (c *fastCache) get(s *Server, key []byte, pkt, buf []byte) (out []byte, zone string, qtype uint16) {
	if snap := s.store.Snapshot(); snap != c.snap {
		c.reset(snap)
		return nil, "", 0
	}
	r, ok := c.entries[string(key)]
	if !ok || int(r.size) > len(buf) || s.random.Load() || s.udpSize.Load() != c.udpSize {
		return nil, "", 0
	}
	k, size := 0, int(r.size)
	if r.set != nil {
		k = r.set.Next()
	}
	out = buf[:copy(buf, r.wire[k*size:(k+1)*size])]
	out[0], out[1] = pkt[0], pkt[1] // the ID
	c.hits++
	return out, r.zone, r.qtype
}

func (c *fastCache) reset(snap *Snapshot) {
	clear(c.entries)
	c.snap, c.bytes = snap, 0
}

// put keeps the replies to key if m (packed into wire) qualifies, packing
// its other rotations. It changes the order of m's answer section.
func (c *fastCache) put(s *Server, key []byte, m *dns.Msg, qc *queryCtx, wire []byte) {
	if qc.snap != c.snap || c.udpSize != s.udpSize.Load() {
		c.reset(qc.snap)
		c.udpSize = s.udpSize.Load()
	}
	if qc.copied || qc.selected || qc.fail || qc.cut || qc.ecs != nil || qc.rots > 1 || m.Truncated ||
		m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 || len(wire) > minUDPSize || s.random.Load() {
		return
	}
	r := fastReply{zone: qc.zone, qtype: m.Question[0].Qtype, size: int32(len(wire))}
	all := append([]byte(nil), key...) // the key, then each rotation's reply
	if qc.rots == 0 {
		all = append(all, wire...)
	} else {
		set, n := qc.rotSet, len(qc.rotSet.RRs)
		rot := m.Answer[qc.rotAt : qc.rotAt+n]
		if !isRotation(rot, set.RRs, qc.rotK) {
			return
		}
		r.set = set
		var tmp [minUDPSize]byte
		for k := range n {
			copy(rot, set.RRs[k:])
			copy(rot[n-k:], set.RRs[:k])
			b, err := m.PackBuffer(tmp[:])
			if err != nil || len(b) != len(wire) {
				return
			}
			all = append(all, b...)
		}
		at := len(key) + qc.rotK*len(wire)
		if string(all[at:at+len(wire)]) != string(wire) {
			return // packing again must give the same bytes
		}
	}
	if c.bytes += len(all) + 128; c.bytes > c.max {
		c.reset(c.snap)
		return
	}
	str := string(all)
	r.wire = str[len(key):]
	c.entries[str[:len(key)]] = r
}

// isRotation reports whether rot is rrs rotated to start at k (the same
// records, not equal ones).
func isRotation(rot, rrs []dns.RR, k int) bool {
	n := len(rrs)
	return len(rot) == n && sameRRs(rot[:n-k], rrs[k:]) && sameRRs(rot[n-k:], rrs[:k])
}
