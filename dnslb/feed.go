package dnslb

import (
	"cmp"
	"fmt"
	"net/netip"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/healthcheck"
)

var _ admin.Feeder = (*Server)(nil)

// Feed applies values pushed to POST /api/feed (the admin listener has
// checked them): each holds for health.feed_ttl unless pushed again. An
// address that no load-balanced name has is an error, and then nothing
// is applied.
func (s *Server) Feed(entries []admin.FeedEntry) error {
	known := make(map[netip.Addr]bool)
	for _, ns := range s.store.Names() {
		for _, a := range ns.Addrs {
			known[a] = true
		}
	}
	s.reloadMu.Lock()
	ttl := s.cfg.Health.FeedTTL.Duration
	s.reloadMu.Unlock()
	expires := time.Now().Add(ttl)
	feeds := make(map[netip.Addr]state.Feed, len(entries))
	for _, e := range entries {
		a, err := netip.ParseAddr(e.Address)
		if err != nil {
			return fmt.Errorf("address %q: %w", e.Address, err)
		}
		a = a.Unmap()
		if !known[a] {
			return fmt.Errorf("address %s is in no load-balanced name: %w", a, admin.ErrUnknownTarget)
		}
		f := feeds[a]
		f.Expires, f.State = expires, cmp.Or(e.State, f.State)
		switch {
		case e.Weight != nil:
			f.Kind, f.Value = healthcheck.ReportWeight, *e.Weight
		case e.Load != nil:
			f.Kind, f.Value = healthcheck.ReportLoad, *e.Load
		}
		feeds[a] = f
	}
	s.store.SetFeed(feeds)
	s.log.Debug("feed", "target", fmt.Sprintf("%d addresses", len(feeds)))
	return nil
}
