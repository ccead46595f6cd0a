package metrics

import (
	"maps"
	"slices"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// clusterMetrics are the metrics of [cluster] (dnslb/cluster).
type clusterMetrics struct {
	members prometheus.Gauge
	local   prometheus.Gauge
	source  atomic.Pointer[func() ClusterNumbers] // ClusterSource
}

func newClusterMetrics(reg *prometheus.Registry) *clusterMetrics {
	c := &clusterMetrics{
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dnslb_cluster_members",
			Help: "Live members of the fleet this node sees, itself included (0 without [cluster]).",
		}),
		local: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dnslb_cluster_local_targets",
			Help: "Targets this node probes itself (with [cluster]: those it is a prober of).",
		}),
	}
	reg.MustRegister(c.members, c.local, clusterCollector{c})
	return c
}

// ClusterMembers sets dnslb_cluster_members and dnslb_cluster_local_targets.
func (m *Registry) ClusterMembers(members, local int) {
	if m != nil {
		m.cluster.members.Set(float64(members))
		m.cluster.local.Set(float64(local))
	}
}

// ClusterNumbers is what the fleet's metrics read at each scrape.
type ClusterNumbers struct {
	ByState map[string]int // members by state (alive, suspect, left, dead)
	// SinceMerge is seconds since the last merge per member; at most
	// MaxClusterMembers of them (by name) are exported.
	SinceMerge     map[string]float64
	Heard          uint64 // observations received from other nodes
	GossipSent     uint64 // bytes
	GossipReceived uint64
}

// MaxClusterMembers caps the member label of
// dnslb_cluster_seconds_since_merge.
const MaxClusterMembers = 64

var (
	clusterByStateDesc = prometheus.NewDesc("dnslb_cluster_members_by_state",
		"Members of the fleet this node knows of, by state: alive, suspect, and left or dead (remembered, the latest 64).", []string{"state"}, nil)
	clusterHeardDesc = prometheus.NewDesc("dnslb_cluster_observations_received_total",
		"Observations of other nodes merged into this node's view (new ones only).", nil, nil)
	clusterSinceDesc = prometheus.NewDesc("dnslb_cluster_seconds_since_merge",
		"Seconds since an observation of the member was last merged (members by name, at most 64).", []string{"member"}, nil)
	clusterBytesDesc = prometheus.NewDesc("dnslb_cluster_gossip_bytes_total",
		"Bytes of gossip (packets and streams, as on the wire) by direction.", []string{"direction"}, nil)
)

// clusterCollector reads the fleet's numbers at each scrape.
type clusterCollector struct{ m *clusterMetrics }

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- clusterByStateDesc
	ch <- clusterHeardDesc
	ch <- clusterSinceDesc
	ch <- clusterBytesDesc
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.source.Load()
	if f == nil {
		return
	}
	n := (*f)()
	for _, st := range slices.Sorted(maps.Keys(n.ByState)) {
		ch <- prometheus.MustNewConstMetric(clusterByStateDesc, prometheus.GaugeValue, float64(n.ByState[st]), st)
	}
	ch <- prometheus.MustNewConstMetric(clusterHeardDesc, prometheus.CounterValue, float64(n.Heard))
	names := slices.Sorted(maps.Keys(n.SinceMerge))
	for _, name := range names[:min(len(names), MaxClusterMembers)] {
		ch <- prometheus.MustNewConstMetric(clusterSinceDesc, prometheus.GaugeValue, n.SinceMerge[name], name)
	}
	ch <- prometheus.MustNewConstMetric(clusterBytesDesc, prometheus.CounterValue, float64(n.GossipSent), "sent")
	ch <- prometheus.MustNewConstMetric(clusterBytesDesc, prometheus.CounterValue, float64(n.GossipReceived), "received")
}

// ClusterSource gives the function the fleet's metrics are read from at
// each scrape (with [cluster]; without, they are not exported).
func (m *Registry) ClusterSource(f func() ClusterNumbers) {
	if m != nil {
		m.cluster.source.Store(&f)
	}
}
