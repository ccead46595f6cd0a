package answer

import (
	"encoding/binary"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/cookie"
)

// fastQuery is what the fast path read from one datagram.
type fastQuery struct {
	key []byte // question (name in lower case) and flags, in kbuf
	ecs []byte // the query's ECS option (code, length, data), or nil
	// cookie is the data of the query's COOKIE option (RFC 7873: the
	// client cookie, then the server cookie), of a well-formed length;
	// nil without one.
	cookie []byte
	mixed  bool   // the name has upper-case letters (as with 0x20 randomisation)
	qname  []byte // the name as asked, in the datagram
	ok     bool   // what parse returned
	h      uint64 // key's hash in the table (fastTable.hash), when prefetch made it; else 0
	kbuf   [fastKeyMax]byte
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
	q.ecs, q.cookie = nil, nil
	if pkt[11] == 1 {
		// The OPT record: root name, type OPT, any size, extended rcode
		// and version 0, no flags but DO, and no option or one ECS.
		o := pkt[off:]
		if len(o) < 11 || o[0] != 0 || binary.BigEndian.Uint16(o[1:]) != dns.TypeOPT ||
			o[5]|o[6]|o[7]&0x7f|o[8] != 0 || int(binary.BigEndian.Uint16(o[9:])) != len(o)-11 {
			return false
		}
		// Options: at most one ECS, and one well-formed DNS cookie
		// (RFC 7873), which decide ignores: the cookie stage adds its
		// option to the reply (Worker.Answer). Other cookies are the
		// full path's, which answers them FORMERR.
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
				if q.cookie != nil || !cookie.WellFormed(l-4) {
					return false
				}
				q.cookie = opts[4:l]
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

// ecsClient returns the client an ECS option (as validECS accepts it)
// stands for, as decide reads it (plan.parseECS): the address masked to
// the source prefix capped at MaxECSv4 or MaxECSv6, and that prefix.
func ecsClient(opt []byte) (netip.Addr, int) {
	bits := int(opt[6])
	var b [16]byte
	copy(b[:], opt[8:])
	var a netip.Addr
	if binary.BigEndian.Uint16(opt[4:]) == 1 {
		a = netip.AddrFrom4([4]byte(b[:4]))
		bits = min(bits, MaxECSv4)
	} else {
		a = netip.AddrFrom16(b)
		bits = min(bits, MaxECSv6)
	}
	return netip.PrefixFrom(a, bits).Masked().Addr(), bits
}
