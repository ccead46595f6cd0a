package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

// Explanation records how Policy.Explain reached its decision, for
// `dnslb explain NAME TYPE --client IP [--subnet PREFIX]`.
type Explanation struct {
	Owner    string
	Query    Query
	Steps    []string
	Decision Decision
}

// String returns the explanation as readable multi-line text.
func (e Explanation) String() string {
	var b strings.Builder
	fam := "A"
	if e.Query.Family == FamilyV6 {
		fam = "AAAA"
	}
	fmt.Fprintf(&b, "%s %s for client %s", e.Owner, fam, e.Query.Client)
	if e.Query.ECS {
		fmt.Fprintf(&b, " (ECS source /%d)", e.Query.SourcePrefix)
	}
	b.WriteString("\n")
	for _, s := range e.Steps {
		b.WriteString("  ")
		b.WriteString(s)
		b.WriteString("\n")
	}
	d := e.Decision
	switch {
	case d.AllDown:
		fmt.Fprintf(&b, "result: all down, %v\n", d.Addrs)
	case len(d.Addrs) == 0:
		b.WriteString("result: no data\n")
	default:
		g := d.Group
		if g == "" {
			g = "(all addresses)"
		}
		fmt.Fprintf(&b, "result: group %s, %v, scope /%d", g, d.Addrs, d.Scope)
		if d.HasTTL {
			fmt.Fprintf(&b, ", ttl %d", d.TTL)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Explain runs the same selection as Select, recording each step. It uses a
// fixed random seed and doesn't advance the round-robin counter, so it
// doesn't disturb real answers; random and weighted picks show one possible
// draw.
func (p *Policy) Explain(q *Query, health Health, loc Locator) Explanation {
	tr := &trace{}
	tr.add("policy: select %s, pick %s, max_answers %d", selectNames[p.sel], pickNames[p.pick], p.max)
	r := rand.New(rand.NewPCG(1, 2))
	d := p.run(q, health, loc, r, make([]netip.Addr, 0, p.NumAddrs()), tr)
	return Explanation{Owner: p.owner, Query: *q, Steps: tr.steps, Decision: d}
}

// trace collects explain steps. Selection holds a nil *trace on the hot path
// and guards each use, so arguments are never even boxed there.
type trace struct {
	steps []string
	addrs []string // health of the addresses of the group being tried
}

func (t *trace) add(format string, args ...any) {
	t.steps = append(t.steps, fmt.Sprintf(format, args...))
}

func (t *trace) addr(a netip.Addr, up bool, weight uint32, health Health, p *Policy) {
	st := "down"
	if up {
		st = "up"
	}
	lv, _ := health.(Loads)
	l, ok := Load{}, false
	if lv != nil {
		l, ok = lv.Load(a)
	}
	if !ok {
		t.addrs = append(t.addrs, fmt.Sprintf("%s %s weight %d", a, st, weight))
		return
	}
	if l.Shed {
		st = "shed"
	}
	var parts []string
	if l.HasWeight {
		parts = append(parts, fmt.Sprintf("reported weight %.4g", l.Weight))
	}
	if l.HasShare {
		parts = append(parts, fmt.Sprintf("load %.2f (smoothed)", l.Share))
		if p.wm.on {
			parts = append(parts, "watermarks "+p.wmState(l))
		}
	}
	if l.RTT > 0 {
		parts = append(parts, fmt.Sprintf("rtt %v", l.RTT))
	}
	parts = append(parts, fmt.Sprintf("weight %d, load-aware weight %.4g", weight, p.loadWeight(weight, l)))
	t.addrs = append(t.addrs, fmt.Sprintf("%s %s %s", a, st, strings.Join(parts, ", ")))
}

// wmState says where a share is against the watermarks.
func (p *Policy) wmState(l Load) string {
	switch {
	case l.Shed:
		return fmt.Sprintf("shed (at or above high %.2g, back below %.2g)", p.wm.high, p.wm.high-p.wm.margin)
	case l.Share <= p.wm.low:
		return fmt.Sprintf("below low %.2g: full weight", p.wm.low)
	}
	return fmt.Sprintf("between low %.2g and high %.2g: reduced", p.wm.low, p.wm.high)
}

func (t *trace) group(name, why string, healthy int) {
	if name == "" {
		name = "of all addresses"
		if why == "all addresses" {
			why = "no group selection"
		}
	}
	verdict := "chosen"
	if healthy == 0 {
		verdict = "no healthy address, falling through"
	}
	t.add("candidate group %s (%s): %d healthy, %s", name, why, healthy, verdict)
	for _, a := range t.addrs {
		t.add("    %s", a)
	}
	t.addrs = t.addrs[:0]
}

func (t *trace) location(client netip.Addr, l Location, found bool) {
	if !found {
		t.add("geoip: no data for %s (network /%d)", client, l.Prefix)
		return
	}
	var parts []string
	if l.Country != "" {
		parts = append(parts, "country "+l.Country)
	}
	if l.Continent != "" {
		parts = append(parts, "continent "+l.Continent)
	}
	for _, s := range l.Subdivisions {
		if s != "" {
			parts = append(parts, "subdivision "+s)
		}
	}
	if l.ASN != 0 {
		parts = append(parts, fmt.Sprintf("asn %d", l.ASN))
	}
	if l.HasCoords {
		parts = append(parts, fmt.Sprintf("location %.2f,%.2f", l.Lat, l.Lon))
	}
	t.add("geoip: %s is %s (network /%d)", client, strings.Join(parts, ", "), l.Prefix)
}
