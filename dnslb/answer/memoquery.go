package answer

import (
	"encoding/binary"
	"net/netip"

	"github.com/dnslb/dnslb/dnslb/wire"
)

// fastQuery is what the memo read from one datagram (wire.Query), with
// the room its key grows in (the decision points' values, appended by
// fastCache.get) and the key's hash.
type fastQuery struct {
	wire.Query
	ok   bool   // what parse returned
	h    uint64 // Key's hash in the table (fastTable.hash), when prefetch made it; else 0
	kbuf [fastKeyMax]byte
}

// parse fills q from pkt (which has a full header and is a query) and
// reports, also in q.ok, whether pkt qualifies (wire.Query.Parse). Cookies
// the memo's queries carry are well-formed; the cookie stage checks them
// and adds its option to the reply (Worker.Answer). Other queries are the
// full path's, which answers malformed cookies FORMERR.
func (q *fastQuery) parse(pkt []byte) bool {
	q.ok, q.h = q.Query.Parse(pkt, q.kbuf[:]), 0
	return q.ok
}

// ecsClient returns the client an ECS option (as validECS accepts it)
// stands for, as decide reads it (plan.parseECS): the address masked to
// the source prefix capped at MaxECSv4 or MaxECSv6, and that prefix.
func ecsClient(opt []byte) (netip.Addr, int) {
	bits := int(opt[6])
	var b [16]byte
	copy(b[:], opt[8:])
	var a netip.Addr
	if binary.BigEndian.Uint16(opt[4:]) == 1 {
		// Prefix.Masked by hand, in a few instructions instead of
		// netip's 60 or so, on every ECS query of the memo. (A shift
		// by 32 gives 0, so /0 masks all.)
		bits = min(bits, MaxECSv4)
		v := binary.BigEndian.Uint32(b[:4]) &^ (^uint32(0) >> bits)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits
	} else {
		a = netip.AddrFrom16(b)
		bits = min(bits, MaxECSv6)
	}
	return netip.PrefixFrom(a, bits).Masked().Addr(), bits
}
