package dnslb

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// TestGeoLookupsCounted: every geo decision counts in
// dnslb_geoip_lookups_total, found or not, the memo's replays included
// (the count is in the GeoIP set the snapshot holds, not in a wrapper).
func TestGeoLookupsCounted(t *testing.T) {
	srv := newConfigServer(t, writeGeoConfig(t))
	w := newUDPWorker(srv)
	from := netip.MustParseAddrPort("192.0.2.53:5353")
	ask := func(ecs string) {
		t.Helper()
		pkt, err := benchQuery(t, "geo.example.org.", dns.TypeA, true, ecs).Pack()
		if err != nil {
			t.Fatal(err)
		}
		if w.answer(pkt, from, w.outs[0]) == nil {
			t.Fatalf("no reply for ECS %s", ecs)
		}
	}
	hit0 := metricValue(t, srv, `dnslb_geoip_lookups_total{result="hit"}`)
	miss0 := metricValue(t, srv, `dnslb_geoip_lookups_total{result="miss"}`)
	for range 3 {
		ask("192.0.2.0")  // in the test City database (DE)
		ask("198.18.0.0") // in none
	}
	if got := metricValue(t, srv, `dnslb_geoip_lookups_total{result="hit"}`) - hit0; got != 3 {
		t.Errorf("hits counted %v, want 3", got)
	}
	if got := metricValue(t, srv, `dnslb_geoip_lookups_total{result="miss"}`) - miss0; got != 3 {
		t.Errorf("misses counted %v, want 3", got)
	}
}
