package transfer

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

// Zone transfers out, for secondaries: AXFR (RFC 5936) and IXFR (RFC 1995)
// over TCP to the clients in [transfer] allow, and NOTIFY (RFC 1996) to
// [transfer] notify when a zone is loaded with a new serial. IXFR gets our
// SOA alone when the secondary has our serial or a newer one, and the
// whole zone otherwise (RFC 1995 section 4 allows that: we keep no
// history). What goes out is the zone as loaded from its file: every
// address of a load-balanced name, whatever its health and policy; a
// secondary serves them as plain records. [transfer] allow names the
// addresses, and keys the TSIG keys (tsig.go), that may transfer: with
// both, a transfer must come from an allowed address and be signed with
// one of the keys. A transfer signed with a good key that is not among
// them gets NOTAUTH with TSIG error BADKEY, as Knot answers it.

// Server answers zone transfers and TSIG-signed queries, and sends
// NOTIFYs, from the zones of its store's current snapshot and the
// settings of the last Apply.
type Server struct {
	store    *state.Store
	log      *slog.Logger
	metrics  *metrics.Registry
	xfr      atomic.Pointer[Settings]
	notifyCh chan notifyJob // to Run
}

// New is a Server over store that logs to log and counts into m. It
// allows no transfer until Apply gives it settings, and sends no NOTIFY
// until Run.
func New(store *state.Store, log *slog.Logger, m *metrics.Registry) *Server {
	return &Server{store: store, log: log, metrics: m, notifyCh: make(chan notifyJob, 256)}
}

// Apply makes t the settings of the transfers, TSIG checks and NOTIFYs
// from now on.
func (s *Server) Apply(t *Settings) { s.xfr.Store(t) }

// Settings is [transfer] and [tsig] as the transfer and TSIG paths read
// them: made by NewSettings from each loaded config, swapped in by Apply.
type Settings struct {
	allow  []netip.Prefix
	notify []netip.AddrPort
	// keys are every TSIG key, by name; xfrKeys the names of those that
	// may transfer; notifyKey, if set, signs the NOTIFYs.
	keys      map[string]*tsigKeyring
	xfrKeys   map[string]bool
	notifyKey *tsigKeyring
}

func NewSettings(c config.TransferConfig, k config.TSIGConfig) *Settings {
	t := &Settings{keys: newTSIGKeys(k), xfrKeys: map[string]bool{}}
	for _, n := range c.Keys {
		t.xfrKeys[tsigName(n)] = true
	}
	if c.NotifyKey != "" {
		t.notifyKey = t.keys[tsigName(c.NotifyKey)]
	}
	for _, a := range c.Allow {
		if p, err := config.ParsePrefix(a); err == nil {
			t.allow = append(t.allow, p)
		}
	}
	for _, a := range c.Notify {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			t.notify = append(t.notify, ap)
		}
	}
	return t
}

// allowed reports whether a may transfer zones with a query signed with
// key ("": unsigned): from an address in allow, if allow is set, and
// signed with one of keys, if keys is set; not at all if neither is.
func (t *Settings) allowed(a netip.Addr, key string) bool {
	if t == nil || len(t.allow) == 0 && len(t.xfrKeys) == 0 {
		return false
	}
	if len(t.xfrKeys) > 0 && !t.xfrKeys[key] {
		return false
	}
	return len(t.allow) == 0 || t.allowsAddr(a)
}

// allowsAddr reports whether allow lists a.
func (t *Settings) allowsAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// mayTransfer reports whether someone may transfer zones: an address
// or a key is allowed.
func (t *Settings) mayTransfer() bool {
	return t != nil && (len(t.allow) > 0 || len(t.xfrKeys) > 0)
}

// axfrChunk is about how many bytes of records go into one message of a
// transfer (before compression): well below 64 KB, as other servers do.
const axfrChunk = 16 << 10

