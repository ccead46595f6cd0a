package admin

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dnslb/dnslb/dnslb/config"
)

// TestHistoryBounded: the rings keep config.HistorySamples samples in
// time order however many are taken, rates are per second between
// samples, an address a reload removed leaves once out of the window, and
// the reload list keeps the last maxReloads.
func TestHistoryBounded(t *testing.T) {
	h := newHistory()
	t0 := time.Unix(1700000000, 0)
	a1, a2 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")
	total := 2*config.HistorySamples + 5
	for i := range total {
		st := Status{Names: []NameStatus{{Name: "www.example.org.", Addresses: []AddressStatus{{Addr: a1, State: "up"}}}}}
		if i < 10 {
			st.Names[0].Addresses = append(st.Names[0].Addresses, AddressStatus{Addr: a2, State: "down"})
		}
		if i == total-1 {
			st.Names[0].Addresses[0].Override = "drain"
		}
		st.LastReload = ReloadStatus{Time: t0.Add(time.Duration(i/10) * time.Hour), OK: i%20 != 0}
		h.record(t0.Add(time.Duration(i)*5*time.Second), st, map[string]float64{"NOERROR": float64(50 * i)})
	}
	v := h.view()
	if len(v.Times) != config.HistorySamples || len(v.QPS) != config.HistorySamples {
		t.Fatalf("%d times, %d rates kept, want %d", len(v.Times), len(v.QPS), config.HistorySamples)
	}
	for i := 1; i < len(v.Times); i++ {
		if !v.Times[i].After(v.Times[i-1]) {
			t.Fatalf("samples out of order at %d: %v then %v", i, v.Times[i-1], v.Times[i])
		}
	}
	if got := v.QPS[len(v.QPS)-1]["NOERROR"]; got != 10 {
		t.Errorf("rate %v/s, want 10 (50 queries in 5 s)", got)
	}
	if _, ok := v.Health["www.example.org. 192.0.2.11"]; ok {
		t.Error("an address gone for a whole window is still kept")
	}
	s := v.Health["www.example.org. 192.0.2.10"]
	if len(s) != config.HistorySamples || s[len(s)-1] != "drained" || s[0] != "up" {
		t.Errorf("192.0.2.10: %d states, first %q last %q; want %d, up, drained", len(s), s[0], s[len(s)-1], config.HistorySamples)
	}
	if len(v.Reloads) != maxReloads || !v.Reloads[0].Time.After(v.Reloads[1].Time) {
		t.Errorf("%d reloads kept (newest first?), want %d", len(v.Reloads), maxReloads)
	}
	// The pictures of it: a red segment last for a down address, shares.
	tl := string(timeline(v, "www.example.org.", "192.0.2.10"))
	if !strings.HasSuffix(tl, `<title>drained from `+v.Times[len(v.Times)-1].UTC().Format("15:04:05")+`</title></rect></svg>`) {
		t.Errorf("timeline does not end drained: %s", tl[max(0, len(tl)-200):])
	}
	bar := string(shareBar(NameStatus{Addresses: []AddressStatus{{Addr: a1, Share: 0.75}, {Addr: a2, Share: 0.25}}}))
	if !strings.Contains(bar, "192.0.2.10 75%") || !strings.Contains(bar, `width="450.0"`) {
		t.Errorf("share bar: %s", bar)
	}
	if q := string(qpsChart(v)); !strings.Contains(q, `class="rcode-NOERROR"`) || !strings.Contains(q, "NOERROR 10/s") {
		t.Errorf("qps chart lacks the NOERROR line or its legend")
	}
}
