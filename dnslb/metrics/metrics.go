package metrics

import (
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds dnslb's Prometheus metrics in a private registry (never
// the global one, so tests and several servers in one process don't
// collide). Every method is safe on a nil *Registry and then does nothing,
// so callers that run without metrics need no checks.
//
// Label values are bounded by construction:
//   - zone: one of the zones given to SetZones, else "none" (REFUSED
//     queries, or a zone the caller forgot to announce);
//   - qtype: a fixed list of common types, else "other";
//   - rcode: the RFC 1035/2136 names (NOERROR..NOTZONE), else "other";
//   - policy: the policy names seen, at most maxPolicies per zone, else
//     "other"; "" becomes "none";
//   - check and target: names and addresses from the config and zones;
//   - name: the load-balanced names of the config ([name."…"] tables).
//
// A client address or a query name never becomes a label.
type Registry struct {
	reg *prometheus.Registry

	queries    *prometheus.CounterVec
	duration   *batchHistogram // by transport: 0 udp, 1 tcp
	truncated  prometheus.Counter
	targetUp   *prometheus.GaugeVec
	nameUp     *prometheus.GaugeVec   // healthy addresses per name
	nameDown   *prometheus.GaugeVec   // 1 while when_all_down answers for a name
	share      *prometheus.GaugeVec   // share of a name's answers per address
	answers    *prometheus.CounterVec // a name's answers per address they led with
	probe      *prometheus.HistogramVec
	changes    *prometheus.CounterVec
	reloads    [2]prometheus.Counter // 0 failure, 1 success
	lastReload prometheus.Gauge
	reloadOK   prometheus.Gauge
	geo        [2]prometheus.Counter // 0 miss, 1 hit
	abuse      *abuseMetrics         // TCP limits, state file (abuse.go)
	cluster    *clusterMetrics       // the fleet's members (cluster.go)
	rrl        *rrlMetrics           // response rate limiting (rrl.go)
	ops        *opsMetrics           // build, zones, transfers, reload duration (ops.go)
	load       *loadMetrics          // load-aware answers (load.go)

	// zones maps a zone label to its cells. It is replaced whole (copy on
	// write) by SetZones, so ObserveQuery reads it without a lock.
	zones atomic.Pointer[map[string]*zoneCells]
	none  *zoneCells // REFUSED and unannounced zones
	mu    sync.Mutex // serialises SetZones and policy-map growth
}

// maxPolicies bounds the distinct policy labels per zone. Policies come
// from the config, so this is only a guard against a caller bug.
const maxPolicies = 32

// queryTypes are the qtypes with their own label value; index len() is "other".
var queryTypes = [...]uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeNS, dns.TypeSOA,
	dns.TypeTXT, dns.TypeSRV, dns.TypePTR, dns.TypeCAA, dns.TypeHTTPS, dns.TypeSVCB,
	dns.TypeDS, dns.TypeDNSKEY, dns.TypeNAPTR, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR,
}

const (
	numQtypes = len(queryTypes) + 1
	// numRcodes covers NOERROR (0) to NOTZONE (10), plus "other".
	numRcodes = dns.RcodeNotZone + 2
)

var transports = [2]string{"udp", "tcp"}

// zoneCells holds one zone's query counters, per policy.
type zoneCells struct {
	zone     string
	policies atomic.Pointer[map[string]*queryCells]
}

// queryCells caches the counter children of one (zone, policy), created on
// first use so that only combinations that happen get exported.
type queryCells struct {
	zone, policy string
	c            [numQtypes][numRcodes][2]atomic.Pointer[counterRef]
}

type counterRef struct{ prometheus.Counter }

