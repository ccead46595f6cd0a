package wire

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// Template is a reply that serves any question (of one zone, or of none)
// but for the question itself: the header, and the tail after the
// question, from a reply to a name of Qlen bytes, with the offsets in
// Tail of its compression pointers. Those point into the zone's part of
// the question or into the tail, so a longer or shorter name moves them
// all by the difference.
type Template struct {
	Hdr  [12]byte
	Qlen int
	Tail []byte
	Ptrs []int
}

// PlainTemplate returns reply (to a name of qlen bytes) as a template
// whose tail has no compression pointers (the caller checked it: a
// REFUSED with nothing or an OPT record after the question).
func PlainTemplate(reply []byte, qlen int) *Template {
	t := &Template{Qlen: qlen, Tail: append([]byte(nil), reply[12+qlen+4:]...)}
	copy(t.Hdr[:], reply[:12])
	return t
}

// SOATemplate reads reply (to a question for the wire-form name qn, with
// no answer, one SOA in authority and at most an OPT record without data)
// and notes its compression pointers. Pointers into the question must
// point into its last zlabels labels, the zone's origin.
func SOATemplate(reply, qn []byte, zlabels int) (*Template, bool) {
	qlen := len(qn)
	if len(reply) < 12 || binary.BigEndian.Uint64(reply[4:])>>16 != 1<<32|1 ||
		binary.BigEndian.Uint16(reply[10:]) > 1 {
		return nil, false // QD=1, AN=0, NS=1, AR 0 or 1
	}
	labels := 0
	for off := 0; qn[off] != 0; off += 1 + int(qn[off]) {
		labels++
	}
	if labels < zlabels {
		return nil, false
	}
	zoneAt := 12 // where the zone's part of the question starts
	for range labels - zlabels {
		zoneAt += 1 + int(qn[zoneAt-12])
	}
	tailAt := 12 + qlen + 4
	if len(reply) < tailAt {
		return nil, false
	}
	t := &Template{Qlen: qlen, Tail: append([]byte(nil), reply[tailAt:]...)}
	copy(t.Hdr[:], reply[:12])
	off := 0
	// name reads a name at off in the tail, noting its pointer.
	name := func() bool {
		for off < len(t.Tail) {
			l := int(t.Tail[off])
			switch {
			case l == 0:
				off++
				return true
			case l&0xc0 == 0xc0:
				if off+2 > len(t.Tail) {
					return false
				}
				target := int(binary.BigEndian.Uint16(t.Tail[off:]) & 0x3fff)
				if target < zoneAt || target >= tailAt+off {
					return false // into the question's own labels, or not backwards
				}
				t.Ptrs = append(t.Ptrs, off)
				off += 2
				return true
			case l > 63:
				return false
			default:
				off += 1 + l
			}
		}
		return false
	}
	// The SOA record: owner, type, class, TTL, length, MNAME, RNAME, 20 bytes.
	if !name() || off+10 > len(t.Tail) || binary.BigEndian.Uint16(t.Tail[off:]) != dns.TypeSOA {
		return nil, false
	}
	rdlen := int(binary.BigEndian.Uint16(t.Tail[off+8:]))
	off += 10
	end := off + rdlen
	// name reads one name from off on: MNAME, then RNAME.
	if mname := name(); !mname {
		return nil, false
	}
	if rname := name(); !rname || off+20 != end {
		return nil, false
	}
	off = end
	if binary.BigEndian.Uint16(reply[10:]) == 1 {
		// Our OPT record, with no data (WithoutECS took any ECS out).
		if off+11 != len(t.Tail) || t.Tail[off] != 0 || binary.BigEndian.Uint16(t.Tail[off+1:]) != dns.TypeOPT {
			return nil, false
		}
		off += 11
	}
	return t, off == len(t.Tail)
}

// Len is the length of the reply Write makes for a name of qlen bytes.
func (t *Template) Len(qlen int) int { return 12 + qlen + 4 + len(t.Tail) }

// Write writes the reply to query pkt, whose name takes qlen bytes, into
// buf (of at least t.Len(qlen) bytes) and returns it: the header with the
// query's ID, the question as asked, and the tail with its pointers moved.
func (t *Template) Write(buf, pkt []byte, qlen int) []byte {
	out := buf[:t.Len(qlen)]
	copy(out, t.Hdr[:])
	out[0], out[1] = pkt[0], pkt[1] // the ID
	copy(out[12:], pkt[12:12+qlen+4])
	tail := out[12+qlen+4:]
	copy(tail, t.Tail)
	delta := qlen - t.Qlen
	for _, p := range t.Ptrs {
		v := int(binary.BigEndian.Uint16(tail[p:])&0x3fff) + delta
		binary.BigEndian.PutUint16(tail[p:], 0xc000|uint16(v))
	}
	return out
}
