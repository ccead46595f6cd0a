package dnssec

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzSignVerify signs random RRsets (A, AAAA and TXT records under an
// owner made of the input's labels, in the input's order) with an
// ECDSA and an Ed25519 signer, and checks that each signature verifies
// against its key in the hour-aligned window, that the same RRset in
// reverse order gets the same signatures from the cache, and that a
// record's changed data does not verify.
func FuzzSignVerify(f *testing.F) {
	var signers []*Signer
	for _, alg := range Algorithms {
		k, err := Generate("example.org.", alg, true)
		if err != nil {
			f.Fatal(err)
		}
		s, err := NewSigner("example.org.", []*Key{k}, 300)
		if err != nil {
			f.Fatal(err)
		}
		signers = append(signers, s)
	}
	f.Add("www", uint8(1), []byte{192, 0, 2, 1, 192, 0, 2, 2}, uint32(300))
	f.Add("a.b.c", uint8(28), []byte("2001:db8::1 and more bytes"), uint32(0))
	f.Add("*.wild", uint8(16), []byte("hello\x00world"), uint32(86400))
	f.Fuzz(func(t *testing.T, label string, kind uint8, data []byte, ttl uint32) {
		owner := label + ".example.org."
		if _, ok := dns.IsDomainName(owner); !ok || len(owner) > 250 || len(data) == 0 || len(data) > 2000 {
			return
		}
		owner = dns.CanonicalName(owner)
		hdr := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
		}
		var rrset []dns.RR
		seen := map[string]bool{}
		add := func(rr dns.RR) {
			if k := rr.String(); !seen[k] { // an RRset holds no duplicates
				seen[k] = true
				rrset = append(rrset, rr)
			}
		}
		switch kind % 3 {
		case 0:
			for b := data; len(b) >= 4; b = b[4:] {
				add(&dns.A{Hdr: hdr(dns.TypeA), A: netip.AddrFrom4([4]byte(b[:4])).AsSlice()})
			}
		case 1:
			for b := data; len(b) >= 16; b = b[16:] {
				add(&dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: netip.AddrFrom16([16]byte(b[:16])).AsSlice()})
			}
		default:
			for i := 0; i < len(data); i += 200 {
				add(&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{fmt.Sprintf("%x", data[i:min(i+200, len(data))])}})
			}
		}
		if len(rrset) == 0 {
			return
		}
		now := time.Unix(1e9+int64(binary.BigEndian.Uint32(append(data, 0, 0, 0, 0)[:4]))%3e9, 0) // 2001..2096: serial arithmetic of RFC 4034 holds
		for _, s := range signers {
			sigs, err := s.Sign(rrset, now)
			if err != nil || len(sigs) != 1 {
				t.Fatalf("sign %v: %v, %d signatures", rrset, err, len(sigs))
			}
			k := s.KSKs[0].DNSKEY
			if err := sigs[0].Verify(k, rrset); err != nil {
				t.Fatalf("alg %d: signature of %v does not verify: %v", k.Algorithm, rrset, err)
			}
			in, ex := Window(now)
			if sigs[0].Inception != in || sigs[0].Expiration != ex || !sigs[0].ValidityPeriod(now) {
				t.Fatalf("window %d..%d, want %d..%d around %v", sigs[0].Inception, sigs[0].Expiration, in, ex, now)
			}
			rev := slices.Clone(rrset)
			slices.Reverse(rev)
			again, err := s.Sign(rev, now)
			if err != nil || len(again) != 1 || again[0] != sigs[0] {
				t.Fatalf("the same RRset in another order: a new signature (%v)", err)
			}
			// Its data changed (the TTL is not signed: the RRSIG's
			// original TTL is, RFC 4034 section 3.1.4).
			changed := slices.Clone(rrset)
			c := dns.Copy(changed[0])
			switch r := c.(type) {
			case *dns.A:
				r.A[3] ^= 1
			case *dns.AAAA:
				r.AAAA[15] ^= 1
			case *dns.TXT:
				r.Txt[0] += "x"
			}
			changed[0] = c
			if err := sigs[0].Verify(k, changed); err == nil && !seen[c.String()] {
				t.Fatalf("a changed RRset still verifies: %v", changed)
			}
		}
	})
}
