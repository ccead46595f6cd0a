package wire

import (
	"encoding/binary"
	"errors"

	"github.com/miekg/dns"
)

// QueryScratch is what UnpackQuery reuses from query to query.
type QueryScratch struct {
	q     [1]dns.Question
	opt   dns.OPT
	extra [1]dns.RR
	// Cookie is the data of the OPT record's one COOKIE option, when
	// the fast path read it (nil otherwise)
	Cookie []byte
}

// UnpackQuery is req.Unpack(pkt) (pkt has a full header), with a fast
// path for the usual query, one question and at most an OPT record
// without options or with one COOKIE option (left out of req: its data
// is sc.Cookie), that reuses sc's arrays instead of allocating.
func UnpackQuery(req *dns.Msg, sc *QueryScratch, pkt []byte) error {
	// Unpack leaves sections it did not reach as they were.
	*req = dns.Msg{}
	sc.Cookie = nil
	// QD=1, AN=NS=0, AR 0 or 1.
	if n := binary.BigEndian.Uint64(pkt[4:]); n == 1<<48 || n == 1<<48|1 {
		name, off, err := dns.UnpackDomainName(pkt, 12)
		end, ok := off+4, true
		if n&1 == 1 {
			// The OPT record: root name, type, class, TTL, RDLENGTH,
			// and no option or one COOKIE option (a resolver's usual
			// query), whose data is kept in sc.Cookie.
			end += 11
			ok = err == nil && end <= len(pkt) && pkt[off+4] == 0 && binary.BigEndian.Uint16(pkt[off+5:]) == dns.TypeOPT
			if rdlen := 0; ok {
				rdlen = int(binary.BigEndian.Uint16(pkt[off+13:]))
				if rdlen > 0 {
					ok = rdlen >= 4 && end+rdlen == len(pkt) && binary.BigEndian.Uint16(pkt[end:]) == dns.EDNS0COOKIE &&
						int(binary.BigEndian.Uint16(pkt[end+2:])) == rdlen-4
					if ok {
						sc.Cookie = pkt[end+4 : end+rdlen]
						end += rdlen
					}
				}
			}
		}
		if err == nil && ok && end == len(pkt) {
			if err := req.Unpack(pkt[:12]); err != nil { // the header alone
				return err
			}
			sc.q[0] = dns.Question{Name: name, Qtype: binary.BigEndian.Uint16(pkt[off:]),
				Qclass: binary.BigEndian.Uint16(pkt[off+2:])}
			req.Question = sc.q[:]
			if n&1 == 1 {
				o := pkt[off+4:]
				sc.opt = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT,
					Class: binary.BigEndian.Uint16(o[3:]), Ttl: binary.BigEndian.Uint32(o[5:])}}
				sc.extra[0] = &sc.opt
				req.Extra = sc.extra[:]
				req.Rcode |= sc.opt.ExtendedRcode() // as Unpack does
			}
			return nil
		}
	}
	if err := req.Unpack(pkt); err != nil {
		return err
	}
	// miekg/dns lowers a section's count to the records that are there
	// when the header promises more; such a query is malformed
	// (RFC 1035 section 4.1.1), and NSD and Knot answer FORMERR.
	if int(binary.BigEndian.Uint16(pkt[4:])) != len(req.Question) || int(binary.BigEndian.Uint16(pkt[6:])) != len(req.Answer) ||
		int(binary.BigEndian.Uint16(pkt[8:])) != len(req.Ns) || int(binary.BigEndian.Uint16(pkt[10:])) != len(req.Extra) {
		return ErrCounts
	}
	return nil
}

// ErrCounts is UnpackQuery's error for a query whose header counts more
// records than it holds.
var ErrCounts = errors.New("header counts records that are not there")

// FormErr is the reply to a query that does not unpack: FORMERR with the
// header (and the first question, if it was read), exactly as miekg/dns's
// server answers it.
func FormErr(req *dns.Msg, buf []byte) []byte {
	req.SetRcodeFormatError(req)
	req.Zero = false
	req.Ns, req.Answer, req.Extra = nil, nil, nil
	out, err := req.PackBuffer(buf)
	if err != nil {
		return nil
	}
	return out
}
