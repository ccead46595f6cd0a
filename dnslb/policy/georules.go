package policy

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/dnslb/dnslb/dnslb/config"
)

// geoRules is the compiled rule set, one lookup structure per kind of term.
type geoRules struct {
	cidrs      []cidrRule // longest first
	asn        map[uint32]int
	subdiv     map[string]int
	country    map[uint32]int // by code2 of the ISO code: a query's lookup hashes no string
	continent  map[uint32]int // by code2
	needLookup bool           // any term other than CIDR
	need       Fields         // fields(), once
}

// byASN, bySubdivision, byCountry and byContinent are the group of a rule
// matching a client's location. Each looks only when the rules have a term
// of its kind: most have one or two kinds, and a lookup in an empty map
// still costs a call.
func (gr *geoRules) byASN(n uint32) (int, bool) {
	if n == 0 || len(gr.asn) == 0 {
		return 0, false
	}
	gi, ok := gr.asn[n]
	return gi, ok
}

func (gr *geoRules) bySubdivision(code string) (int, bool) {
	if code == "" || len(gr.subdiv) == 0 {
		return 0, false
	}
	gi, ok := gr.subdiv[code]
	return gi, ok
}

func (gr *geoRules) byCountry(code string) (int, bool) {
	if len(gr.country) == 0 {
		return 0, false
	}
	gi, ok := gr.country[code2(code)]
	return gi, ok
}

func (gr *geoRules) byContinent(code string) (int, bool) {
	if len(gr.continent) == 0 {
		return 0, false
	}
	gi, ok := gr.continent[code2(code)]
	return gi, ok
}

// code2 is a two-letter code as a number: its letters' bytes. Anything else
// is 0, which no rule has.
func code2(s string) uint32 {
	if len(s) != 2 {
		return 0
	}
	return uint32(s[0])<<8 | uint32(s[1])
}

type cidrRule struct {
	prefix netip.Prefix
	group  int
}

func (c *compiler) geoRules(p *Policy, rules []config.RuleConfig) geoRules {
	gr := geoRules{
		asn:       map[uint32]int{},
		subdiv:    map[string]int{},
		country:   map[uint32]int{},
		continent: map[uint32]int{},
	}
	seen := map[string]string{} // normalized term -> path of first use
	for i, rule := range rules {
		path := fmt.Sprintf("rules[%d]", i)
		g := c.groupRef(p, path+".group", rule.Group, -1)
		if rule.Group == "" {
			c.errf(path+".group", "missing group")
		}
		if len(rule.Match) == 0 {
			c.errf(path+".match", "rule matches nothing")
		}
		for j, term := range rule.Match {
			tpath := fmt.Sprintf("%s.match[%d]", path, j)
			norm, ok := c.geoTerm(tpath, term, g, &gr)
			if !ok {
				continue
			}
			if first, dup := seen[norm]; dup {
				c.errf(tpath, "%q is already matched by %s", term, first)
				continue
			}
			seen[norm] = c.key + "." + tpath
		}
	}
	sort.SliceStable(gr.cidrs, func(i, j int) bool { return gr.cidrs[i].prefix.Bits() > gr.cidrs[j].prefix.Bits() })
	gr.needLookup = len(gr.asn)+len(gr.subdiv)+len(gr.country)+len(gr.continent) > 0
	gr.need = gr.fields()
	return gr
}

// geoTerm parses one match term into gr and returns its normalized form.
func (c *compiler) geoTerm(path, term string, g int, gr *geoRules) (string, bool) {
	kind, val, ok := strings.Cut(term, ":")
	if !ok {
		c.errf(path, "%q: want kind:value with kind country, continent, subdivision, asn or cidr", term)
		return "", false
	}
	switch kind {
	case "country":
		cc := strings.ToUpper(val)
		if _, ok := countryContinent[cc]; !ok {
			c.errf(path, "%q is not an ISO 3166-1 alpha-2 country code", val)
			return "", false
		}
		gr.country[code2(cc)] = g
		return "country:" + cc, true
	case "continent":
		cc := strings.ToUpper(val)
		if _, ok := continentCountries[cc]; !ok {
			c.errf(path, "%q is not a continent code, want one of AF AN AS EU NA OC SA", val)
			return "", false
		}
		gr.continent[code2(cc)] = g
		return "continent:" + cc, true
	case "subdivision":
		sd := strings.ToUpper(val)
		cc, sub, ok := strings.Cut(sd, "-")
		if _, known := countryContinent[cc]; !ok || !known || len(sub) < 1 || len(sub) > 3 || !alnum(sub) {
			c.errf(path, "%q is not an ISO 3166-2 subdivision code like US-CA or DE-HE", val)
			return "", false
		}
		gr.subdiv[sd] = g
		return "subdivision:" + sd, true
	case "asn":
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(val), "AS"), 10, 32)
		if err != nil || n == 0 {
			c.errf(path, "%q is not an AS number like 64500 or AS64500", val)
			return "", false
		}
		gr.asn[uint32(n)] = g
		return "asn:" + strconv.FormatUint(n, 10), true
	case "cidr":
		pf, err := netip.ParsePrefix(val)
		if err != nil {
			c.errf(path, "%q is not a CIDR prefix", val)
			return "", false
		}
		if pf.Masked() != pf {
			c.errf(path, "%q has host bits set, want %s", val, pf.Masked())
			return "", false
		}
		if pf.Addr().Is4In6() {
			c.errf(path, "%q is IPv4-mapped, write it as an IPv4 prefix", val)
			return "", false
		}
		gr.cidrs = append(gr.cidrs, cidrRule{prefix: pf, group: g})
		return "cidr:" + pf.String(), true
	}
	c.errf(path, "%q: unknown kind %q, want country, continent, subdivision, asn or cidr%s", term, kind,
		config.Suggest(kind, []string{"country", "continent", "subdivision", "asn", "cidr"}))
	return "", false
}

func alnum(s string) bool {
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// fields is what the rules read of a client's location.
func (gr *geoRules) fields() Fields {
	var f Fields
	if len(gr.asn) > 0 {
		f |= FieldASN
	}
	if len(gr.subdiv) > 0 {
		f |= FieldSubdivision
	}
	if len(gr.country) > 0 {
		f |= FieldCountry
	}
	if len(gr.continent) > 0 {
		f |= FieldContinent
	}
	return f
}

// need is what a selection reads of the client's location: for geo, the
// fields its rules name; for nearest, the coordinates.
func (p *Policy) need() Fields {
	if p.sel == selectNearest {
		return FieldCoords
	}
	return p.geo.need
}

// locate looks the client up for the selection, and, when explaining,
// once more for every field, to show them (with the network the
// selection's fields came from, which is its scope).
func (p *Policy) locate(loc Locator, client netip.Addr, tr *trace) (Location, bool) {
	l, found := loc.Lookup(client, p.need())
	if tr != nil {
		all, ok := loc.Lookup(client, AllFields)
		all.Prefix = l.Prefix
		tr.location(client, all, ok)
	}
	return l, found
}
