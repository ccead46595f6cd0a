package wire

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// RcodeBadCookie is BADCOOKIE (RFC 7873 section 8), an extended rcode.
const RcodeBadCookie = 23

// Slip makes the reply out, in place, the minimal reply a rate limit
// slips instead of dropping (BIND's and NSD's): its header with TC=1 and
// no records, the question, and our OPT record if the query had one
// (edns; do: with DO; udpSize is ours), so that a client behind the
// address retries over TCP; or, when the client sent a cookie
// (badCookie), BADCOOKIE (RFC 7873 section 5.2.3: the client retries with
// the server cookie, which the cookie stage adds to every reply with an
// OPT record). It returns nil if out cannot be read.
func Slip(out []byte, edns, do bool, udpSize int, badCookie bool) []byte {
	if len(out) < 12 {
		return nil
	}
	end := 12
	qd := binary.BigEndian.Uint16(out[4:])
	if qd > 0 {
		// The question as the encoder wrote it: labels, no pointers.
		for end < len(out) && out[end] != 0 {
			if out[end]&0xC0 != 0 {
				return nil
			}
			end += 1 + int(out[end])
		}
		if end += 1 + 4; end > len(out) {
			return nil
		}
		qd = 1
	}
	out = out[:end]
	binary.BigEndian.PutUint16(out[4:], qd)
	clear(out[6:12])
	var ext byte
	if badCookie {
		out[3] = out[3]&0xF0 | RcodeBadCookie&0xF
		ext, edns = RcodeBadCookie>>4, true
	} else {
		out[2] |= 1 << 1 // TC
	}
	if !edns {
		return out
	}
	out[11] = 1
	var flags byte
	if do {
		flags = 0x80
	}
	// The OPT record: root owner, type, our size, extended rcode,
	// version 0, DO, no data. out had at least this much after the
	// question (its own OPT record), so the append stays in its array.
	return append(out, 0, 0, byte(dns.TypeOPT), byte(udpSize>>8), byte(udpSize), ext, 0, flags, 0, 0, 0)
}

// RestoreCase writes the question name as asked over the lower-case one
// at the start of the packed reply out (same length: only the case
// differs).
func RestoreCase(out []byte, asked string) {
	if len(out) > 12 {
		_, _ = dns.PackDomainName(asked, out, 12, nil, false)
	}
}

// PermShape reports whether reply (to a question of qlen bytes) can stand
// for n rotations of its answer: it has n answer records right after the
// question, each owned by the question's name (a pointer to it) with the
// same type, class, TTL and data length, and no other records but an OPT.
// It returns where the records start and each one's length.
func PermShape(reply []byte, qlen, n int) (ans, rec int, ok bool) {
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

// Rotate writes reply into out (as long) with its n answer records, of
// rec bytes each from ans on (as PermShape found them), rotated by d:
// record d first.
func Rotate(out, reply []byte, ans, rec, n, d int) {
	end := ans + n*rec
	copy(out, reply[:ans])
	w := ans + copy(out[ans:], reply[ans+d*rec:end])
	copy(out[w:], reply[ans:ans+d*rec])
	copy(out[end:], reply[end:])
}

// WithoutECS returns reply (to query q) as a template that serves any
// ECS: without the echoed ECS option, if the query had one, and with our
// OPT record (which the reply then ends with) holding no data. It is
// reply itself when there is nothing to take out, a copy otherwise.
func WithoutECS(q *Query, reply []byte) ([]byte, bool) {
	if q.Flags()&FlagOPT == 0 {
		return reply, true // no OPT asked, none given
	}
	n := len(q.ECS)
	if len(reply) < 12+11+n {
		return nil, false
	}
	o := reply[len(reply)-11-n:] // our OPT record, if it is last
	if o[0] != 0 || binary.BigEndian.Uint16(o[1:]) != dns.TypeOPT || int(binary.BigEndian.Uint16(o[9:])) != n {
		return nil, false
	}
	if n == 0 {
		return reply, true
	}
	// The echoed option is the query's but for the scope.
	e := o[11:]
	if string(e[:7]) != string(q.ECS[:7]) || string(e[8:]) != string(q.ECS[8:]) {
		return nil, false
	}
	t := append([]byte(nil), reply[:len(reply)-n]...)
	t[len(t)-2], t[len(t)-1] = 0, 0
	return t, true
}

// EchoECS appends the query's ECS option to out, a reply whose OPT
// record (with no data) ends it, with the scope given.
func EchoECS(out, ecs []byte, scope byte) []byte {
	n := len(out)
	binary.BigEndian.PutUint16(out[n-2:], uint16(len(ecs)))
	out = append(out, ecs...)
	out[n+7] = scope
	return out
}