// New creates the metrics and registers them, together with the Go
// runtime and process collectors, in a new private registry.
func New() *Registry {
	m := &Registry{reg: prometheus.NewRegistry()}
	m.queries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnslb_queries_total",
		Help: "DNS queries answered, by zone, query type, response code, selection policy and transport.",
	}, []string{"zone", "qtype", "rcode", "policy", "transport"})
	m.duration = newBatchHistogram(prometheus.NewDesc("dnslb_query_duration_seconds",
		"Time from a query's arrival to its packed reply. Over UDP a batch of datagrams read at once is timed together, to the last reply packed before they are sent.",
		[]string{"transport"}, nil),
		[]float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
			1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3})
	m.truncated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dnslb_responses_truncated_total",
		Help: "UDP responses sent with TC=1 because the answer did not fit.",
	})
	m.targetUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnslb_target_up",
		Help: "1 if the health check considers the target up, 0 if down.",
	}, []string{"check", "target"})
	m.nameUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnslb_name_healthy_addresses",
		Help: "Addresses of a load-balanced name that are up (neither down by its checks nor by an override, nor drained).",
	}, []string{"name"})
	m.nameDown = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnslb_name_all_down",
		Help: "1 while every address of a load-balanced name (of one family at least) is down, so its when_all_down answers; else 0.",
	}, []string{"name"})
	m.share = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnslb_name_address_share",
		Help: "Share of a load-balanced name's answers of the address's family that led with the address over the last 12 samples of status_interval (counted, memo hits included; 0 for all without answers).",
	}, []string{"name", "address"})
	m.answers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnslb_name_address_answers_total",
		Help: "Answers of a load-balanced name that led with the address (counted every status_interval).",
	}, []string{"name", "address"})
	// Probe latency is per check, not per target: a histogram has ~15
	// series per label set, and checks × targets can be large, while the
	// per-target latency is on the status page and in /api/status.
	m.probe = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "dnslb_probe_duration_seconds",
		Help:    "Duration of health-check probes, by check.",
		Buckets: []float64{1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10},
	}, []string{"check"})
	m.changes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnslb_target_state_changes_total",
		Help: "Health state changes of targets, by check and new state (up or down).",
	}, []string{"check", "state"})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnslb_reloads_total",
		Help: "config.Config and zone reloads, by result (success or failure).",
	}, []string{"result"})
	m.reloads[0] = reloads.WithLabelValues("failure")
	m.reloads[1] = reloads.WithLabelValues("success")
	m.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dnslb_last_reload_timestamp_seconds",
		Help: "Unix time of the last reload attempt, successful or not.",
	})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dnslb_last_reload_success",
		Help: "1 if the last reload succeeded, 0 if it failed (the old state is still served).",
	})
	geo := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnslb_geoip_lookups_total",
		Help: "GeoIP lookups of client or ECS addresses, by result (hit or miss). Replies precomputed for a client's subnet need none.",
	}, []string{"result"})
	m.geo[0] = geo.WithLabelValues("miss")
	m.geo[1] = geo.WithLabelValues("hit")

	m.reg.MustRegister(m.queries, m.duration, m.truncated, m.targetUp, m.nameUp, m.nameDown, m.share, m.answers, m.probe, m.changes,
		reloads, m.lastReload, m.reloadOK, geo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.abuse = newAbuseMetrics(m.reg)
	m.cluster = newClusterMetrics(m.reg)
	m.rrl = newRRLMetrics(m.reg)
	m.ops = newOpsMetrics(m.reg)
	m.load = newLoadMetrics(m.reg)
	m.none = &zoneCells{zone: "none"}
	m.none.policies.Store(&map[string]*queryCells{})
	m.zones.Store(&map[string]*zoneCells{})
	return m
}

// Registry is the private registry, for tests and for adding collectors.
func (m *Registry) Prometheus() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// SetZones announces the zones being served; ObserveQuery counts any other
// zone as "none". Call it at startup and after every successful reload.
// Series of zones no longer served are deleted.
func (m *Registry) SetZones(names []string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.zones.Load()
	next := make(map[string]*zoneCells, len(names))
	for _, n := range names {
		n = zoneLabel(n)
		if n == "" {
			continue
		}
		if zc, ok := old[n]; ok {
			next[n] = zc
			continue
		}
		zc := &zoneCells{zone: n}
		zc.policies.Store(&map[string]*queryCells{})
		next[n] = zc
	}
	for n := range old {
		if _, ok := next[n]; !ok {
			m.queries.DeletePartialMatch(prometheus.Labels{"zone": n})
			m.ops.forgetZone(n)
		}
	}
	m.zones.Store(&next)
}

// zoneLabel drops the root dot, so "example.org." and "example.org" are
// one label value. It slices, so it does not allocate.
func zoneLabel(z string) string {
	if z != "." {
		z = strings.TrimSuffix(z, ".")
	}
	return z
}

// ObserveQuery counts one answered query and its duration. zone is the
// zone that answered ("" if none did), policy the selection policy used
// ("" for plain records). It does not allocate once a combination of
// labels has been seen.
func (m *Registry) ObserveQuery(zone string, qtype uint16, rcode int, policy string, d time.Duration, tcp bool) {
	ref, _ := m.QueryCounter(zone, qtype, rcode, policy, tcp)
	m.observeCounted(ref, d, tcp)
}