// Transfer answers pkt, a TCP query from client, when it is an AXFR or
// IXFR of a zone we serve and client may transfer it: it hands each
// message to send as soon as it is made (a large zone's transfer is never
// held whole), and stops when send returns false. The TCP loop passes
// only what wire.IsTransferQuery picks out. handled false leaves
// the query to the usual path, which answers transfers with NOTAUTH. A
// signed transfer is handled here whatever the outcome: the messages
// signed, or the reply that refuses it. abort says that the transfer
// stopped after its first message (send failed, or a message could not
// be made): the caller closes the connection, so that the secondary sees
// the transfer fail rather than end early.
func (s *Server) Transfer(pkt []byte, client netip.Addr, send func(msg []byte) bool) (handled, abort bool) {
	xfr := s.xfr.Load()
	if !xfr.mayTransfer() {
		return false, false
	}
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil || req.Response || req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		return false, false
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET || q.Qtype != dns.TypeAXFR && q.Qtype != dns.TypeIXFR {
		return false, false
	}
	sendOne := func(b []byte) (bool, bool) {
		if b == nil {
			return false, false
		}
		return true, !send(b)
	}
	now := time.Now()
	var sq *signedQuery
	if hasTSIG(req) {
		var refuse []byte
		var why string
		if sq, refuse, why = xfr.verify(pkt, req, now); sq == nil {
			s.log.Info("zone transfer refused", "zone", q.Name, "client", client, "key", tsigOwner(req), "tsig", why)
			s.metrics.Transfer(q.Name, dns.TypeToString[q.Qtype], "refused")
			return sendOne(refuse)
		}
		if !xfr.allowed(client, sq.key.name) {
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeNotAuth)
			var out []byte
			why = "address not in transfer.allow"
			if len(xfr.xfrKeys) > 0 && !xfr.xfrKeys[sq.key.name] {
				out, why = tsigError(req, &sq.tsig, nil, dns.RcodeBadKey, now), "key not in transfer.keys"
			} else {
				out, _, _ = sq.sign(m, "", false, now)
			}
			s.log.Info("zone transfer refused", "zone", q.Name, "client", client, "key", sq.key.name, "reason", why)
			s.metrics.Transfer(q.Name, dns.TypeToString[q.Qtype], "refused")
			return sendOne(out)
		}
	} else if !xfr.allowed(client, "") {
		s.metrics.Transfer(q.Name, dns.TypeToString[q.Qtype], "refused") // answered NOTAUTH
		if len(xfr.xfrKeys) > 0 && (len(xfr.allow) == 0 || xfr.allowsAddr(client)) {
			s.log.Info("zone transfer refused", "zone", q.Name, "client", client, "reason", "not signed with a key of transfer.keys")
		}
		return false, false
	}
	qname := zones.Lower(q.Name)
	z := s.store.Snapshot().Zone(qname)
	if z == nil || z.Origin != qname {
		s.metrics.Transfer(qname, dns.TypeToString[q.Qtype], "refused") // not a zone: "none"
		return false, false
	}
	mac := "" // the MAC of the last message signed
	reply := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative, m.RecursionAvailable, m.CheckingDisabled = true, false, false
		m.Compress = true
		return m
	}
	sent := 0 // messages handed to send
	pack := func(m *dns.Msg) bool {
		var b []byte
		var err error
		if sq != nil {
			// Each message signed, over the last one's MAC (the first
			// over the query's) and, after the first, the timers alone.
			b, mac, err = sq.sign(m, mac, sent > 0, now)
		} else {
			b, err = m.Pack()
		}
		if err == nil && len(b) > dns.MaxMsgSize {
			err = fmt.Errorf("a message of %d bytes: a record too large for TCP", len(b))
		}
		if err != nil {
			s.log.Warn("zone transfer: pack", "zone", z.Origin, "err", err)
			s.metrics.Transfer(z.Origin, dns.TypeToString[q.Qtype], "failed")
			return false
		}
		sent++
		if !send(b) {
			s.metrics.Transfer(z.Origin, dns.TypeToString[q.Qtype], "failed")
			return false
		}
		return true
	}
	// failed is what Transfer returns when pack fails: the usual path
	// for a failure before anything was sent, else the connection closed.
	failed := func() (bool, bool) { return sent > 0, sent > 0 }
	if q.Qtype == dns.TypeIXFR && upToDate(req, z.SOA.Serial) {
		m := reply()
		m.Answer = []dns.RR{z.SOA}
		if !pack(m) {
			return failed()
		}
		s.log.Info("zone transfer", "zone", z.Origin, "type", "IXFR", "client", client, "key", keyName(sq), "serial", z.SOA.Serial, "records", 1)
		s.metrics.Transfer(z.Origin, "IXFR", "ok")
		return true, false
	}
	m, size := reply(), 0
	m.Answer = append(m.Answer, z.SOA)
	// The records are made as the messages fill (an A or AAAA record
	// is made from its set's addresses, garbage once its message is
	// packed), never all held at once.
	records := 0
	for set := range z.Sets() {
		if set.Type == dns.TypeSOA {
			continue
		}
		for _, rr := range set.RRs() {
			l := dns.Len(rr)
			if size+l > axfrChunk && len(m.Answer) > 0 {
				if !pack(m) {
					return failed()
				}
				m, size = reply(), 0
				m.Question = nil // the question only in the first message (RFC 5936 section 2.2.1 allows either)
			}
			m.Answer = append(m.Answer, rr)
			size += l
			records++
		}
	}
	if size+dns.Len(z.SOA) > axfrChunk {
		if !pack(m) {
			return failed()
		}
		m = reply()
		m.Question = nil
	}
	m.Answer = append(m.Answer, z.SOA)
	if !pack(m) {
		return failed()
	}
	s.log.Info("zone transfer", "zone", z.Origin, "type", dns.TypeToString[q.Qtype], "client", client, "key", keyName(sq),
		"serial", z.SOA.Serial, "records", records+1, "messages", sent)
	s.metrics.Transfer(z.Origin, dns.TypeToString[q.Qtype], "ok")
	return true, false
}

// keyName is the key that signed q, for the log ("" unsigned).
func keyName(q *signedQuery) string {
	if q == nil {
		return ""
	}
	return q.key.name
}

// upToDate reports whether the IXFR query req carries, in its authority
// section, an SOA with serial or a newer one (RFC 1982 arithmetic).
func upToDate(req *dns.Msg, serial uint32) bool {
	for _, rr := range req.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial == serial || int32(soa.Serial-serial) > 0
		}
	}
	return false
}
