package transfer

import (
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/wire"
)

// TSIG (RFC 8945): transaction signatures with shared keys, for zone
// transfers and NOTIFY. The keys are named in [tsig.keys.NAME], each with
// its algorithm and a file that holds the base64 secret. A query that
// carries a TSIG record is checked before anything else: an unknown key
// (or a known name with another algorithm) gets NOTAUTH with TSIG error
// BADKEY, a wrong MAC NOTAUTH/BADSIG, both unsigned (section 5.3.2); a
// good MAC signed outside its fudge NOTAUTH/BADTIME, signed, with our
// clock in Other Data (section 5.2.3). A query with a good signature gets
// its usual answer, signed with the same key, as Knot and NSD do; a zone
// transfer gets every message signed (section 5.3.1). [transfer] keys
// lists the keys a transfer must be signed with.

// tsigFudge is the fudge of what we sign: 300 s, as BIND, Knot and NSD.
const tsigFudge = 300

// tsigHashLen is the output of each algorithm's hash, in octets.
var tsigHashLen = map[string]int{dns.HmacSHA1: 20, dns.HmacSHA224: 28, dns.HmacSHA256: 32, dns.HmacSHA384: 48, dns.HmacSHA512: 64}

// tsigKeyring is a key as the query path uses it.
type tsigKeyring struct {
	name   string // lower case, fully qualified
	alg    string // dns.HmacSHA256 and friends
	secret string // base64
}

// newTSIGKeys is the keys of c by name, as TSIG records carry it. A key
// whose secret was not read (check reported it) is left out.
func newTSIGKeys(c config.TSIGConfig) map[string]*tsigKeyring {
	out := make(map[string]*tsigKeyring, len(c.Keys))
	for n, k := range c.Keys {
		alg, ok := config.TSIGAlgorithm(k.Algorithm)
		if !ok || k.Secret() == "" {
			continue
		}
		out[tsigName(n)] = &tsigKeyring{name: tsigName(n), alg: alg, secret: k.Secret()}
	}
	return out
}

// tsigName is config.TSIGName.
func tsigName(n string) string { return config.TSIGName(n) }

// hasTSIG reports whether req carries a TSIG record anywhere in its
// additional section.
func hasTSIG(req *dns.Msg) bool { return tsigOwner(req) != "" }

// signedQuery is a query whose TSIG checked out.
type signedQuery struct {
	key      *tsigKeyring
	tsig     dns.TSIG // the query's
	stripped []byte   // the query without its TSIG record
}

// verify checks the TSIG of req (pkt unpacked, with a TSIG record). It
// returns the query as signed, or the reply that refuses it: FORMERR for
// a TSIG record that is not the last one (RFC 8945 section 5.1), NOTAUTH
// with BADKEY, BADSIG, BADTRUNC or BADTIME (section 5.2).
func (t *Settings) verify(pkt []byte, req *dns.Msg, now time.Time) (*signedQuery, []byte, string) {
	n := len(req.Extra)
	rt, last := req.Extra[n-1].(*dns.TSIG)
	if !last || slices.ContainsFunc(req.Extra[:n-1], func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeTSIG }) {
		return nil, formErr(req), "TSIG not the last record"
	}
	var key *tsigKeyring
	if t != nil {
		key = t.keys[tsigName(rt.Hdr.Name)]
	}
	if key == nil || dns.CanonicalName(rt.Algorithm) != key.alg {
		return nil, tsigError(req, rt, nil, dns.RcodeBadKey, now), "BADKEY"
	}
	// A truncated MAC (section 5.2.2.1): longer than the hash's output, or
	// shorter than 10 octets or half of it, is malformed (FORMERR);
	// between that and the full length it is below what we accept (we
	// check full MACs only, as miekg/dns does): NOTAUTH/BADTRUNC, unsigned,
	// since a MAC we cannot check proves nothing to sign for.
	if h := tsigHashLen[key.alg]; h > 0 {
		switch n := int(rt.MACSize); {
		case n > h || n < max(10, h/2):
			return nil, formErr(req), "TSIG MAC size out of range"
		case n < h:
			return nil, tsigError(req, rt, nil, dns.RcodeBadTrunc, now), "BADTRUNC"
		}
	}
	cp := slices.Clone(pkt) // TsigVerify writes into the message
	switch err := dns.TsigVerify(cp, key.secret, "", false); err {
	case nil:
	case dns.ErrTime:
		return nil, tsigError(req, rt, key, dns.RcodeBadTime, now), "BADTIME"
	default:
		return nil, tsigError(req, rt, nil, dns.RcodeBadSig, now), "BADSIG"
	}
	// The query without its TSIG, for the usual path to answer.
	plain := req.Copy()
	plain.Extra = plain.Extra[:n-1]
	stripped, err := plain.Pack()
	if err != nil {
		return nil, formErr(req), "query does not pack"
	}
	return &signedQuery{key: key, tsig: *rt, stripped: stripped}, nil, ""
}