// QueryCounter returns the counter that ObserveQuery steps for these
// labels (nil without metrics), for a cache of answers to keep beside an
// answer it serves again (observeCounted), instead of finding it per query.
// known is false when zone is not one SetZones announced (it counts as
// "none" for now).
func (m *Registry) QueryCounter(zone string, qtype uint16, rcode int, policy string, tcp bool) (ref *counterRef, known bool) {
	if m == nil {
		return nil, false
	}
	zc := (*m.zones.Load())[zoneLabel(zone)]
	known = zc != nil || zone == ""
	if zc == nil {
		zc = m.none
	}
	qc := (*zc.policies.Load())[policy]
	if qc == nil {
		qc = m.addPolicy(zc, policy)
	}
	t := transportIndex(tcp)
	qi, ri := qtypeIndex(qtype), rcodeIndex(rcode)
	ref = qc.c[qi][ri][t].Load()
	if ref == nil {
		ref = m.newCell(qc, qi, ri, t)
	}
	return ref, known
}

// observeCounted is ObserveQuery with its counter found (queryCounter).
func (m *Registry) observeCounted(ref *counterRef, d time.Duration, tcp bool) {
	if m == nil || ref == nil {
		return
	}
	ref.Inc()
	m.duration.observeN(transportIndex(tcp), d.Seconds(), 1)
}

// ObserveDurations records n answered queries that all took d.
func (m *Registry) ObserveDurations(d time.Duration, n int, tcp bool) {
	if m == nil || n <= 0 {
		return
	}
	m.duration.observeN(transportIndex(tcp), d.Seconds(), uint64(n))
}

// transportIndex is the index of a transport in transports: UDP, TCP.
func transportIndex(tcp bool) int {
	if tcp {
		return 1
	}
	return 0
}

// addPolicy is ObserveQuery's slow path for the first query of a policy.
func (m *Registry) addPolicy(zc *zoneCells, policy string) *queryCells {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *zc.policies.Load()
	if qc := cur[policy]; qc != nil {
		return qc
	}
	label := policy
	switch {
	case policy == "":
		label = "none"
	case len(cur) >= maxPolicies:
		label = "other"
	}
	next := make(map[string]*queryCells, len(cur)+1)
	for k, v := range cur {
		next[k] = v
		if label == "other" && v.policy == label {
			return v // "other" exists: past the bound the map stops growing
		}
	}
	qc := &queryCells{zone: zc.zone, policy: label}
	next[policy] = qc
	zc.policies.Store(&next)
	return qc
}

// newCell resolves one counter child. WithLabelValues returns the same
// child for the same labels, so a race here only does the work twice.
func (m *Registry) newCell(qc *queryCells, qi, ri, t int) *counterRef {
	ref := &counterRef{m.queries.WithLabelValues(qc.zone, qtypeLabel(qi), rcodeLabel(ri), qc.policy, transports[t])}
	if !qc.c[qi][ri][t].CompareAndSwap(nil, ref) {
		return qc.c[qi][ri][t].Load()
	}
	return ref
}

func qtypeIndex(qtype uint16) int {
	for i, t := range queryTypes {
		if t == qtype {
			return i
		}
	}
	return len(queryTypes)
}

func qtypeLabel(i int) string {
	if i < len(queryTypes) {
		return dns.TypeToString[queryTypes[i]]
	}
	return "other"
}

func rcodeIndex(rcode int) int {
	if rcode >= 0 && rcode <= dns.RcodeNotZone {
		return rcode
	}
	return numRcodes - 1
}

func rcodeLabel(i int) string {
	if i < numRcodes-1 {
		return dns.RcodeToString[i]
	}
	return "other"
}

// Truncated counts a UDP response sent with TC=1.
func (m *Registry) Truncated() {
	if m == nil {
		return
	}
	m.truncated.Inc()
}

// HealthState sets dnslb_target_up for one target of one check. target is
// an address from a zone, so the set is bounded by the zones and
func (m *Registry) HealthState(check, target string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.targetUp.WithLabelValues(check, target).Set(v)
}

// ForgetTarget drops the dnslb_target_up series of a target that a reload
// removed, so it does not stay at its last value for good.
func (m *Registry) ForgetTarget(check, target string) {
	if m == nil {
		return
	}
	m.targetUp.DeleteLabelValues(check, target)
}

// ForgetCheck drops the probe-duration and state-change series of a check
// that no target uses any more.
func (m *Registry) ForgetCheck(check string) {
	if m == nil {
		return
	}
	m.probe.DeletePartialMatch(prometheus.Labels{"check": check})
	m.changes.DeletePartialMatch(prometheus.Labels{"check": check})
	m.targetUp.DeletePartialMatch(prometheus.Labels{"check": check})
}

// NameHealth sets the gauges of one load-balanced name (an FQDN from the
// config): how many of its addresses are up, and whether every address
// (of a family) is down.
func (m *Registry) NameHealth(name string, healthy int, allDown bool) {
	if m == nil {
		return
	}
	name = zoneLabel(name)
	m.nameUp.WithLabelValues(name).Set(float64(healthy))
	v := 0.0
	if allDown {
		v = 1
	}
	m.nameDown.WithLabelValues(name).Set(v)
}

