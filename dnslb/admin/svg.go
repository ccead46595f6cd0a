package admin

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"
)

// The status page's pictures, drawn on the server as inline SVG: no
// script, no framework, so the page works with its CSP (no scripts) and
// refreshes itself as before. Every text that comes from the config, the
// zones or the network is escaped here (html.EscapeString), since the
// result is trusted markup (template.HTML).

// stateColors are the colours of the health states; other states (new
// ones) are grey.
var stateColors = map[string]string{
	"up": "#2da44e", "down": "#cf222e", "drained": "#bf8700", "shed": "#fb8f44",
	"unknown": "#d4a72c", "unchecked": "#8c959f",
}

func stateColor(s string) string {
	if c, ok := stateColors[s]; ok {
		return c
	}
	return "#afb8c1"
}

// rcodeColors colour the queries-per-second lines.
var rcodeColors = map[string]string{
	"NOERROR": "#2da44e", "NXDOMAIN": "#0969da", "REFUSED": "#8c959f", "SERVFAIL": "#cf222e",
	"FORMERR": "#8250df", "NOTIMP": "#bf8700", "NOTAUTH": "#fb8f44",
}

func rcodeColor(rc string) string {
	if c, ok := rcodeColors[rc]; ok {
		return c
	}
	return "#57606a"
}

// addrColors tell the addresses of a name apart in its share bar.
var addrColors = []string{"#0969da", "#8250df", "#1a7f37", "#bc4c00", "#bf3989", "#0550ae", "#6639ba", "#116329"}

