package dnslb

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"

	"github.com/dnslb/dnslb/dnslb/cluster"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/healthcheck"
)

// newCluster makes this server a node of the fleet [cluster] describes:
// the prober probes only this node's targets (probed), every probe's
// status is gossiped (sampled), and the cluster's verdicts are the health
// (verdict). A changed [cluster] needs a restart.
func (s *Server) newCluster(cc config.ClusterConfig) *cluster.Cluster {
	host, _ := os.Hostname()
	bind, _ := netip.ParseAddr(cc.Bind) // checked at load
	c := cluster.New(cluster.Config{
		Name: cmp.Or(cc.Name, host), Bind: bind, Port: cc.Port, Seeds: cc.Seeds, Key: cc.KeyBytes(),
		Probers: cc.Probers, Quorum: cc.QuorumOf, Log: s.log.With("cluster", cmp.Or(cc.Name, host)),
		OnVerdict:  s.verdict,
		OnMembers:  s.reprobe,
		OnOverride: s.overridden,
	})
	s.metrics.ClusterSource(func() metrics.ClusterNumbers {
		m := c.Metrics()
		return metrics.ClusterNumbers{ByState: m.ByState, SinceMerge: m.SinceMerge, Heard: m.Heard,
			GossipSent: m.GossipSent, GossipReceived: m.GossipReceived}
	})
	return c
}

// startCluster opens the gossip sockets, once the overrides the state
// file kept are in the store: they join the fleet's as this node's, of
// no time, so that whatever the fleet set while this node was away wins.
func (s *Server) startCluster() error {
	s.cluster.LoadOverrides(s.store.Overrides())
	return s.cluster.Start()
}

// setOverride is SetOverride in a fleet: the override goes to every node,
// with this node's name and the time.
func (s *Server) setOverride(key, state string) {
	if s.cluster == nil {
		s.store.SetOverride(key, state)
		return
	}
	s.cluster.SetOverride(key, state, func() { s.store.SetOverride(key, state) })
}

// overridden is the cluster's OnOverride: overrides set on other nodes
// (state "" cleared) go into the store and the state file, as one set
// here would.
func (s *Server) overridden(changed map[string]string) {
	for target, state := range changed {
		s.store.SetOverride(target, state)
	}
	if err := s.overrides.Save(s.stateFile(), s.store); err != nil {
		s.log.Error("cluster: cannot save the fleet's overrides", "file", s.stateFile(), "err", err)
	}
}

// fleetDigests gossips the digests of the config and of each zone loaded.
// Callers hold reloadMu (or are New), after s.cfg and s.loaded are set.
func (s *Server) fleetDigests() {
	if s.cluster == nil {
		return
	}
	zs := make([]cluster.ZoneHash, 0, len(s.loaded))
	for origin, lz := range s.loaded {
		zs = append(zs, cluster.ZoneHash{Zone: origin, Serial: lz.Zone.Serial(), Digest: hex.EncodeToString(lz.Digest[:8])})
	}
	s.cluster.SetDigests(configDigest(&s.cfg), zs)
}

// configDigest is a digest of what in a config decides answers and must
// be the same on every node: the names, the checks, [health] but its
// state file, and [cluster]'s probers and quorum. Node-local settings
// (listen addresses, admin, logs, the node's name, bind and seeds, file
// paths) are left out.
func configDigest(cfg *config.Config) string {
	h := cfg.Health
	h.StateFile = ""
	var probers int
	var quorum string
	if cfg.Cluster != nil {
		probers, quorum = cfg.Cluster.Probers, cfg.Cluster.Quorum
	}
	b, err := json.Marshal(struct {
		Names   map[string]config.NameConfig
		Checks  map[string]healthcheck.Config
		Health  config.HealthConfig
		Probers int
		Quorum  string
	}{cfg.Names, cfg.Checks, h, probers, quorum})
	if err != nil {
		return "unknown: " + err.Error()
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
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
