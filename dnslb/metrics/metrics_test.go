package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scrape returns the text exposition of m.
func scrape(t *testing.T, m *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: status %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetricsExposition(t *testing.T) {
	m := New()
	m.SetZones([]string{"example.org."})
	m.ObserveQuery("example.org.", dns.TypeA, dns.RcodeSuccess, "weighted", 30*time.Microsecond, false)
	m.ObserveQuery("example.org.", dns.TypeAAAA, dns.RcodeNameError, "", 30*time.Microsecond, true)
	m.ObserveQuery("", dns.TypeA, dns.RcodeRefused, "", 10*time.Microsecond, false)
	m.ObserveQuery("example.org.", 65000, 99, "weighted", time.Millisecond, false)
	m.ObserveDurations(10*time.Microsecond, 5, false) // "le" is inclusive
	m.ObserveDurations(2*time.Second, 2, true)
	m.ObserveDurations(time.Second, 0, true) // nothing
	m.Truncated()
	m.HealthState("web", "192.0.2.10", true)
	m.ProbeLatency("web", 3*time.Millisecond)
	m.StateChange("web", false)
	m.ReloadResult(true, time.Unix(1700000000, 0))
	m.ReloadResult(false, time.Unix(1700000100, 0))
	m.GeoLookup(true)
	m.GeoLookup(false)

	out := scrape(t, m)
	for _, want := range []string{
		`dnslb_queries_total{policy="weighted",qtype="A",rcode="NOERROR",transport="udp",zone="example.org"} 1`,
		`dnslb_queries_total{policy="none",qtype="AAAA",rcode="NXDOMAIN",transport="tcp",zone="example.org"} 1`,
		`dnslb_queries_total{policy="none",qtype="A",rcode="REFUSED",transport="udp",zone="none"} 1`,
		`dnslb_queries_total{policy="weighted",qtype="other",rcode="other",transport="udp",zone="example.org"} 1`,
		`dnslb_query_duration_seconds_bucket{transport="udp",le="1e-05"} 6`,
		`dnslb_query_duration_seconds_bucket{transport="udp",le="5e-05"} 7`,
		`dnslb_query_duration_seconds_bucket{transport="udp",le="0.001"} 8`,
		`dnslb_query_duration_seconds_bucket{transport="udp",le="+Inf"} 8`,
		`dnslb_query_duration_seconds_count{transport="udp"} 8`,
		`dnslb_query_duration_seconds_bucket{transport="tcp",le="0.1"} 1`,
		`dnslb_query_duration_seconds_bucket{transport="tcp",le="+Inf"} 3`,
		`dnslb_query_duration_seconds_sum{transport="tcp"} 4.00003`,
		`dnslb_query_duration_seconds_sum{transport="udp"} 0.00109`,
		`dnslb_responses_truncated_total 1`,
		`dnslb_target_up{check="web",target="192.0.2.10"} 1`,
		`dnslb_probe_duration_seconds_count{check="web"} 1`,
		`dnslb_target_state_changes_total{check="web",state="down"} 1`,
		`dnslb_reloads_total{result="success"} 1`,
		`dnslb_reloads_total{result="failure"} 1`,
		`dnslb_last_reload_timestamp_seconds 1.7000001e+09`,
		`dnslb_last_reload_success 0`,
		`dnslb_geoip_lookups_total{result="hit"} 1`,
		`dnslb_geoip_lookups_total{result="miss"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q\n%s", want, out)
		}
	}
}

func TestMetricsZoneBound(t *testing.T) {
	m := New()
	m.SetZones([]string{"example.org", "example.net"})
	// A zone that is not served (a caller passing a query name by mistake)
	// must not become a label value.
	m.ObserveQuery("www.example.com.", dns.TypeA, dns.RcodeRefused, "", 0, false)
	m.ObserveQuery("example.net.", dns.TypeA, dns.RcodeSuccess, "", 0, false)
	if got := testutil.ToFloat64(m.queries.WithLabelValues("none", "A", "REFUSED", "none", "udp")); got != 1 {
		t.Errorf("zone=none count = %v, want 1", got)
	}
	m.SetZones([]string{"example.org"})
	if out := scrape(t, m); strings.Contains(out, `zone="example.net"`) {
		t.Errorf("series of removed zone example.net still exported:\n%s", out)
	}
	m.ObserveQuery("example.net.", dns.TypeA, dns.RcodeSuccess, "", 0, false)
	if got := testutil.ToFloat64(m.queries.WithLabelValues("none", "A", "NOERROR", "none", "udp")); got != 1 {
		t.Errorf("removed zone counted as none = %v, want 1", got)
	}
}

func TestMetricsPolicyBound(t *testing.T) {
	m := New()
	m.SetZones([]string{"example.org"})
	for i := range maxPolicies + 10 {
		m.ObserveQuery("example.org", dns.TypeA, 0, "p"+strings.Repeat("x", i), 0, false)
	}
	n := testutil.CollectAndCount(m.queries, "dnslb_queries_total")
	if n != maxPolicies+1 {
		t.Errorf("%d query series, want %d (maxPolicies plus other)", n, maxPolicies+1)
	}
	if got := testutil.ToFloat64(m.queries.WithLabelValues("example.org", "A", "NOERROR", "other", "udp")); got != 10 {
		t.Errorf("policy=other count = %v, want 10", got)
	}
}

func TestMetricsNil(t *testing.T) {
	var m *Registry
	m.SetZones([]string{"example.org"})
	m.ObserveQuery("example.org", dns.TypeA, 0, "", 0, false)
	m.Truncated()
	m.HealthState("web", "192.0.2.1", true)
	m.ForgetTarget("web", "192.0.2.1")
	m.ForgetCheck("web")
	m.NameHealth("www.example.org.", 2, false)
	m.ForgetName("www.example.org.")
	m.ProbeLatency("web", time.Second)
	m.StateChange("web", true)
	m.ReloadResult(true, time.Now())
	m.GeoLookup(true)
}

func BenchmarkObserveQuery(b *testing.B) {
	m := New()
	m.SetZones([]string{"example.org.", "example.net."})
	m.ObserveQuery("example.org.", dns.TypeA, dns.RcodeSuccess, "weighted", 40*time.Microsecond, false)
	b.Run("hot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.ObserveQuery("example.org.", dns.TypeA, dns.RcodeSuccess, "weighted", 40*time.Microsecond, false)
		}
	})
	b.Run("refused", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.ObserveQuery("", dns.TypeAAAA, dns.RcodeRefused, "", 10*time.Microsecond, true)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.ObserveQuery("example.net.", dns.TypeAAAA, dns.RcodeNameError, "round-robin", 40*time.Microsecond, false)
			}
		})
	})
}

// TestQueryCounterKnown checks that queryCounter tells a zone the metrics
// know from one counted as "none" until SetZones announces it, so that a
// precomputed reply does not keep the "none" counter for good.
func TestQueryCounterKnown(t *testing.T) {
	m := New()
	if _, known := m.QueryCounter("example.org.", dns.TypeA, 0, "", false); known {
		t.Fatal("a zone not announced yet is known")
	}
	if _, known := m.QueryCounter("", dns.TypeA, dns.RcodeRefused, "", false); !known {
		t.Fatal("no zone (REFUSED) is not known")
	}
	m.SetZones([]string{"example.org."})
	ref, known := m.QueryCounter("example.org.", dns.TypeA, 0, "", false)
	if !known || ref == nil {
		t.Fatal("an announced zone is not known")
	}
	m.observeCounted(ref, time.Millisecond, false)
	if got := testutil.ToFloat64(m.queries.WithLabelValues("example.org", "A", "NOERROR", "none", "udp")); got != 1 {
		t.Fatalf("counted %v queries, want 1", got)
	}
}

// TestOpsMetrics: build info, zone serials and load times, transfers and
// NOTIFYs per zone (a zone not served is "none"), reload durations; a
// zone's series go with it.
func TestOpsMetrics(t *testing.T) {
	m := New()
	m.BuildInfo("1.2.3")
	m.SetZones([]string{"example.org.", "example.net."})
	m.ZoneLoaded("example.org.", 2024010101, time.Unix(1700000000, 0))
	m.ZoneLoaded("example.net.", 7, time.Unix(1700000000, 0))
	m.Transfer("example.org.", "AXFR", "ok")
	m.Transfer("www.example.org.", "AXFR", "refused")
	m.Transfer("example.org.", "TYPE65000", "refused")
	m.Notify("example.net.", "failed")
	m.ReloadDuration(30 * time.Millisecond)
	out := scrape(t, m)
	for _, want := range []string{
		`dnslb_build_info{goversion="go`,
		`dnslb_zone_serial{zone="example.org"} 2.024010101e+09`,
		`dnslb_zone_last_load_timestamp_seconds{zone="example.org"} 1.7e+09`,
		`dnslb_transfers_total{result="ok",type="AXFR",zone="example.org"} 1`,
		`dnslb_transfers_total{result="refused",type="AXFR",zone="none"} 1`,
		`dnslb_transfers_total{result="refused",type="other",zone="example.org"} 1`,
		`dnslb_notifies_total{result="failed",zone="example.net"} 1`,
		`dnslb_reload_duration_seconds_bucket{le="0.1"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	m.SetZones([]string{"example.org."})
	if out := scrape(t, m); strings.Contains(out, `zone="example.net"`) {
		t.Errorf("series of removed zone example.net still exported")
	}
	var nilm *Registry
	nilm.BuildInfo("x")
	nilm.ZoneLoaded("example.org", 1, time.Now())
	nilm.Transfer("example.org", "AXFR", "ok")
	nilm.Notify("example.org", "ok")
	nilm.ReloadDuration(time.Second)
}
