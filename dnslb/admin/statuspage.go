package admin

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed statuspage.html
var statusPageHTML string

// statusPage is parsed once; html/template escapes every value, so zone
// data and reload errors cannot inject markup.
var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago":     ago,
	"join":    strings.Join,
	"latency": fmtLatency,
	"stamp":   stamp,
	// The pictures (svg.go).
	"qpsChart":    qpsChart,
	"timeline":    timeline,
	"shareBar":    shareBar,
	"reloadStrip": reloadStrip,
}).Parse(statusPageHTML))

// pageData is what statuspage.html renders.
type pageData struct {
	Status
	Now   time.Time
	Ready bool
	// Query is appended to the page's links and form actions: "?token=…"
	// when the browser authenticated that way, so buttons keep working.
	Query string
	// History is what the pictures are drawn from (history.go).
	History historyView
}

// AllDown lists the names whose when_all_down answers because every
// address is down, for the banner at the top of the page.
func (d pageData) AllDown() []NameStatus {
	var out []NameStatus
	for _, n := range d.Names {
		if n.AllDown {
			out = append(out, n)
		}
	}
	return out
}

func (a *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	d := pageData{Status: a.backend.Status(), Now: time.Now(), Ready: a.backend.Ready(), History: a.hist.view()}
	if t := r.URL.Query().Get("token"); t != "" {
		d.Query = "?token=" + url.QueryEscape(t)
	}
	var buf bytes.Buffer
	if err := statusPage.Execute(&buf, d); err != nil {
		a.log.Error("status page", "err", err)
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The page has no scripts, styles only inline (its SVG pictures too),
	// and must not be framed.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}

// ago prints how long before now t was: "12s ago", "3m ago", "never".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// stamp prints t in UTC to the second, for the title attribute beside ago.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(10 * time.Millisecond).String()
}