// qpsChart draws queries per second by rcode over the history.
func qpsChart(v historyView) template.HTML {
	const w, h, left, bottom = 900.0, 170.0, 50.0, 20.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="qps" role="img" width="%g" height="%g" viewBox="0 0 %g %g" xmlns="http://www.w3.org/2000/svg"><title>queries per second by rcode</title><g transform="translate(0,8)">`, w, h+38, w, h+38)
	maxV := 0.0
	for _, m := range v.QPS {
		for _, x := range m {
			maxV = max(maxV, x)
		}
	}
	top := niceCeil(maxV)
	plotW, plotH := w-left-10, h-bottom
	fmt.Fprintf(&b, `<rect x="%g" y="0" width="%g" height="%g" fill="#fff" stroke="#d0d7de"/>`, left, plotW, plotH)
	for _, f := range []float64{0, 0.5, 1} {
		y := plotH - f*plotH
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#eaeef2"/><text x="%g" y="%.1f" font-size="11" text-anchor="end" fill="#57606a">%s</text>`,
			left, left+plotW, y, y, left-4, y+4, fmtRate(f*top))
	}
	n := len(v.Times)
	if n >= 2 {
		span := v.Times[n-1].Sub(v.Times[0])
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="11" fill="#57606a">-%s</text><text x="%g" y="%g" font-size="11" text-anchor="end" fill="#57606a">now</text>`,
			left, plotH+14, fmtSpan(span), left+plotW, plotH+14)
		for _, rc := range v.Rcodes {
			var pts []string
			for i := 1; i < n; i++ { // the first sample has no rate
				x := left + plotW*float64(v.Times[i].Sub(v.Times[0]))/float64(span)
				y := plotH - plotH*v.QPS[i][rc]/top
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			}
			fmt.Fprintf(&b, `<polyline class="rcode-%s" fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`,
				html.EscapeString(rc), rcodeColor(rc), strings.Join(pts, " "))
		}
	} else {
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="12" fill="#57606a">collecting: the first samples come within the sampling interval</text>`, left+10, plotH/2)
	}
	x := left
	for _, rc := range v.Rcodes {
		last := 0.0
		if n > 1 {
			last = v.QPS[n-1][rc]
		}
		label := fmt.Sprintf("%s %s/s", rc, fmtRate(last))
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="10" height="10" fill="%s"/><text x="%g" y="%g" font-size="12">%s</text>`,
			x, h+8, rcodeColor(rc), x+14, h+17, html.EscapeString(label))
		x += 24 + 7*float64(len(label))
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String())
}

// timeline draws one address's states over the history: a strip of
// coloured segments, one per run of the same state, each with a title.
func timeline(v historyView, name, addr string) template.HTML {
	const w, h = 240.0, 14.0
	states := v.Health[name+" "+addr]
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" role="img" width="%g" height="%g" viewBox="0 0 %g %g" xmlns="http://www.w3.org/2000/svg"><title>health of %s over the last %s</title>`,
		w, h, w, h, html.EscapeString(addr), fmtSpan(spanOf(v)))
	n := len(v.Times)
	if n == 0 || len(states) != n {
		fmt.Fprintf(&b, `<rect width="%g" height="%g" fill="#eaeef2"/></svg>`, w, h)
		return template.HTML(b.String())
	}
	span := float64(v.Times[n-1].Sub(v.Times[0]))
	xOf := func(i int) float64 {
		if span <= 0 {
			return w * float64(i) / float64(n)
		}
		return w * float64(v.Times[i].Sub(v.Times[0])) / span
	}
	for i := 0; i < n; {
		j := i
		for j+1 < n && states[j+1] == states[i] {
			j++
		}
		x0, x1 := xOf(i), w // the last run ends at the right edge
		if j+1 < n {
			x1 = xOf(j + 1)
		}
		st := states[i]
		if st == "" {
			st = "none" // the address was not there yet
		}
		fmt.Fprintf(&b, `<rect class="seg seg-%s" x="%.1f" y="0" width="%.1f" height="%g" fill="%s"><title>%s from %s</title></rect>`,
			html.EscapeString(st), x0, max(x1-x0, 1), h, stateColor(states[i]), html.EscapeString(st), v.Times[i].UTC().Format("15:04:05"))
		i = j + 1
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// shareBar draws how a name's answers were shared among its addresses over
// the last minute (AddressStatus.Share, counted),
// per family, as a stacked bar with each address's percentage.
func shareBar(n NameStatus) template.HTML {
	const w, h = 600.0, 18.0
	var b strings.Builder
	for _, fam := range []bool{false, true} {
		var addrs []AddressStatus
		for _, a := range n.Addresses {
			if a.Addr.Is6() == fam {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		fmt.Fprintf(&b, `<svg class="share" role="img" width="%g" height="%g" viewBox="0 0 %g %g" xmlns="http://www.w3.org/2000/svg"><title>share of answers per address</title><rect width="%g" height="%g" fill="#eaeef2"/>`,
			w, h+16, w, h+16, w, h)
		x := 0.0
		for i, a := range addrs {
			color := addrColors[i%len(addrColors)]
			pct := fmt.Sprintf("%.0f%%", 100*a.Share)
			if a.Share > 0 {
				fmt.Fprintf(&b, `<rect class="share-seg" x="%.1f" y="0" width="%.1f" height="%g" fill="%s"><title>%s %s</title></rect>`,
					x, w*a.Share, h, color, html.EscapeString(a.Addr.String()), pct)
			}
			x += w * a.Share
		}
		lx := 0.0
		for i, a := range addrs {
			label := fmt.Sprintf("%s %.0f%%", a.Addr, 100*a.Share)
			fmt.Fprintf(&b, `<rect x="%g" y="%g" width="9" height="9" fill="%s"/><text class="share-label" x="%g" y="%g" font-size="11">%s</text>`,
				lx, h+5, addrColors[i%len(addrColors)], lx+12, h+13, html.EscapeString(label))
			lx += 20 + 6.5*float64(len(label))
		}
		b.WriteString(`</svg>`)
	}
	return template.HTML(b.String())
}

// reloadStrip draws the reloads kept, oldest left, green ok and red failed.
func reloadStrip(v historyView) template.HTML {
	var b strings.Builder
	n := len(v.Reloads)
	fmt.Fprintf(&b, `<svg class="reloads" role="img" width="%d" height="16" viewBox="0 0 %d 16" xmlns="http://www.w3.org/2000/svg"><title>the last %d reloads, oldest first</title>`, 16*max(n, 1), 16*max(n, 1), n)
	for i := range n {
		r := v.Reloads[n-1-i]
		color, what := "#2da44e", "ok"
		if !r.OK {
			color, what = "#cf222e", "failed"
		}
		fmt.Fprintf(&b, `<circle class="reload-%s" cx="%d" cy="8" r="6" fill="%s"><title>%s %s (%s)</title></circle>`,
			what, 16*i+8, color, r.Time.UTC().Format(time.RFC3339), what, html.EscapeString(r.Trigger))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func spanOf(v historyView) time.Duration {
	if len(v.Times) < 2 {
		return 0
	}
	return v.Times[len(v.Times)-1].Sub(v.Times[0])
}

// niceCeil rounds x up to 1, 2 or 5 times a power of ten (1 at least).
func niceCeil(x float64) float64 {
	if x <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func fmtRate(x float64) string {
	switch {
	case x >= 10000:
		return fmt.Sprintf("%.0fk", x/1000)
	case x >= 1000:
		return fmt.Sprintf("%.1fk", x/1000)
	case x >= 10 || x == 0:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

func fmtSpan(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%.0fh", d.Hours())
	case d >= time.Minute:
		return fmt.Sprintf("%.0fm", d.Minutes())
	}
	return fmt.Sprintf("%.0fs", d.Seconds())
}
