package dnslb

import (
	"time"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/rrl"
)

// The limit stage of the query path (answer.Limit): response rate
// limiting ([rrl], dnslb/rrl) onto the server's table, with its metrics.

var _ answer.Limit = (*Server)(nil)

// Limit says whether a UDP reply is sent, dropped or slipped.
func (s *Server) Limit(c answer.Client, class rrl.Class, name string, now time.Time) answer.Verdict {
	t := s.rrl.Load()
	if t == nil {
		return answer.SendReply
	}
	r := t.Response(now, c.Addr.Addr(), class, name)
	if r == rrl.Send {
		return answer.SendReply
	}
	s.metrics.RRL(class, r)
	switch r {
	case rrl.Drop:
		return answer.DropReply
	case rrl.Slip:
		return answer.SlipReply
	}
	return answer.SendReply // log_only
}

// rrlSettings are the table's settings from [rrl] (with its defaults).
func rrlSettings(c config.RRLConfig) rrl.Config {
	var r [rrl.NumClasses]int
	r[rrl.Positive] = c.ResponsesPerSecond
	r[rrl.NoData] = c.ClassRate(c.NodataPerSecond)
	r[rrl.NXDomain] = c.ClassRate(c.NxdomainsPerSecond)
	r[rrl.Referral] = c.ClassRate(c.ReferralsPerSecond)
	r[rrl.Error] = c.ClassRate(c.ErrorsPerSecond)
	slip := config.DefaultRRLSlip
	if c.Slip != nil {
		slip = *c.Slip
	}
	return rrl.Config{Rates: r, Window: int(c.Window.Seconds()), Slip: slip,
		IPv4Prefix: c.IPv4PrefixLength, IPv6Prefix: c.IPv6PrefixLength,
		MaxAccounts: c.MaxTableSize, LogOnly: c.LogOnly}
}

// setRRL makes the rate-limit table for [rrl], when it changed (a new
// table: the accounts start afresh), or none when it is off. Callers
// hold reloadMu (or are New).
func (s *Server) setRRL(c config.RRLConfig) {
	set := rrlSettings(c)
	if !c.On() {
		if s.rrl.Swap(nil) != nil {
			s.log.Info("rate limiting off")
		}
		return
	}
	if t := s.rrl.Load(); t != nil && t.Config() == rrl.New(set).Config() {
		return
	}
	s.rrl.Store(rrl.New(set))
	s.log.Info("rate limiting on", "responses_per_second", c.ResponsesPerSecond, "log_only", c.LogOnly)
}
