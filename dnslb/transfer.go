package dnslb

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/zones"
)

// Zone transfers out, for secondaries: AXFR (RFC 5936) and IXFR (RFC 1995)
// over TCP to the clients in [transfer] allow, and NOTIFY (RFC 1996) to
// [transfer] notify when a zone is loaded with a new serial. IXFR gets our
// SOA alone when the secondary has our serial or a newer one, and the
// whole zone otherwise (RFC 1995 section 4 allows that: we keep no
// history). What goes out is the zone as loaded from its file: every
// address of a load-balanced name, whatever its health and policy; a
// secondary serves them as plain records. Transfers are by address only,
// without TSIG: a query signed with TSIG is refused (NOTAUTH), as it would
// be by a server that does not know its key.

// transferSettings is [transfer] as the query path reads it.
type transferSettings struct {
	allow  []netip.Prefix
	notify []netip.AddrPort
}

func newTransferSettings(c config.TransferConfig) *transferSettings {
	t := &transferSettings{}
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

// allowed reports whether a may transfer zones.
func (t *transferSettings) allowed(a netip.Addr) bool {
	if t == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// axfrChunk is about how many bytes of records go into one message of a
// transfer (before compression): well below 64 KB, as other servers do.
const axfrChunk = 16 << 10

// zoneTransfer returns the messages that answer pkt, a TCP query from
// client, when it is an AXFR or IXFR of a zone we serve and client may
// transfer it. ok false leaves the query to the usual path, which answers
// transfers with NOTAUTH.
func (s *Server) zoneTransfer(pkt []byte, client netip.Addr) (msgs [][]byte, ok bool) {
	if !s.xfr.Load().allowed(client) {
		return nil, false
	}
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil || req.Response || req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		return nil, false
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET || q.Qtype != dns.TypeAXFR && q.Qtype != dns.TypeIXFR || req.IsTsig() != nil {
		return nil, false
	}
	qname := zones.Lower(q.Name)
	z := s.store.Snapshot().Zone(qname)
	if z == nil || z.Origin != qname {
		return nil, false
	}
	reply := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative, m.RecursionAvailable, m.CheckingDisabled = true, false, false
		m.Compress = true
		return m
	}
	pack := func(m *dns.Msg) bool {
		b, err := m.Pack()
		if err == nil && len(b) > dns.MaxMsgSize {
			err = fmt.Errorf("a message of %d bytes: a record too large for TCP", len(b))
		}
		if err != nil {
			s.log.Warn("zone transfer: pack", "zone", z.Origin, "err", err)
			return false
		}
		msgs = append(msgs, b)
		return true
	}
	if q.Qtype == dns.TypeIXFR && upToDate(req, z.SOA.Serial) {
		m := reply()
		m.Answer = []dns.RR{z.SOA}
		if !pack(m) {
			return nil, false
		}
		s.log.Info("zone transfer", "zone", z.Origin, "type", "IXFR", "client", client, "serial", z.SOA.Serial, "records", 1)
		return msgs, true
	}
	m, size := reply(), 0
	m.Answer = append(m.Answer, z.SOA)
	all := z.Records()
	for _, rr := range all {
		if rr.Header().Rrtype == dns.TypeSOA {
			continue
		}
		l := dns.Len(rr)
		if size+l > axfrChunk && len(m.Answer) > 0 {
			if !pack(m) {
				return nil, false
			}
			m, size = reply(), 0
			m.Question = nil // the question only in the first message (RFC 5936 section 2.2.1 allows either)
		}
		m.Answer = append(m.Answer, rr)
		size += l
	}
	if size+dns.Len(z.SOA) > axfrChunk {
		if !pack(m) {
			return nil, false
		}
		m = reply()
		m.Question = nil
	}
	m.Answer = append(m.Answer, z.SOA)
	if !pack(m) {
		return nil, false
	}
	s.log.Info("zone transfer", "zone", z.Origin, "type", dns.TypeToString[q.Qtype], "client", client,
		"serial", z.SOA.Serial, "records", len(all)+1, "messages", len(msgs))
	return msgs, true
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

// appendTCP appends msg with its two-byte length, as TCP carries it.
func appendTCP(out, msg []byte) []byte {
	out = binary.BigEndian.AppendUint16(out, uint16(len(msg)))
	return append(out, msg...)
}

// notifyJob is a zone whose secondaries must hear of its new serial.
type notifyJob struct {
	zone string
	soa  *dns.SOA // the zone's, as loaded (never changed)
	to   []netip.AddrPort
}

// queueNotify asks the notifier (running once Run has opened the
// listeners) to tell the secondaries of zone about its SOA's serial.
func (s *Server) queueNotify(zone string, soa *dns.SOA, to []netip.AddrPort) {
	if len(to) == 0 {
		return
	}
	select {
	case s.notifyCh <- notifyJob{zone, soa, to}:
	default:
		s.log.Warn("NOTIFY queue full: secondaries will find the new serial at their refresh", "zone", zone, "serial", soa.Serial)
	}
}

// maxNotifying bounds the NOTIFYs in flight (each waits for its answer).
const maxNotifying = 16

// notifier sends the queued NOTIFYs until ctx ends, at most maxNotifying
// at once, so that a secondary that does not answer holds up no other.
// Each secondary gets up to three tries, 1 s and then 2 s apart, until it
// answers.
func (s *Server) notifier(ctx context.Context) {
	sem := make(chan struct{}, maxNotifying)
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.notifyCh:
			for _, to := range j.to {
				select {
				case <-ctx.Done():
					return
				case sem <- struct{}{}:
				}
				go func() {
					defer func() { <-sem }()
					s.sendNotify(ctx, j, to)
				}()
			}
		}
	}
}

func (s *Server) sendNotify(ctx context.Context, j notifyJob, to netip.AddrPort) {
	m := new(dns.Msg)
	m.SetNotify(j.zone)
	m.Authoritative = true
	// The zone's SOA: a secondary reads the serial from it, and some
	// (Knot) refuse a record without its names.
	m.Answer = []dns.RR{dns.Copy(j.soa)}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	wait := time.Second
	var err error
	for try := range 3 {
		if try > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait *= 2
		}
		var r *dns.Msg
		if r, _, err = c.ExchangeContext(ctx, m, to.String()); err == nil {
			if r.Rcode == dns.RcodeSuccess {
				s.log.Info("NOTIFY sent", "zone", j.zone, "serial", j.soa.Serial, "to", to)
				return
			}
			s.log.Warn("NOTIFY refused", "zone", j.zone, "to", to, "rcode", dns.RcodeToString[r.Rcode])
			return
		}
	}
	s.log.Warn("NOTIFY unanswered", "zone", j.zone, "serial", j.soa.Serial, "to", to, "err", err)
}
