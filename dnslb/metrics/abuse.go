package metrics

import "github.com/prometheus/client_golang/prometheus"

// abuseMetrics are the metrics of the TCP limits and the state file.
type abuseMetrics struct {
	tcpRefused   *prometheus.CounterVec
	tcpClosed    *prometheus.CounterVec
	stateCorrupt prometheus.Gauge
}

func newAbuseMetrics(reg *prometheus.Registry) *abuseMetrics {
	a := &abuseMetrics{
		tcpRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnslb_tcp_refused_total",
			Help: "TCP connections closed unanswered as they came, by reason (limit: max_tcp_connections reached and none could be closed; per_client: max_tcp_per_client).",
		}, []string{"reason"}),
		tcpClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnslb_tcp_closed_total",
			Help: "TCP connections ended, by reason (client, idle_timeout, first_byte_timeout, message_timeout, evicted: closed for a new one at max_tcp_connections, shutdown, error).",
		}, []string{"reason"}),
		stateCorrupt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dnslb_state_file_corrupt",
			Help: "1 if the override state file could not be read at startup (it was moved aside and the overrides in it are not applied), else 0.",
		}),
	}
	reg.MustRegister(a.tcpRefused, a.tcpClosed, a.stateCorrupt)
	return a
}

func (m *Registry) TCPRefused(reason string) {
	if m != nil {
		m.abuse.tcpRefused.WithLabelValues(reason).Inc()
	}
}

func (m *Registry) TCPClosed(reason string) {
	if m != nil {
		m.abuse.tcpClosed.WithLabelValues(reason).Inc()
	}
}

// StateFileCorrupt sets dnslb_state_file_corrupt.
func (m *Registry) StateFileCorrupt(corrupt bool) {
	if m == nil {
		return
	}
	v := 0.0
	if corrupt {
		v = 1
	}
	m.abuse.stateCorrupt.Set(v)
}
