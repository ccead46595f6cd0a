package policy

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/dnslb/dnslb/dnslb/config"
)

// CompilePolicy validates cfg for the owner name whose zone addresses are
// addrs, and compiles it. It reports every problem it finds, each naming the
// key path; the policy is nil when there are any.
func CompilePolicy(owner string, cfg config.NameConfig, addrs []netip.Addr) (*Policy, []error) {
	return compile(owner, cfg, addrs, true)
}

// CheckPolicy is CompilePolicy for a name whose addresses are not known
// (its zone did not load, or it is in none): it reports every problem
// that does not need them, taking any address for one of the name's.
func CheckPolicy(owner string, cfg config.NameConfig) []error {
	_, errs := compile(owner, cfg, nil, false)
	return errs
}

func compile(owner string, cfg config.NameConfig, addrs []netip.Addr, known bool) (*Policy, []error) {
	key := strings.TrimSuffix(owner, ".")
	c := &compiler{key: fmt.Sprintf("name.%q", key), fqdn: key + ".", unknownAddrs: !known}
	p := &Policy{owner: c.fqdn, dflt: -1, max: cfg.MaxAnswers, seq: policySeq.Add(1)}

	if i := slices.Index(selectNames, cmp.Or(cfg.Select, "none")); i >= 0 {
		p.sel = selectKind(i)
	} else {
		c.errf("select", "%s", config.OneOf(cfg.Select, selectNames))
	}
	if i := slices.Index(pickNames, cmp.Or(cfg.Pick, "round-robin")); i >= 0 {
		p.pick = pickKind(i)
	} else {
		c.errf("pick", "%s", config.OneOf(cfg.Pick, pickNames))
	}
	if cfg.MaxAnswers < 0 {
		c.errf("max_answers", "%d is negative, want 0 (all) or more", cfg.MaxAnswers)
	}
	if cfg.TTL != nil {
		if *cfg.TTL > math.MaxInt32 {
			c.errf("ttl", "%d out of range 0..%d", *cfg.TTL, math.MaxInt32)
		}
		p.ttl, p.hasTTL = *cfg.TTL, true
	}

	c.loadKeys(p, cfg)

	zone := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		p.has4 = p.has4 || a.Is4()
		p.has6 = p.has6 || a.Is6()
		if !zone[a] {
			zone[a] = true
			p.all.addrs = append(p.all.addrs, a)
		}
	}
	weights := c.weights(cfg.Weights, zone)
	c.groups(p, cfg, zone, weights)
	p.all.fill(weights, 1)

	p.action, p.downGroup = c.allDown(p, cfg.WhenAllDown)
	p.dflt = c.groupRef(p, "default", cfg.Default, -1)
	for i, name := range cfg.Order {
		p.order = append(p.order, c.groupRef(p, fmt.Sprintf("order[%d]", i), name, -1))
	}
	switch p.sel {
	case selectGeo:
		p.geo = c.geoRules(p, cfg.Rules)
		if len(cfg.Rules) == 0 && cfg.Default == "" {
			c.errf("rules", `select = "geo" needs rules or a default group`)
		}
	case selectNearest:
		for _, g := range p.groups {
			if !g.hasLoc {
				c.errf(fmt.Sprintf("groups.%s.location", g.name), `select = "nearest" needs a location for every group`)
			}
		}
		if len(p.groups) == 0 {
			c.errf("groups", `select = "nearest" needs groups`)
		}
	case selectFailover:
		if len(cfg.Order) == 0 {
			c.errf("order", `select = "failover" needs the chain of groups, e.g. order = ["primary", "backup"]`)
		}
	}
	if p.sel != selectGeo && len(cfg.Rules) > 0 {
		c.errf("rules", `rules are only used with select = "geo"`)
	}
	if len(c.errs) > 0 {
		sort.Slice(c.errs, func(i, j int) bool { return c.errs[i].Error() < c.errs[j].Error() })
		return nil, c.errs
	}
	// Drop the failover/fallback slots of unknown groups: only reachable
	// when there were errors, but keep the invariant obvious.
	p.order = slices.DeleteFunc(p.order, func(i int) bool { return i < 0 })
	return p, nil
}

