package admin

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/metrics"
)

// TestStatusPageChromium renders the status page in headless Chromium and
// checks what a person would see. It needs Debian's chromium package. It
// skips when chromium is missing, except under CI (env CI set), where a
// missing browser is a failure so the test cannot silently stop running.
//
// DNSLB_SCREENSHOT=docs/status-page.png also saves a screenshot; a
// relative path is taken from the repository root.
func TestStatusPageChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found in PATH and CI is set: install it (apt-get install chromium)")
		}
		t.Skip("chromium not found in PATH (apt-get install chromium); set CI=1 to make this a failure")
	}

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

	dom := runChromium(t, bin, "--dump-dom", url)
	text := visibleText(dom)
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
	if row := rowOf(dom, "192.0.2.11"); !strings.Contains(row, ">down<") {
		t.Errorf("row of 192.0.2.11 does not say down: %s", row)
	}
	if row := rowOf(dom, "2001:db8::12"); !strings.Contains(row, ">drain<") {
		t.Errorf("row of 2001:db8::12 does not say drain: %s", row)
	}
	// The all-down banner comes first in the body, and names the name,
	// its when_all_down and since when.
	banner := dom[strings.Index(dom, "<body"):]
	if i, j := strings.Index(banner, `id="all-down"`), strings.Index(banner, "<h2"); i < 0 || j < 0 || i > j {
		t.Errorf("no all-down banner above the first section:\n%s", banner)
	} else if text := strings.Join(strings.Fields(visibleText(banner[i:j])), " "); !strings.Contains(text, "Every address is down: 1 name answered by when_all_down") ||
		!strings.Contains(text, "api.example.net.") || !strings.Contains(text, "servfail") || !strings.Contains(text, "since 10m ago") {
		t.Errorf("the banner reads %q", text)
	}
	if !strings.Contains(dom, `<span class="badge alldown">all down</span>`) {
		t.Error("rendered DOM lacks the all-down badge beside the name")
	}
	if strings.Contains(dom, "<script>") {
		t.Error("the reload error became markup")
	}

	if shot := os.Getenv("DNSLB_SCREENSHOT"); shot != "" {
		if !filepath.IsAbs(shot) {
			shot = filepath.Join("..", "..", shot) // tests run in dnslb/admin/
		}
		abs, err := filepath.Abs(shot)
		if err != nil {
			t.Fatal(err)
		}
		runChromium(t, bin, "--screenshot="+abs, "--window-size=1200,900", "--hide-scrollbars", url)
		if fi, err := os.Stat(abs); err != nil || fi.Size() == 0 {
			t.Fatalf("screenshot %s not written: %v", abs, err)
		}
		t.Logf("screenshot saved to %s", abs)
	}
}

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runChromium runs headless Chromium with a fresh profile and returns its
// standard output.
func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// visibleText strips tags and unescapes the few entities the page uses,
// leaving roughly the text a reader sees.
func visibleText(dom string) string {
	if i := strings.Index(dom, "<body"); i >= 0 {
		dom = dom[i:]
	}
	var b strings.Builder
	in := false
	for _, r := range dom {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#34;", `"`, "&#39;", "'").Replace(b.String())
}

// rowOf returns the table row of the DOM that holds s.
func rowOf(dom, s string) string {
	i := strings.Index(dom, ">"+s+"<")
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(dom[:i], "<tr")
	end := strings.Index(dom[i:], "</tr>")
	if start < 0 || end < 0 {
		return ""
	}
	return dom[start : i+end]
}
