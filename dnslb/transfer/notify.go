package transfer

import (
	"context"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// notifyJob is a zone whose secondaries must hear of its new serial.
type notifyJob struct {
	zone string
	soa  *dns.SOA // the zone's, as loaded (never changed)
	to   []netip.AddrPort
}

// Notify asks the notifier (Run, started once the listeners are open)
// to tell the secondaries in [transfer] notify about zone's serial.
func (s *Server) Notify(zone string, soa *dns.SOA) {
	to := s.xfr.Load().notify
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

// Run sends the queued NOTIFYs until ctx ends, at most maxNotifying
// at once, so that a secondary that does not answer holds up no other.
// Each secondary gets up to three tries, 1 s and then 2 s apart, until it
// answers.
func (s *Server) Run(ctx context.Context) {
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
	key := s.xfr.Load().notifyKey
	if key != nil {
		// Signed (RFC 8945); the client signs each try anew and checks
		// the answer's signature.
		c.TsigSecret = map[string]string{key.name: key.secret}
	}
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
		if key != nil {
			m.Extra = nil
			m.SetTsig(key.name, key.alg, tsigFudge, time.Now().Unix())
		}
		if r, _, err = c.ExchangeContext(ctx, m, to.String()); err == nil {
			if r.Rcode == dns.RcodeSuccess {
				s.log.Info("NOTIFY sent", "zone", j.zone, "serial", j.soa.Serial, "to", to)
				s.metrics.Notify(j.zone, "ok")
				return
			}
			s.log.Warn("NOTIFY refused", "zone", j.zone, "to", to, "rcode", dns.RcodeToString[r.Rcode])
			s.metrics.Notify(j.zone, "refused")
			return
		}
		if r != nil && r.Rcode == dns.RcodeNotAuth {
			// A signed NOTIFY the secondary refused (its answer then
			// carries no MAC to check): no use trying again.
			s.log.Warn("NOTIFY refused", "zone", j.zone, "to", to, "rcode", "NOTAUTH", "err", err)
			s.metrics.Notify(j.zone, "refused")
			return
		}
	}
	s.log.Warn("NOTIFY unanswered", "zone", j.zone, "serial", j.soa.Serial, "to", to, "err", err)
	s.metrics.Notify(j.zone, "failed")
}
