package metrics

import "github.com/prometheus/client_golang/prometheus"

// abuseMetrics are the metrics of the TCP limits, the state file and DNS cookies.
type abuseMetrics struct {
	tcpRefused   *prometheus.CounterVec
	tcpClosed    *prometheus.CounterVec
	stateCorrupt prometheus.Gauge
	cookies      *prometheus.CounterVec
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
	a.cookies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnslb_cookies_total",
		Help: "Queries by what their DNS cookie option showed (with [cookies] on): none, client_only (a client cookie alone), good (a server cookie of ours, fresh), bad (a server cookie that did not verify or is out of its window), malformed (answered FORMERR).",
	}, []string{"result"})
	reg.MustRegister(a.tcpRefused, a.tcpClosed, a.stateCorrupt, a.cookies)
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

// CookieCounter is the counter of dnslb_cookies_total for result (the
// names of dnslb/cookie's results), made at once so that it shows 0.
func (m *Registry) CookieCounter(result string) prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.abuse.cookies.WithLabelValues(result)
}
