package dnslb

import (
	"testing"
)

// TestAddressShare: weights 1, 2 and 1 give shares 25%, 50%, 25%; with
// the heavy one drained the other two share evenly; in /metrics and the
// status both.
func TestAddressShare(t *testing.T) {
	cfgPath := writeLBConfig(t, `
[name."www.example.org"]
pick = "weighted"
weights = { "127.0.0.1" = 1, "127.0.0.2" = 2, "127.0.0.3" = 1 }
`)
	srv, _ := startServer(t, cfgPath)
	want := func(shares ...float64) {
		t.Helper()
		for i, a := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
			series := `dnslb_name_address_share{address="` + a + `",name="www.example.org"}`
			waitFor(t, series, func() bool { return metricValue(t, srv, series) == shares[i] })
			if got := srv.Status().Names[0].Addresses[i]; got.Share != shares[i] {
				t.Errorf("status share of %s = %v, want %v", a, got.Share, shares[i])
			}
		}
	}
	want(0.25, 0.5, 0.25)
	if err := srv.SetOverride("127.0.0.2", "drain"); err != nil {
		t.Fatal(err)
	}
	want(0.5, 0, 0.5)
}
