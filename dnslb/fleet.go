package dnslb

import (
	"cmp"
	"net/netip"
	"os"

	"github.com/dnslb/dnslb/dnslb/cluster"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/healthcheck"
)

// newCluster makes this server a node of the fleet [cluster] describes:
// the prober probes only this node's targets (probed), every probe's
// status is gossiped (sampled), and the cluster's verdicts are the health
// (verdict). A changed [cluster] needs a restart.
func (s *Server) newCluster(cc config.ClusterConfig) *cluster.Cluster {
	host, _ := os.Hostname()
	bind, _ := netip.ParseAddr(cc.Bind) // checked at load
	return cluster.New(cluster.Config{
		Name: cmp.Or(cc.Name, host), Bind: bind, Port: cc.Port, Seeds: cc.Seeds, Key: cc.KeyBytes(),
		Probers: cc.Probers, Quorum: cc.QuorumOf, Log: s.log.With("cluster", cmp.Or(cc.Name, host)),
		OnVerdict: s.verdict,
		OnMembers: s.reprobe,
	})
}

// probed tells the cluster every target and returns the ones this node
// probes: all of them without [cluster]. Callers hold reloadMu (or are New).
func (s *Server) probed(targets []healthcheck.Target) []healthcheck.Target {
	if s.cluster == nil {
		return targets
	}
	s.allTargets = targets
	s.cluster.SetTargets(targets)
	var local []healthcheck.Target
	for _, t := range targets {
		if s.cluster.Local(t.Key) {
			local = append(local, t)
		}
	}
	st := s.cluster.Status()
	s.metrics.ClusterMembers(len(st.Members), len(local))
	return local
}

// reprobe is the cluster's OnMembers: the members changed, so this node's
// share of the targets may have.
func (s *Server) reprobe() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if err := s.prober.SetTargets(s.probed(s.allTargets)); err != nil {
		// The same targets as the last apply, whose checkers were built.
		s.log.Error("cluster: cannot set the probed targets", "err", err)
	}
}

// sampled is the prober's OnSample: the load and RTT to the store, and in
// a fleet the status to the cluster.
func (s *Server) sampled(st healthcheck.Status) {
	s.store.SetSample(st)
	if s.cluster != nil {
		s.cluster.Observe(st)
	}
}

// verdict is the cluster's OnVerdict: a target's shared verdict changed.
func (s *Server) verdict(k healthcheck.Key, st healthcheck.State) {
	s.store.SetHealth(k, st)
	s.metrics.HealthState(k.Check, targetLabel(k), st == healthcheck.Up)
}
