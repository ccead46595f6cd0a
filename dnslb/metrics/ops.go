package metrics

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// opsMetrics are the metrics alert rules need beyond the query counters:
// the build, each zone's serial and load time, transfers and NOTIFYs per
// zone, and how long reloads take.
type opsMetrics struct {
	build     *prometheus.GaugeVec
	serial    *prometheus.GaugeVec
	loaded    *prometheus.GaugeVec
	transfers *prometheus.CounterVec
	notifies  *prometheus.CounterVec
	reloadDur prometheus.Histogram
}

func newOpsMetrics(reg *prometheus.Registry) *opsMetrics {
	o := &opsMetrics{
		build: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dnslb_build_info",
			Help: "Always 1, with the version of dnslb and of Go it was built with.",
		}, []string{"version", "goversion"}),
		serial: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dnslb_zone_serial",
			Help: "The SOA serial of each zone served.",
		}, []string{"zone"}),
		loaded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dnslb_zone_last_load_timestamp_seconds",
			Help: "Unix time each zone served was last read from its file.",
		}, []string{"zone"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnslb_transfers_total",
			Help: "Zone transfers (AXFR and IXFR) asked of this server, by zone, type and result (ok, refused, failed).",
		}, []string{"zone", "type", "result"}),
		notifies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnslb_notifies_total",
			Help: "NOTIFYs sent to secondaries, by zone and result (ok, refused: answered with an error, failed: unanswered after every try).",
		}, []string{"zone", "result"}),
		reloadDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dnslb_reload_duration_seconds",
			Help:    "Time a reload took, successful or not: reading the config and zones and swapping them in.",
			Buckets: []float64{1e-3, 5e-3, 25e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10, 30, 60},
		}),
	}
	reg.MustRegister(o.build, o.serial, o.loaded, o.transfers, o.notifies, o.reloadDur)
	return o
}

// BuildInfo sets dnslb_build_info for version (the Go version is the
// running binary's).
func (m *Registry) BuildInfo(version string) {
	if m == nil {
		return
	}
	m.ops.build.Reset()
	m.ops.build.WithLabelValues(version, runtime.Version()).Set(1)
}

// ZoneLoaded sets the serial and load time of a zone being served. Call
// it after SetZones, which drops the series of zones no longer served.
func (m *Registry) ZoneLoaded(zone string, serial uint32, loaded time.Time) {
	if m == nil {
		return
	}
	zone = zoneLabel(zone)
	m.ops.serial.WithLabelValues(zone).Set(float64(serial))
	m.ops.loaded.WithLabelValues(zone).Set(float64(loaded.UnixNano()) / 1e9)
}

// forgetZone drops the per-zone series of the ops metrics.
func (o *opsMetrics) forgetZone(zone string) {
	o.serial.DeleteLabelValues(zone)
	o.loaded.DeleteLabelValues(zone)
	o.transfers.DeletePartialMatch(prometheus.Labels{"zone": zone})
	o.notifies.DeletePartialMatch(prometheus.Labels{"zone": zone})
}

// known is the label of zone if SetZones announced it, else "none": a
// transfer is asked for a name the client chooses.
func (m *Registry) known(zone string) string {
	zone = zoneLabel(zone)
	if (*m.zones.Load())[zone] == nil {
		return "none"
	}
	return zone
}

// Transfer counts a zone transfer of type qtype ("AXFR", "IXFR") asked
// for zone, with result "ok", "refused" or "failed".
func (m *Registry) Transfer(zone, qtype, result string) {
	if m == nil {
		return
	}
	if qtype != "AXFR" && qtype != "IXFR" {
		qtype = "other"
	}
	m.ops.transfers.WithLabelValues(m.known(zone), qtype, result).Inc()
}

// Notify counts a NOTIFY for zone to one secondary, with result "ok",
// "refused" or "failed".
func (m *Registry) Notify(zone, result string) {
	if m == nil {
		return
	}
	m.ops.notifies.WithLabelValues(m.known(zone), result).Inc()
}

// ReloadDuration records how long a reload took.
func (m *Registry) ReloadDuration(d time.Duration) {
	if m == nil {
		return
	}
	m.ops.reloadDur.Observe(d.Seconds())
}

// QueriesByRcode sums dnslb_queries_total by rcode (the label values):
// what the status page's queries-per-second picture is drawn from.
func (m *Registry) QueriesByRcode() map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, 4)
	ch := make(chan prometheus.Metric, 64)
	go func() {
		m.queries.Collect(ch)
		close(ch)
	}()
	var pb dto.Metric
	for c := range ch {
		pb.Reset()
		if c.Write(&pb) != nil {
			continue
		}
		for _, l := range pb.GetLabel() {
			if l.GetName() == "rcode" {
				out[l.GetValue()] += pb.GetCounter().GetValue()
			}
		}
	}
	return out
}
