package dnslb

import (
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/metrics"
)

// scrape returns the text exposition of m.
func scrape(t *testing.T, m *metrics.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: status %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestMetricsAfterStartup: the state loaded at startup is a good one, so
// dnslb_last_reload_success is 1 with its time, and no reload is counted.
func TestMetricsAfterStartup(t *testing.T) {
	srv := newConfigServer(t, "testdata/dnslb.toml")
	out := scrape(t, srv.Metrics())
	if !strings.Contains(out, "\ndnslb_last_reload_success 1\n") {
		t.Errorf("after startup: no dnslb_last_reload_success 1")
	}
	if strings.Contains(out, "\ndnslb_last_reload_timestamp_seconds 0\n") {
		t.Errorf("after startup: dnslb_last_reload_timestamp_seconds is 0")
	}
	if strings.Contains(out, `dnslb_reloads_total{result="success"} 1`) {
		t.Errorf("startup counted as a reload")
	}
	z := srv.Store().Snapshot().Zone("example.org.")
	if got := metricValue(t, srv, `dnslb_zone_serial{zone="example.org"}`); got != float64(z.SOA.Serial) {
		t.Errorf("dnslb_zone_serial{zone=\"example.org\"} = %v, want %d", got, z.SOA.Serial)
	}
	if got := metricValue(t, srv, `dnslb_zone_last_load_timestamp_seconds{zone="example.org"}`); got < float64(srv.started.Unix()-5) {
		t.Errorf("dnslb_zone_last_load_timestamp_seconds = %v, want about %d", got, srv.started.Unix())
	}
	if !strings.Contains(out, `dnslb_build_info{goversion="go`) || !strings.Contains(out, `version="`+Version+`"} 1`) {
		t.Errorf("no dnslb_build_info with version %q", Version)
	}
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, srv, "dnslb_reload_duration_seconds_count"); got != 1 {
		t.Errorf("dnslb_reload_duration_seconds_count = %v after one reload, want 1", got)
	}
}

// metricValue is the value of one series (name with its labels, as the
// exposition writes it) in srv's metrics; 0 when it is not there.
func metricValue(t *testing.T, srv *Server, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape(t, srv.Metrics()), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}
