package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DNSSECZone is what the sign stage did for one signed zone: signatures
// made, RRsets whose signatures came from its cache, and the time spent
// signing, since the zone's keys were loaded.
type DNSSECZone struct {
	Zone       string
	Made, Hits uint64
	Signing    time.Duration
}

// dnssecCollector reads the signers' own counters at each scrape, so the
// query path counts nothing twice.
type dnssecCollector struct {
	stats                func() []DNSSECZone
	made, hits, duration *prometheus.Desc
}

func (c *dnssecCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.made
	ch <- c.hits
	ch <- c.duration
}

func (c *dnssecCollector) Collect(ch chan<- prometheus.Metric) {
	for _, z := range c.stats() {
		ch <- prometheus.MustNewConstMetric(c.made, prometheus.CounterValue, float64(z.Made), z.Zone)
		ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(z.Hits), z.Zone)
		ch <- prometheus.MustNewConstMetric(c.duration, prometheus.CounterValue, z.Signing.Seconds(), z.Zone)
	}
}

// DNSSEC registers the signing metrics, read from stats at each scrape
// (one series per signed zone: bounded by the zones served). A reload
// loads the keys anew, and the counts start again from 0 (a counter
// reset, which rate() handles).
func (m *Registry) DNSSEC(stats func() []DNSSECZone) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&dnssecCollector{
		stats: stats,
		made: prometheus.NewDesc("dnslb_dnssec_signatures_total",
			"RRSIG signatures made by online signing, by zone (since its keys were last loaded).", []string{"zone"}, nil),
		hits: prometheus.NewDesc("dnslb_dnssec_cache_hits_total",
			"RRsets whose signatures came from the signature cache, by zone. Replies served from the memo need neither.", []string{"zone"}, nil),
		duration: prometheus.NewDesc("dnslb_dnssec_signing_seconds_total",
			"Time spent making signatures, by zone.", []string{"zone"}, nil),
	})
}
