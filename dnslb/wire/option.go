package wire

import "encoding/binary"

// AppendOption adds the EDNS option code with data to the OPT record of
// the finished reply, when that record is the reply's last, as it is in
// every reply with EDNS here (the encoder writes the OPT record last, the
// memo's replies keep it there); it returns reply unchanged otherwise (no
// EDNS, a TSIG record after the OPT, a reply it cannot walk, or one that
// would pass 65,535 bytes). The reply's size is the caller's to bound: a
// UDP reply needs room for the option.
func AppendOption(reply []byte, code uint16, data []byte) []byte {
	last := lastOPT(reply)
	if last < 0 || len(reply)+4+len(data) > 65535 {
		return reply
	}
	rdlen := binary.BigEndian.Uint16(reply[last+9:])
	binary.BigEndian.PutUint16(reply[last+9:], rdlen+uint16(4+len(data)))
	reply = append(reply, byte(code>>8), byte(code), byte(len(data)>>8), byte(len(data)))
	return append(reply, data...)
}

// lastOPT returns where the OPT record that ends reply starts, or -1.
func lastOPT(reply []byte) int {
	if len(reply) < 12 || binary.BigEndian.Uint16(reply[10:]) == 0 {
		return -1
	}
	n := int(binary.BigEndian.Uint16(reply[4:]))
	rrs := int(binary.BigEndian.Uint16(reply[6:])) + int(binary.BigEndian.Uint16(reply[8:])) + int(binary.BigEndian.Uint16(reply[10:]))
	off := 12
	for range n {
		if off = SkipName(reply, off); off < 0 || off+4 > len(reply) {
			return -1
		}
		off += 4
	}
	last := -1
	for range rrs {
		last = off
		if off = SkipName(reply, off); off < 0 || off+10 > len(reply) {
			return -1
		}
		off += 10 + int(binary.BigEndian.Uint16(reply[off+8:]))
		if off > len(reply) {
			return -1
		}
	}
	if off != len(reply) || reply[last] != 0 || binary.BigEndian.Uint16(reply[last+1:]) != 41 { // OPT, owner "."
		return -1
	}
	return last
}

// SkipName returns the offset after the name at off in msg, -1 if it
// runs past the end or has a label type other than length and pointer.
func SkipName(msg []byte, off int) int {
	for off < len(msg) {
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1
		case l&0xc0 == 0xc0:
			if off+2 > len(msg) {
				return -1
			}
			return off + 2
		case l&0xc0 != 0:
			return -1
		}
		off += 1 + l
	}
	return -1
}