type compiler struct {
	key  string // name."www.example.org"
	fqdn string
	errs []error
	// unknownAddrs: the name's addresses are not known (CheckPolicy),
	// so any address is taken for one of them.
	unknownAddrs bool
}

func (c *compiler) errf(path, format string, args ...any) {
	c.errs = append(c.errs, &KeyError{Key: c.key + "." + path, Msg: fmt.Sprintf(format, args...)})
}

// KeyError is a problem with the value of one config key, named as the
// file spells it (name."www.example.org".groups.eu.weight).
type KeyError struct{ Key, Msg string }

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

func (c *compiler) addr(path, s string, zone map[netip.Addr]bool) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		c.errf(path, "%q is not an IP address", s)
		return a, false
	}
	a = a.Unmap()
	if c.unknownAddrs {
		zone[a] = true
	}
	if !zone[a] {
		have := make([]string, 0, len(zone))
		for z := range zone {
			have = append(have, z.String())
		}
		sort.Strings(have)
		c.errf(path, "address %s is not an A/AAAA record of %s%s", a, c.fqdn, config.Suggest(a.String(), have))
		return a, false
	}
	return a, true
}

func (c *compiler) weight(path string, w int) bool {
	if w < 1 || w > 1000 {
		c.errf(path, "weight %d out of range 1..1000", w)
		return false
	}
	return true
}

func (c *compiler) weights(cfg map[string]int, zone map[netip.Addr]bool) map[netip.Addr]uint32 {
	w := make(map[netip.Addr]uint32, len(cfg))
	for s, n := range cfg {
		path := fmt.Sprintf("weights.%q", s)
		a, ok := c.addr(path, s, zone)
		if ok && c.weight(path, n) {
			w[a] = uint32(n)
		}
	}
	return w
}

