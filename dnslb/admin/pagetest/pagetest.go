// Package pagetest reads the status page as a person sees it, in headless
// Chromium, for the tests of dnslb/admin and dnslb: one copy of finding
// the browser, running it, saving a screenshot and reading the text and
// rows of what it rendered. It is for tests only and imports nothing of
// dnslb.
package pagetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Chromium returns the path of Debian's chromium (or chromium-browser).
// Without one it skips the test, except under CI (env CI set), where a
// missing browser fails it so the test cannot silently stop running. It
// skips under -short too: a browser is slow to start.
func Chromium(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found in PATH and CI is set: install it (apt-get install chromium)")
	}
	t.Skip("chromium not found in PATH (apt-get install chromium); set CI=1 to make this a failure")
	return ""
}

// DOM loads url in headless Chromium and returns the document as it
// rendered it.
func DOM(t testing.TB, bin, url string) string {
	t.Helper()
	return Run(t, bin, "--dump-dom", url)
}

// Screenshot saves a screenshot of url, in a window of size ("1200,900"),
// when env DNSLB_SCREENSHOT names a file (relative to the repository
// root, as docs/status-page.png); else it does nothing.
func Screenshot(t testing.TB, bin, size, url string) {
	t.Helper()
	shot := os.Getenv("DNSLB_SCREENSHOT")
	if shot == "" {
		return
	}
	if !filepath.IsAbs(shot) {
		shot = filepath.Join(repoRoot(t), shot)
	}
	Run(t, bin, "--screenshot="+shot, "--window-size="+size, "--hide-scrollbars", url)
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("screenshot %s not written: %v", shot, err)
	}
	t.Logf("screenshot saved to %s", shot)
}

// repoRoot is the folder of go.mod above the test's working directory.
func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// Run runs headless Chromium with a fresh profile, for at most 90
// seconds, and returns its standard output.
func Run(t testing.TB, bin string, args ...string) string {
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

// Text is roughly the text a reader sees in dom: the body without its
// tags and without the SVG titles (which show only on hover), the
// entities the page uses unescaped, every run of white space one space.
func Text(dom string) string {
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
	text := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#34;", `"`, "&#39;", "'").Replace(b.String())
	return strings.Join(strings.Fields(text), " ")
}

// RowOf returns the table row of dom that holds the cell s ("" if none).
func RowOf(dom, s string) string {
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
