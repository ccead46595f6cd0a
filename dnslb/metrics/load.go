package metrics

import "github.com/prometheus/client_golang/prometheus"

// loadMetrics are the gauges of load-aware answers (issue 16).
type loadMetrics struct {
	shed *prometheus.GaugeVec // addresses above the high watermark, per name
}

func newLoadMetrics(reg *prometheus.Registry) *loadMetrics {
	l := &loadMetrics{shed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnslb_name_shed_addresses",
		Help: "Addresses of a load-balanced name that are up but shed: their smoothed load is above the name's high watermark. They count as healthy.",
	}, []string{"name"})}
	reg.MustRegister(l.shed)
	return l
}

// NameShed sets how many addresses of a name are shed.
func (m *Registry) NameShed(name string, shed int) {
	if m == nil {
		return
	}
	m.load.shed.WithLabelValues(zoneLabel(name)).Set(float64(shed))
}