// ForgetName drops the series of a name that a reload removed.
func (m *Registry) ForgetName(name string) {
	if m == nil {
		return
	}
	name = zoneLabel(name)
	m.nameUp.DeleteLabelValues(name)
	m.nameDown.DeleteLabelValues(name)
	m.share.DeletePartialMatch(prometheus.Labels{"name": name})
	m.answers.DeletePartialMatch(prometheus.Labels{"name": name})
	m.load.shed.DeleteLabelValues(name)
}

// ForgetShares drops the share series of a name whose addresses changed.
func (m *Registry) ForgetShares(name string) {
	if m == nil {
		return
	}
	m.share.DeletePartialMatch(prometheus.Labels{"name": zoneLabel(name)})
	m.answers.DeletePartialMatch(prometheus.Labels{"name": zoneLabel(name)})
}

// AddressAnswers adds n to dnslb_name_address_answers_total of one
// address of a load-balanced name.
func (m *Registry) AddressAnswers(name, address string, n uint64) {
	if m == nil || n == 0 {
		return
	}
	m.answers.WithLabelValues(zoneLabel(name), address).Add(float64(n))
}

// AddressShare sets dnslb_name_address_share of one address (from the
// zone) of a load-balanced name (from the config).
func (m *Registry) AddressShare(name, address string, share float64) {
	if m == nil {
		return
	}
	m.share.WithLabelValues(zoneLabel(name), address).Set(share)
}

// ProbeLatency records the duration of one probe of check.
func (m *Registry) ProbeLatency(check string, d time.Duration) {
	if m == nil {
		return
	}
	m.probe.WithLabelValues(check).Observe(d.Seconds())
}

// StateChange counts a target of check going up or down.
func (m *Registry) StateChange(check string, up bool) {
	if m == nil {
		return
	}
	state := "down"
	if up {
		state = "up"
	}
	m.changes.WithLabelValues(check, state).Inc()
}

// Loaded sets the reload gauges for the state loaded at startup (t), so
// that dnslb_last_reload_success is 1 from the start; the reload counter
// counts reloads only.
func (m *Registry) Loaded(t time.Time) {
	if m == nil {
		return
	}
	m.reloadOK.Set(1)
	m.lastReload.Set(float64(t.UnixNano()) / 1e9)
}

// ReloadResult counts a reload attempt made at t.
func (m *Registry) ReloadResult(ok bool, t time.Time) {
	if m == nil {
		return
	}
	i, v := 0, 0.0
	if ok {
		i, v = 1, 1
	}
	m.reloads[i].Inc()
	m.reloadOK.Set(v)
	m.lastReload.Set(float64(t.UnixNano()) / 1e9)
}

// GeoLookup counts a GeoIP lookup that found (hit) or did not find a location.
func (m *Registry) GeoLookup(hit bool) {
	if m == nil {
		return
	}
	i := 0
	if hit {
		i = 1
	}
	m.geo[i].Inc()
}

// batchHistogram is a histogram by transport that takes n observations of
// one value in one step. The UDP loop reads the clock once for a batch of
// precomputed replies; prometheus.Histogram would need an Observe, three
// atomic additions, per reply.
type batchHistogram struct {
	desc   *prometheus.Desc
	upper  []float64 // the buckets' upper bounds, ascending; +Inf after them
	series [len(transports)]histogramSeries
}

type histogramSeries struct {
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Uint64   // float64 bits
}

func newBatchHistogram(desc *prometheus.Desc, upper []float64) *batchHistogram {
	h := &batchHistogram{desc: desc, upper: upper}
	for i := range h.series {
		h.series[i].counts = make([]atomic.Uint64, len(upper)+1)
	}
	return h
}

// observeN adds n observations of v (seconds) to the series of transport t.
func (h *batchHistogram) observeN(t int, v float64, n uint64) {
	s := &h.series[t]
	// The first bucket whose bound is >= v: "le" is inclusive.
	s.counts[sort.SearchFloat64s(h.upper, v)].Add(n)
	for {
		old := s.sum.Load()
		if s.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v*float64(n))) {
			return
		}
	}
}

func (h *batchHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect exports both series. The count is the sum of the buckets read,
// so a scrape during observations is consistent in itself.
func (h *batchHistogram) Collect(ch chan<- prometheus.Metric) {
	for t := range h.series {
		s := &h.series[t]
		buckets := make(map[float64]uint64, len(h.upper))
		var cum uint64
		for i, u := range h.upper {
			cum += s.counts[i].Load()
			buckets[u] = cum
		}
		cum += s.counts[len(h.upper)].Load()
		ch <- prometheus.MustNewConstHistogram(h.desc, cum, math.Float64frombits(s.sum.Load()), buckets, transports[t])
	}
}
