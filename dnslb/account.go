package dnslb

import (
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
)

// The account stage of the query path (answer.Account): the server counts
// every reply in its metrics and logs the query log's sample.

var _ answer.Account = (*Server)(nil)

// Sampled tells whether the next query goes to the query log.
func (s *Server) Sampled() bool { return s.qlog.Load().Pick() }

// Answered counts one reply that decide and encode made (the account
// stage), and logs it when it is in the query log's sample.
func (s *Server) Answered(req *dns.Msg, p *answer.Plan, c answer.Client, start time.Time, sampled bool) {
	var qtype uint16
	if len(req.Question) == 1 {
		qtype = req.Question[0].Qtype
	}
	m := p.Msg()
	d := time.Since(start)
	s.metrics.ObserveQuery(p.Zone(), qtype, m.Rcode, p.Policy(), d, c.TCP)
	if m.Truncated {
		s.metrics.Truncated()
	}
	if sampled {
		s.qlog.Load().Write(c.Addr.Addr(), c.TCP, req, m, p.Policy(), d)
	}
}

// Counter is the metrics' counter of replies the memo gives.
func (s *Server) Counter(zone string, qtype uint16, rcode int, policy string, tcp bool) (answer.Counter, bool) {
	ref, known := s.metrics.QueryCounter(zone, qtype, rcode, policy, tcp)
	if ref == nil {
		return nil, known
	}
	return ref, known
}