func (c *compiler) groups(p *Policy, cfg config.NameConfig, zone map[netip.Addr]bool, weights map[netip.Addr]uint32) {
	names := make([]string, 0, len(cfg.Groups))
	for n := range cfg.Groups {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > maxGroups {
		c.errf("groups", "%d groups, at most %d allowed", len(names), maxGroups)
		names = names[:maxGroups]
	}
	for _, name := range names {
		gc := cfg.Groups[name]
		path := "groups." + name
		g := group{name: name}
		seen := make(map[netip.Addr]bool)
		for i, s := range gc.Addresses {
			a, ok := c.addr(fmt.Sprintf("%s.addresses[%d]", path, i), s, zone)
			if !ok {
				continue
			}
			if seen[a] {
				c.errf(fmt.Sprintf("%s.addresses[%d]", path, i), "duplicate address %s", a)
				continue
			}
			seen[a] = true
			g.addrs = append(g.addrs, a)
		}
		if len(gc.Addresses) == 0 {
			c.errf(path+".addresses", "group has no addresses")
		}
		gw := uint32(1)
		if gc.Weight != 0 && c.weight(path+".weight", gc.Weight) {
			gw = uint32(gc.Weight)
		}
		switch {
		case len(gc.Location) == 0:
		case len(gc.Location) != 2:
			c.errf(path+".location", "want [latitude, longitude], found %d numbers", len(gc.Location))
		case math.Abs(gc.Location[0]) > 90 || math.IsNaN(gc.Location[0]):
			c.errf(path+".location", "latitude %v out of range -90..90", gc.Location[0])
		case math.Abs(gc.Location[1]) > 180 || math.IsNaN(gc.Location[1]):
			c.errf(path+".location", "longitude %v out of range -180..180", gc.Location[1])
		default:
			g.lat, g.lon, g.hasLoc = radians(gc.Location[0]), radians(gc.Location[1]), true
		}
		g.fill(weights, gw)
		p.groups = append(p.groups, g)
	}
	// A group weight applies to addresses that have none of their own;
	// give addresses outside any group the weight of their first group too.
	for _, a := range p.all.addrs {
		if _, ok := weights[a]; ok {
			continue
		}
		for _, g := range p.groups {
			if j := slices.Index(g.addrs, a); j >= 0 {
				weights[a] = g.weights[j]
				break
			}
		}
	}
}

// fill sets the per-address weights (def when not configured) and hashes.
func (g *group) fill(weights map[netip.Addr]uint32, def uint32) {
	g.weights = make([]uint32, len(g.addrs))
	g.hashes = make([]uint64, len(g.addrs))
	for i, a := range g.addrs {
		w, ok := weights[a]
		if !ok {
			w = def
		}
		g.weights[i] = w
		g.hashes[i] = addrHash(a)
	}
}

func (c *compiler) groupRef(p *Policy, path, name string, def int) int {
	if name == "" {
		return def
	}
	for i, g := range p.groups {
		if g.name == name {
			return i
		}
	}
	names := make([]string, len(p.groups))
	for i, g := range p.groups {
		names[i] = g.name
	}
	c.errf(path, "unknown group %q%s", name, config.Suggest(name, names))
	return def
}

func (c *compiler) allDown(p *Policy, s string) (AllDownAction, int) {
	switch {
	case s == "" || s == "serve-all":
		return ServeAll, 0
	case s == "servfail":
		return Servfail, 0
	case s == "nodata":
		return Nodata, 0
	case strings.HasPrefix(s, "group:"):
		i := c.groupRef(p, "when_all_down", strings.TrimPrefix(s, "group:"), -1)
		return ServeGroup, i
	}
	options := []string{"serve-all", "servfail", "nodata"}
	for _, g := range p.groups {
		options = append(options, "group:"+g.name)
	}
	c.errf("when_all_down", "%q is not one of serve-all, servfail, nodata, group:<name>%s", s, config.Suggest(s, options))
	return ServeAll, 0
}

// loadKeys reads the watermarks and the fastest tolerance.
func (c *compiler) loadKeys(p *Policy, cfg config.NameConfig) {
	share := func(key string, v *float64, lo, hi float64) (float64, bool) {
		if v == nil {
			return 0, false
		}
		if math.IsNaN(*v) || *v < lo || *v > hi {
			c.errf(key, "%v out of range %v..%v", *v, lo, hi)
			return 0, false
		}
		return *v, true
	}
	low, hasLow := share("low_watermark", cfg.LowWatermark, 0, 100)
	high, hasHigh := share("high_watermark", cfg.HighWatermark, 0, 100)
	margin, hasMargin := share("watermark_margin", cfg.WatermarkMargin, 0, 100)
	switch {
	case hasLow && !hasHigh && cfg.HighWatermark == nil:
		c.errf("low_watermark", "needs a high_watermark")
	case hasHigh:
		if !hasLow && cfg.LowWatermark == nil {
			low = high
		}
		if !hasMargin {
			margin = min(DefaultMargin, high)
		}
		if low > high {
			c.errf("low_watermark", "%v is above high_watermark %v", low, high)
		}
		if margin > high {
			c.errf("watermark_margin", "%v is above high_watermark %v", margin, high)
		}
		p.wm = watermarks{on: true, low: low, high: high, margin: margin}
	case cfg.WatermarkMargin != nil && cfg.HighWatermark == nil:
		c.errf("watermark_margin", "needs a high_watermark")
	}
	p.tolerance = DefaultTolerance
	if tol, ok := share("tolerance", cfg.Tolerance, 0, 10); ok {
		p.tolerance = tol
		if p.pick != pickFastest {
			c.errf("tolerance", `only used with pick = "fastest"`)
		}
	}
}
