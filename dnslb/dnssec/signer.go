package dnssec

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Validity windows are aligned to fixed boundaries, so that every dnslb
// with the same keys signs an RRset with the same header, and a signature
// stays good for the whole window: inception at the start of the current
// UTC hour minus one hour (clock skew), expiration Validity later.
const (
	Skew     = time.Hour
	Validity = 7 * 24 * time.Hour
)

// Window returns the validity window of signatures made at now.
func Window(now time.Time) (inception, expiration uint32) {
	in := now.UTC().Truncate(time.Hour).Add(-Skew)
	return uint32(in.Unix()), uint32(in.Add(Validity).Unix())
}

// WindowEnd is when signatures made at now stop being the ones made
// (the next hour boundary, where Window moves on): a reply signed at now
// is the same for every query until then.
func WindowEnd(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(time.Hour)
}

// DefaultCacheSize bounds a Signer's cache of signatures.
const DefaultCacheSize = 100_000

// Signer signs the RRsets of one zone online. A CSK (or several keys of
// one role) signs everything; with KSKs (SEP flag) and ZSKs both present,
// the KSKs sign the DNSKEY RRset and the ZSKs the rest. Safe for
// concurrent use.
type Signer struct {
	Zone   string // fully qualified, lower case
	KSKs   []*Key
	ZSKs   []*Key
	dnskey []dns.RR
	// cds and cdnskey are the CDS and CDNSKEY RRsets (RFC 7344): the
	// KSKs', what the parent's DS RRset should be.
	cds, cdnskey []dns.RR

	max   int
	mu    sync.Mutex
	in    uint32 // the window the cache holds
	cache map[string][]*dns.RRSIG

	made, hits atomic.Uint64
	nanos      atomic.Uint64
}

// NewSigner makes the signer of zone from its keys; ttl is the DNSKEY
// RRset's TTL (0: the keys' own).
func NewSigner(zone string, keys []*Key, ttl uint32) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	s := &Signer{Zone: dns.CanonicalName(zone), max: DefaultCacheSize, cache: map[string][]*dns.RRSIG{}}
	for _, k := range keys {
		if k.KSK() {
			s.KSKs = append(s.KSKs, k)
		} else {
			s.ZSKs = append(s.ZSKs, k)
		}
		if !strings.EqualFold(k.DNSKEY.Hdr.Name, s.Zone) {
			return nil, fmt.Errorf("%s: key of zone %s, not %s", k.Base, k.DNSKEY.Hdr.Name, s.Zone)
		}
	}
	switch {
	case len(s.KSKs) == 0: // ZSKs only: each one is a CSK
		s.KSKs = s.ZSKs
	case len(s.ZSKs) == 0:
		s.ZSKs = s.KSKs
	}
	for _, k := range keys {
		c := *k.DNSKEY
		c.Hdr.Name = s.Zone
		if ttl != 0 {
			c.Hdr.Ttl = ttl
		}
		s.dnskey = append(s.dnskey, &c)
	}
	if ttl == 0 {
		for _, rr := range s.dnskey { // one TTL for the RRset
			rr.Header().Ttl = s.dnskey[0].Header().Ttl
		}
	}
	for _, k := range s.KSKs {
		c := *k.DNSKEY
		c.Hdr.Name, c.Hdr.Ttl = s.Zone, s.dnskey[0].Header().Ttl
		s.cdnskey = append(s.cdnskey, c.ToCDNSKEY())
		s.cds = append(s.cds, c.ToDS(dns.SHA256).ToCDS())
	}
	return s, nil
}

// CDS is the zone's CDS RRset (RFC 7344, RFC 8078): a SHA-256 digest of
// each KSK, the DS RRset the parent should hold (shared: do not change
// it). It is signed, as the DNSKEY RRset is, by the KSKs.
func (s *Signer) CDS() []dns.RR { return s.cds }

// CDNSKEY is the zone's CDNSKEY RRset (RFC 7344): the KSKs (shared: do
// not change it).
func (s *Signer) CDNSKEY() []dns.RR { return s.cdnskey }

// SetCacheSize bounds the cache to n RRsets (n ≥ 1).
func (s *Signer) SetCacheSize(n int) { s.max = max(n, 1) }

