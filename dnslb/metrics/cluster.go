package metrics

import "github.com/prometheus/client_golang/prometheus"

// clusterMetrics are the metrics of [cluster] (dnslb/cluster).
type clusterMetrics struct {
	members prometheus.Gauge
	local   prometheus.Gauge
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
	reg.MustRegister(c.members, c.local)
	return c
}

// ClusterMembers sets dnslb_cluster_members and dnslb_cluster_local_targets.
func (m *Registry) ClusterMembers(members, local int) {
	if m != nil {
		m.cluster.members.Set(float64(members))
		m.cluster.local.Set(float64(local))
	}
}
