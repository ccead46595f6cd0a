package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnslb/dnslb/dnslb/rrl"
)

// rrlMetrics counts what response rate limiting did, by class and
// action; the counters are resolved at start, so that counting one on the
// query path is an atomic add.
type rrlMetrics struct {
	vec *prometheus.CounterVec
	ctr [rrl.NumClasses][rrl.NumResults]prometheus.Counter
}

func newRRLMetrics(reg *prometheus.Registry) *rrlMetrics {
	r := &rrlMetrics{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnslb_rrl_responses_total",
		Help: "UDP responses rate limiting did not send as they were, by response class (positive, nodata, nxdomain, referral, error) and action (dropped; slipped: sent as a minimal TC=1 or BADCOOKIE reply; would_drop, would_slip: sent whole under log_only).",
	}, []string{"class", "action"})}
	for c := range rrl.NumClasses {
		for a := rrl.Drop; a < rrl.NumResults; a++ {
			r.ctr[c][a] = r.vec.WithLabelValues(c.String(), a.String())
		}
	}
	reg.MustRegister(r.vec)
	return r
}

// RRL counts one response that rate limiting dropped, slipped or (under
// log_only) would have; a response sent is not counted here.
func (m *Registry) RRL(c rrl.Class, r rrl.Result) {
	if m == nil || c >= rrl.NumClasses || r == rrl.Send || r >= rrl.NumResults {
		return
	}
	m.rrl.ctr[c][r].Inc()
}