// Flush empties the cache (benchmarks of the cold cost use it).
func (s *Signer) Flush() {
	s.mu.Lock()
	clear(s.cache)
	s.mu.Unlock()
}

// Adopt carries over what old, the signer of the same zone of the last
// load, holds: its counts always (they are the zone's, and a metric's
// counter must not fall at a reload), and its cached signatures when both
// have the same keys in the same roles. The cache is keyed by the
// canonical RRset, records and TTL included, so a signature held stays
// right for the RRset it names whatever else in the zone changed. It
// reports whether the cache was kept. Call it before s is used.
func (s *Signer) Adopt(old *Signer) bool {
	if old == nil || old == s || old.Zone != s.Zone {
		return false
	}
	s.made.Store(old.made.Load())
	s.hits.Store(old.hits.Load())
	s.nanos.Store(old.nanos.Load())
	if !slices.Equal(keyIDs(s.KSKs), keyIDs(old.KSKs)) || !slices.Equal(keyIDs(s.ZSKs), keyIDs(old.ZSKs)) {
		return false
	}
	old.mu.Lock()
	in, cache := old.in, maps.Clone(old.cache)
	old.mu.Unlock()
	s.mu.Lock()
	s.in, s.cache = in, cache
	s.mu.Unlock()
	return true
}

// keyIDs names keys by their public data, sorted (Read checks that the
// private key is the public one's).
func keyIDs(keys []*Key) []string {
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		d := k.DNSKEY
		ids = append(ids, fmt.Sprintf("%d %d %d %s", d.Flags, d.Protocol, d.Algorithm, d.PublicKey))
	}
	slices.Sort(ids)
	return ids
}

// DNSKEY is the zone's DNSKEY RRset (shared: do not change it).
func (s *Signer) DNSKEY() []dns.RR { return s.dnskey }

// Stats are what the signer did: signatures made, RRsets whose
// signatures came from the cache, the time spent signing, and the RRsets
// the cache holds.
type Stats struct {
	Made, Hits uint64
	Signing    time.Duration
	Cached     int
}

// Stats returns the signer's counts.
func (s *Signer) Stats() Stats {
	s.mu.Lock()
	n := len(s.cache)
	s.mu.Unlock()
	return Stats{Made: s.made.Load(), Hits: s.hits.Load(), Signing: time.Duration(s.nanos.Load()), Cached: n}
}

// Sign returns the signatures of rrset (one RRset: same owner, type,
// class and TTL; any order) made at now, one per signing key: from the
// cache when the same keys signed the same RRset in the same window. The
// records are not changed.
func (s *Signer) Sign(rrset []dns.RR, now time.Time) ([]*dns.RRSIG, error) {
	sigs, _, err := s.sign(rrset, now, true)
	return sigs, err
}

// Ahead makes sure the cache holds the signatures of rrset for the
// window of now, before a query asks: it signs rrset if the cache does
// not hold it, and reports whether it did. Finding it held is not a hit
// (Stats.Hits counts what queries found).
func (s *Signer) Ahead(rrset []dns.RR, now time.Time) (made bool, err error) {
	_, made, err = s.sign(rrset, now, false)
	return made, err
}

