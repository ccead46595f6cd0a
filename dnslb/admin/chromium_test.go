package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin/pagetest"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/metrics"
)

// TestStatusPageChromium renders the status page in headless Chromium and
// checks what a person would see. It needs Debian's chromium package
// (pagetest.Chromium: a failure under CI when missing, else a skip).
//
// DNSLB_SCREENSHOT=docs/status-page.png also saves a screenshot; a
// relative path is taken from the repository root.
func TestStatusPageChromium(t *testing.T) {
	bin := pagetest.Chromium(t)

	const token = "page-token"
	st := testStatus()
	// Every address of api.example.net. is down: the banner says so.
	api := &st.Names[1]
	api.AllDown, api.AllDownTypes, api.AllDownSince = true, []string{"A"}, st.Started.Add(50*time.Minute)
	api.HealthyAddresses = 0
	api.Addresses[0].Override, api.Addresses[1].State = "down", "down"
	fb := &fakeBackend{status: st, ready: true}
	a := New(config.AdminConfig{Listen: "127.0.0.1:0", Token: token}, fb, metrics.New(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("admin Run: %v", err)
		}
	})
	select {
	case <-a.Started():
	case err := <-done:
		t.Fatalf("admin Run: %v", err)
	}
	url := "http://" + a.Addr().String() + "/?token=" + token

	dom := pagetest.DOM(t, bin, url)
	text := pagetest.Text(dom)
	for _, want := range []string{
		"example.org.", "2024010101", // zone and serial
		"www.example.org.", "weighted", "serve-all",
		"192.0.2.11", "connection refused",
		"failed", "bad address <script>", // the reload error, shown as text
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered page lacks %q; text:\n%s", want, text)
		}
	}
	// The down address shows a "down" badge, the drained one a "drain" badge.
	for _, want := range []string{
		`<span class="badge state-down">down</span>`,
		`<span class="badge ov">drain</span>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %s", want)
		}
	}
	if row := pagetest.RowOf(dom, "192.0.2.11"); !strings.Contains(row, ">down<") {
		t.Errorf("row of 192.0.2.11 does not say down: %s", row)
	}
	if row := pagetest.RowOf(dom, "2001:db8::12"); !strings.Contains(row, ">drain<") {
		t.Errorf("row of 2001:db8::12 does not say drain: %s", row)
	}
	// The all-down banner comes first in the body, and names the name,
	// its when_all_down and since when.
	banner := dom[strings.Index(dom, "<body"):]
	if i, j := strings.Index(banner, `id="all-down"`), strings.Index(banner, "<h2"); i < 0 || j < 0 || i > j {
		t.Errorf("no all-down banner above the first section:\n%s", banner)
	} else if text := pagetest.Text(banner[i:j]); !strings.Contains(text, "Every address is down: 1 name answered by when_all_down") ||
		!strings.Contains(text, "api.example.net.") || !strings.Contains(text, "servfail") || !strings.Contains(text, "since 10m ago") {
		t.Errorf("the banner reads %q", text)
	}
	if !strings.Contains(dom, `<span class="badge alldown">all down</span>`) {
		t.Error("rendered DOM lacks the all-down badge beside the name")
	}
	if strings.Contains(dom, "<script>") {
		t.Error("the reload error became markup")
	}

	pagetest.Screenshot(t, bin, "1200,900", url)
}
