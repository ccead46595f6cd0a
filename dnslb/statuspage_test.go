package dnslb

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/config"
)

// TestStatusPageFailureChromium loads the status page in headless
// Chromium while a real HTTP backend fails: three backends behind
// www.example.org., then the first is stopped. A person sees that
// address's health timeline turn red (its last segment down, after up),
// its share of answers drop to 0% while the two others take 50% each, the
// queries-per-second line, and the reload in the history. It fails
// under CI when Chromium is missing.
//
// DNSLB_SCREENSHOT=docs/status-page.png saves a screenshot (relative to
// the repository root): the one in the README.
func TestStatusPageFailureChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		needTool(t, "chromium", "chromium") // fails under CI, skips elsewhere
	}
	bs, port := startBackends(t, 3)
	cfgPath := writeLBConfig(t, fmt.Sprintf(`
[healthcheck.web]
type = "http"
port = %d
path = "/health"
interval = "1s"
timeout = "500ms"
rise = 1
fall = 1

[admin]
status_interval = "200ms" # the shares' window: 12 samples

[name."www.example.org"]
check = "web"
pick = "weighted"
`, port))
	srv, addr := startServer(t, cfgPath)
	a := admin.New(config.AdminConfig{Listen: "127.0.0.1:0", StatusInterval: config.Duration{Duration: 200 * time.Millisecond}}, srv, srv.Metrics(), nil)
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
	url := "http://" + a.Addr().String() + "/"
	get := func() string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	query := func(n int) {
		for range n {
			queryA(t, addr, "www.example.org.")
		}
	}
	if err := srv.Reload("test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every address up on the page", func() bool {
		query(20)
		page := get()
		return strings.Count(page, `class="seg seg-up"`) == 3 && strings.Contains(page, `class="rcode-NOERROR"`)
	})
	query(100)
	time.Sleep(time.Second) // a stretch of up on every timeline, in samples
	bs[0].stop()
	waitFor(t, "127.0.0.1 down on the page", func() bool {
		query(20)
		return strings.Contains(rowOf(get(), "127.0.0.1"), `seg-down`)
	})
	// Answers go on while the page is read: the shares are counted over
	// the last 12 samples (2.4s here), so the window must hold answers
	// after the failure and none before.
	stop := keepAsking(t, addr, "www.example.org.")
	waitFor(t, "the counted share of 127.0.0.1 at 0", func() bool {
		for _, a := range srv.Status().Names[0].Addresses {
			if (a.Addr.String() == "127.0.0.1") != (a.Share == 0) {
				return false
			}
		}
		return true
	})

	dom := chromiumDOM(t, bin, url)
	stop()
	row := rowOf(dom, "127.0.0.1")
	up, down := strings.LastIndex(row, `class="seg seg-up"`), strings.LastIndex(row, `class="seg seg-down"`)
	if up < 0 || down < up {
		t.Errorf("the timeline of 127.0.0.1 does not go from up to down (up at %d, down at %d): %s", up, down, row)
	}
	if !strings.Contains(row[down:], `fill="#cf222e"`) {
		t.Errorf("the down segment of 127.0.0.1 is not red: %s", row[down:])
	}
	for _, other := range []string{"127.0.0.2", "127.0.0.3"} {
		if r := rowOf(dom, other); strings.Contains(r, "seg-down") || !strings.Contains(r, "seg-up") {
			t.Errorf("the timeline of %s is not all up: %s", other, r)
		}
	}
	text := strings.Join(strings.Fields(visibleTextOf(dom)), " ")
	for _, want := range []string{
		"127.0.0.1 0%", // the share moved to the others (below)
		"2 of 3 addresses up",
		"NOERROR", // the queries-per-second legend
		"test",    // the reload in the history
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not read %q:\n%s", want, text)
		}
	}
	// The answers counted since the failure went to the other two, about
	// half each (weighted at random).
	for _, other := range []string{"127.0.0.2", "127.0.0.3"} {
		if pct := sharePercent(text, other); pct < 35 || pct > 65 {
			t.Errorf("the page gives %s a share of %d%%, want about 50%%:\n%s", other, pct, text)
		}
	}
	if !strings.Contains(dom, `<polyline class="rcode-NOERROR"`) {
		t.Error("no queries-per-second line for NOERROR")
	}
	if strings.Contains(dom, "<script") {
		t.Error("the page has a script")
	}

	if shot := os.Getenv("DNSLB_SCREENSHOT"); shot != "" {
		if !filepath.IsAbs(shot) {
			shot = filepath.Join("..", shot) // tests run in dnslb/
		}
		abs, err := filepath.Abs(shot)
		if err != nil {
			t.Fatal(err)
		}
		runChromiumArgs(t, bin, "--screenshot="+abs, "--window-size=1200,1450", "--hide-scrollbars", url)
		if fi, err := os.Stat(abs); err != nil || fi.Size() == 0 {
			t.Fatalf("screenshot %s not written: %v", abs, err)
		}
		t.Logf("screenshot saved to %s", abs)
	}
}

// sharePercent reads the share the page's text gives addr ("addr 52%"),
// -1 if none.
func sharePercent(text, addr string) int {
	m := regexp.MustCompile(regexp.QuoteMeta(addr) + ` ([0-9]+)%`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// keepAsking queries name at addr over UDP from a goroutine, a query
// every 2ms, until the returned stop is called (at most a minute).
func keepAsking(t *testing.T, addr, name string) (stop func()) {
	t.Helper()
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		c := &dns.Client{Timeout: time.Second}
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		end := time.After(time.Minute)
		for {
			select {
			case <-quit:
				return
			case <-end:
				return
			case <-tick.C:
				_, _, _ = c.Exchange(m, addr)
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); <-done }) }
	t.Cleanup(stop)
	return stop
}

func chromiumDOM(t *testing.T, bin, url string) string {
	t.Helper()
	return runChromiumArgs(t, bin, "--dump-dom", url)
}

// runChromiumArgs runs headless Chromium with a fresh profile, at most 90
// seconds, and returns its standard output.
func runChromiumArgs(t *testing.T, bin string, args ...string) string {
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

// visibleTextOf strips the tags (and the SVG titles, which show only on
// hover) and unescapes the entities the page uses.
func visibleTextOf(dom string) string {
	if i := strings.Index(dom, "<body"); i >= 0 {
		dom = dom[i:]
	}
	for {
		i := strings.Index(dom, "<title>")
		j := strings.Index(dom, "</title>")
		if i < 0 || j < i {
			break
		}
		dom = dom[:i] + dom[j+len("</title>"):]
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

// rowOf returns the table row of the page that holds the cell s.
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
