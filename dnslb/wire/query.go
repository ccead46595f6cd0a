package wire

import (
	"encoding/binary"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/cookie"
)

// KeyMax is the room Query.Parse needs for the key: a name of at most
// 255 bytes, type and class, and the flags byte.
const KeyMax = 255 + 4 + 1

// Flags of a Query's key, its last byte.
const (
	FlagRD  = 1 // the query asked for recursion
	FlagOPT = 2 // it had an OPT record
	FlagDO  = 4 // that record set DO
	FlagCO  = 8 // and CO (RFC 9824 section 4: compact denial's NXDOMAIN asked for)
)

// Query is what the memo reads of one datagram: the usual query, one
// question with at most an OPT record that carries nothing but one ECS
// and one COOKIE option.
type Query struct {
	// Key is the question (the name in lower case, type, class) and
	// the flags byte (FlagRD, FlagOPT, FlagDO, FlagCO), in the buffer given to
	// Parse.
	Key []byte
	// ECS is the query's ECS option (code, length, data), or nil.
	ECS []byte
	// Cookie is the data of the query's COOKIE option (RFC 7873: the
	// client cookie, then the server cookie), of a well-formed length;
	// nil without one.
	Cookie []byte
	Mixed  bool   // the name has upper-case letters (as with 0x20 randomisation)
	Qname  []byte // the name as asked, in the datagram
}

// Flags returns the key's flags byte.
func (q *Query) Flags() byte { return q.Key[len(q.Key)-1] }

// Parse fills q from pkt (which has a full header and is a query), the
// key written into kbuf (of at least KeyMax bytes), and reports whether
// pkt is such a query: opcode QUERY; QD=1, AN=NS=0, AR 0 or 1; a name
// without compression; an OPT record of version 0 with no flags but DO
// and CO and no options but one valid ECS (ValidECS) and one well-formed COOKIE.
// Any other query is the full path's.
func (q *Query) Parse(pkt, kbuf []byte) bool {
	if len(pkt) < 12 || len(kbuf) < KeyMax || pkt[2]&0x78 != 0 ||
		binary.BigEndian.Uint32(pkt[4:]) != 1<<16 || pkt[8]|pkt[9]|pkt[10] != 0 || pkt[11] > 1 {
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
	flags := pkt[2] & FlagRD
	q.ECS, q.Cookie = nil, nil
	if pkt[11] == 1 {
		// The OPT record: root name, type OPT, any size, extended rcode
		// and version 0, no flags but DO and CO.
		o := pkt[off:]
		if len(o) < 11 || o[0] != 0 || binary.BigEndian.Uint16(o[1:]) != dns.TypeOPT ||
			o[5]|o[6]|o[7]&0x3f|o[8] != 0 || int(binary.BigEndian.Uint16(o[9:])) != len(o)-11 {
			return false
		}
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
				if q.ECS != nil || !ValidECS(opts[:l]) {
					return false
				}
				q.ECS = opts[:l]
			case dns.EDNS0COOKIE:
				if q.Cookie != nil || !cookie.WellFormed(l-4) {
					return false
				}
				q.Cookie = opts[4:l]
			default:
				return false
			}
			opts = opts[l:]
		}
		flags |= FlagOPT | o[7]>>7<<2 | o[7]>>6&1<<3 // DO, the top bit of the flags, as FlagDO; CO, the next, as FlagCO
	} else if off != len(pkt) {
		return false
	}
	n := copy(kbuf, pkt[12:off])
	kbuf[n] = flags
	q.Key = kbuf[:n+1]
	q.Qname, q.Mixed = pkt[12:off-4], false
	// The key holds the name in lower case. Length bytes (at most 63)
	// are never letters, so the whole name can be mapped: eight bytes at
	// a time, then the rest one by one.
	name := q.Key[:len(q.Qname)]
	var up uint64
	i := 0
	for ; i+8 <= len(name); i += 8 {
		w := binary.LittleEndian.Uint64(name[i:])
		u := upper8(w)
		binary.LittleEndian.PutUint64(name[i:], w|u>>2) // 0x80 >> 2 is 'a' - 'A'
		up |= u
	}
	for ; i < len(name); i++ {
		if b := name[i]; b >= 'A' && b <= 'Z' {
			name[i] = b + 'a' - 'A'
			up = 1
		}
	}
	q.Mixed = up != 0
	return true
}

// upper8 has the top bit set in each byte of w that is an ASCII upper-case
// letter, and no other bit. Bytes from 0x80 up are left out by the last
// mask; below it no sum carries into the next byte (0x7f + 0x3f < 0x100).
func upper8(w uint64) uint64 {
	const ones = 0x0101010101010101
	x := w & (0x7f * ones)
	return (x + (0x80-'A')*ones) &^ (x + (0x80-'Z'-1)*ones) &^ w & (0x80 * ones)
}

// ValidECS reports whether opt is exactly one EDNS Client Subnet option
// as RFC 7871 section 6 has it: family 1 or 2, a source prefix within
// the family, scope 0, just the address bytes the prefix needs and no
// bits set beyond it.
func ValidECS(opt []byte) bool {
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

// IsTransferQuery reports whether pkt asks one question of type AXFR or
// IXFR: read from the bytes, so that other TCP queries are not unpacked
// twice.
func IsTransferQuery(pkt []byte) bool {
	if len(pkt) < 12 || binary.BigEndian.Uint16(pkt[4:]) != 1 {
		return false
	}
	off := 12
	for off < len(pkt) && pkt[off] != 0 {
		if pkt[off] > 63 {
			return false // a pointer: not in a first question
		}
		off += 1 + int(pkt[off])
	}
	if off+3 > len(pkt) {
		return false
	}
	qt := binary.BigEndian.Uint16(pkt[off+1:])
	return qt == dns.TypeAXFR || qt == dns.TypeIXFR
}