// sign is Sign, counting a cache hit when hit is set; made says a new
// signature was made.
func (s *Signer) sign(rrset []dns.RR, now time.Time, hit bool) (sigs []*dns.RRSIG, made bool, err error) {
	if len(rrset) == 0 {
		return nil, false, nil
	}
	in, ex := Window(now)
	key := canonicalKey(rrset)
	s.mu.Lock()
	if s.in != in {
		clear(s.cache) // a new window: nothing held is of it
		s.in = in
	}
	sigs, ok := s.cache[key]
	s.mu.Unlock()
	if ok {
		if hit {
			s.hits.Add(1)
		}
		return sigs, false, nil
	}
	keys := s.ZSKs
	switch rrset[0].Header().Rrtype {
	case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
		// RFC 7344 section 4.1: CDS and CDNSKEY by a key the parent's DS
		// names, as the DNSKEY RRset.
		keys = s.KSKs
	}
	start := time.Now()
	h := rrset[0].Header()
	for _, k := range keys {
		sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: h.Class, Ttl: h.Ttl},
			Algorithm: k.DNSKEY.Algorithm, SignerName: s.Zone, KeyTag: k.Tag(), Inception: in, Expiration: ex}
		if err := sig.Sign(k.Priv, rrset); err != nil {
			return nil, false, fmt.Errorf("sign %s/%s with key %d: %w", h.Name, dns.TypeToString[h.Rrtype], k.Tag(), err)
		}
		sigs = append(sigs, sig)
	}
	s.nanos.Add(uint64(time.Since(start)))
	s.made.Add(uint64(len(sigs)))
	s.mu.Lock()
	if s.in == in {
		if len(s.cache) >= s.max {
			// Bounded: drop about half, in map order (random enough;
			// what is asked again is signed again).
			n := 0
			for k := range s.cache {
				if n >= s.max/2+1 {
					break
				}
				delete(s.cache, k)
				n++
			}
		}
		s.cache[key] = sigs
	}
	s.mu.Unlock()
	return sigs, true, nil
}

// canonicalKey names an RRset whatever its records' order: each record's
// wire form (owner, type, class, TTL, data), sorted. Two orders of one
// RRset have the same key, and the same signature (RFC 4034 section 6.3
// signs the canonical order).
func canonicalKey(rrset []dns.RR) string {
	// Packed as a message, not with dns.PackRR, which writes the
	// record's Rdlength: the records are the generation's, shared by
	// every worker, and never written.
	m := dns.Msg{Answer: rrset}
	n := 12
	for _, rr := range rrset {
		n += dns.Len(rr)
	}
	buf, err := m.PackBuffer(make([]byte, n+64))
	if err != nil {
		return fallbackKey(rrset)
	}
	var one [16][]byte
	wires := one[:0]
	off := 12
	for range rrset {
		start := off
		for off < len(buf) && buf[off] != 0 { // the owner: labels, no pointers (not compressed)
			if buf[off]&0xC0 != 0 {
				return fallbackKey(rrset)
			}
			off += 1 + int(buf[off])
		}
		off += 1 + 10
		if off > len(buf) {
			return fallbackKey(rrset)
		}
		off += int(buf[off-2])<<8 | int(buf[off-1])
		if off > len(buf) {
			return fallbackKey(rrset)
		}
		wires = append(wires, buf[start:off])
	}
	slices.SortFunc(wires, bytes.Compare)
	var b strings.Builder
	b.Grow(off - 12)
	for _, w := range wires {
		b.Write(w)
	}
	return b.String()
}

// fallbackKey is canonicalKey from the records' text, for what does not
// pack (it cannot happen for records that packed into a reply).
func fallbackKey(rrset []dns.RR) string {
	t := make([]string, len(rrset))
	for i, rr := range rrset {
		t[i] = rr.String()
	}
	slices.Sort(t)
	return strings.Join(t, "\n") + "\x00"
}

// NSEC is the compact denial of existence of RFC 9824 for qname: one NSEC
// record owned by qname whose next name is qname's immediate successor
// (\000.qname), covering nothing else, so the zone cannot be walked. types
// are the types that exist at qname (nil for a name that does not exist:
// the bitmap then holds NXNAME); RRSIG and NSEC are always in it. ttl is
// the negative TTL (the SOA's, RFC 9824 section 3).
func NSEC(qname string, types []uint16, ttl uint32) *dns.NSEC {
	bm := []uint16{dns.TypeRRSIG, dns.TypeNSEC}
	if types == nil {
		bm = append(bm, dns.TypeNXNAME)
	}
	for _, t := range types {
		if t != dns.TypeRRSIG && t != dns.TypeNSEC {
			bm = append(bm, t)
		}
	}
	slices.Sort(bm)
	bm = slices.Compact(bm)
	next := `\000.` + qname
	if qname == "." {
		next = `\000.`
	}
	if len(qname)+2 > 254 { // no room for a label: the name itself (RFC 9824 section 3.1 allows an epsilon function)
		next = qname
	}
	return &dns.NSEC{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: next, TypeBitMap: bm}
}