// formErr is FORMERR to req, leaving req as it is (the log names its key).
func formErr(req *dns.Msg) []byte { return wire.FormErr(req.Copy(), nil) }

// tsigError is the NOTAUTH reply to req with TSIG error code. key, if
// not nil, signs it (BADTIME, whose Other Data is our clock); BADKEY and
// BADSIG go unsigned, with the query's time signed.
func tsigError(req *dns.Msg, rt *dns.TSIG, key *tsigKeyring, code uint16, now time.Time) []byte {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeNotAuth)
	m.Authoritative, m.RecursionAvailable = false, false
	t := &dns.TSIG{Hdr: dns.RR_Header{Name: rt.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: rt.Algorithm, TimeSigned: rt.TimeSigned, Fudge: rt.Fudge, OrigId: rt.OrigId, Error: code}
	if key != nil {
		t.OtherLen, t.OtherData = 6, fmt.Sprintf("%012x", now.Unix()&(1<<48-1))
		m.Extra = []dns.RR{t}
		out, _, err := dns.TsigGenerate(m, key.secret, rt.MAC, false)
		if err != nil {
			return nil
		}
		return out
	}
	m.Extra = []dns.RR{t}
	out, err := m.Pack()
	if err != nil {
		return nil
	}
	return out
}

// sign returns m signed with the query's key: the reply to a signed
// query, or (with prev, the last message's MAC, and timersOnly) the next
// message of a transfer (RFC 8945 section 5.3.1). mac is its MAC.
func (q *signedQuery) sign(m *dns.Msg, prev string, timersOnly bool, now time.Time) (out []byte, mac string, err error) {
	m.Extra = append(m.Extra, &dns.TSIG{Hdr: dns.RR_Header{Name: q.key.name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: q.key.alg, TimeSigned: uint64(now.Unix()), Fudge: tsigFudge, OrigId: q.tsig.OrigId})
	if prev == "" {
		prev = q.tsig.MAC
	}
	return dns.TsigGenerate(m, q.key.secret, prev, timersOnly)
}

// signReply signs reply, the usual answer to the signed query q, for a
// client that takes limit bytes. A reply that grows past limit with its
// TSIG record goes out as TC=1 with the question alone (and OPT), so that
// the client asks again over TCP.
func (q *signedQuery) signReply(reply []byte, limit int, now time.Time) []byte {
	m := new(dns.Msg)
	if err := m.Unpack(reply); err != nil {
		return nil
	}
	m.Compress = true
	out, _, err := q.sign(m.Copy(), "", false, now)
	if err == nil && len(out) <= limit {
		return out
	}
	m.Truncated = true
	m.Answer, m.Ns = nil, nil
	m.Extra = slices.DeleteFunc(m.Extra, func(rr dns.RR) bool { return rr.Header().Rrtype != dns.TypeOPT })
	if out, _, err = q.sign(m, "", false, now); err != nil {
		return nil
	}
	return out
}

// Signed is the TSIG stage of the query path (answer.TSIG): the reply
// verify gives, or the usual answer to the query without its TSIG,
// signed.
func (s *Server) Signed(pkt []byte, req *dns.Msg, c answer.Client, next func(plain []byte) []byte) []byte {
	now := time.Now()
	q, refuse, why := s.xfr.Load().verify(pkt, req, now)
	if q == nil {
		s.log.Debug("TSIG refused", "client", c.Addr.Addr(), "key", tsigOwner(req), "error", why)
		return refuse
	}
	limit := 65535
	if !c.TCP {
		limit = answer.UDPLimit(req.IsEdns0(), s.store.Snapshot().UDPSize)
	}
	reply := next(q.stripped)
	if reply == nil {
		return nil
	}
	return q.signReply(reply, limit, now)
}

var _ answer.TSIG = (*Server)(nil)

// tsigOwner is the key name of req's TSIG record, for the log.
func tsigOwner(req *dns.Msg) string {
	for _, rr := range req.Extra {
		if rr.Header().Rrtype == dns.TypeTSIG {
			return rr.Header().Name
		}
	}
	return ""
}
