package policy_test

import (
	"github.com/dnslb/dnslb/dnslb/geo"
	"github.com/dnslb/dnslb/dnslb/geo/geotest"
	"github.com/dnslb/dnslb/dnslb/policy"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/config"
)

const owner = "www.example.org"

// downSet is a policy.Health with the listed addresses down.
type downSet map[netip.Addr]bool

func (d downSet) Up(a netip.Addr) bool { return !d[a] }

func down(addrs ...string) downSet {
	d := downSet{}
	for _, a := range addrs {
		d[netip.MustParseAddr(a)] = true
	}
	return d
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func mustCompile(t testing.TB, cfg config.NameConfig, zone []netip.Addr) *policy.Policy {
	t.Helper()
	p, errs := policy.CompilePolicy(owner, cfg, zone)
	if len(errs) > 0 {
		t.Fatalf("CompilePolicy: %v", errs)
	}
	return p
}

func query(client string, fam policy.Family) *policy.Query {
	return &policy.Query{Client: netip.MustParseAddr(client), Family: fam}
}

func seeded() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func ttl(n uint32) *uint32 { return &n }

// geoZone and geoConfig: one group per kind of rule.
var geoZone = addrs("192.0.2.10", "2001:db8::10", "192.0.2.20", "192.0.2.30", "192.0.2.40",
	"192.0.2.50", "192.0.2.60", "192.0.2.61", "192.0.2.70", "2001:db8::70")

func geoConfig() config.NameConfig {
	return config.NameConfig{
		Select: "geo",
		Groups: map[string]config.GroupConfig{
			"eu":     {Addresses: []string{"192.0.2.10", "2001:db8::10"}},
			"us":     {Addresses: []string{"192.0.2.20"}},
			"ap":     {Addresses: []string{"192.0.2.30"}},
			"ca":     {Addresses: []string{"192.0.2.40"}},
			"as":     {Addresses: []string{"192.0.2.50"}},
			"net28":  {Addresses: []string{"192.0.2.60"}},
			"net24":  {Addresses: []string{"192.0.2.61"}},
			"global": {Addresses: []string{"192.0.2.70", "2001:db8::70"}},
		},
		Rules: []config.RuleConfig{
			{Match: []string{"continent:EU"}, Group: "eu"},
			{Match: []string{"country:US"}, Group: "us"},
			{Match: []string{"continent:AS", "country:AU"}, Group: "ap"},
			{Match: []string{"subdivision:US-CA"}, Group: "ca"},
			{Match: []string{"asn:AS64501"}, Group: "as"},
			{Match: []string{"cidr:203.0.113.0/24"}, Group: "net24"},
			{Match: []string{"cidr:203.0.113.0/28"}, Group: "net28"},
		},
		Default: "global",
	}
}

func TestSelectGeo(t *testing.T) {
	g := testGeoDB(t)
	p := mustCompile(t, geoConfig(), geoZone)
	tests := []struct {
		name   string
		q      *policy.Query
		health downSet
		loc    policy.Locator
		want   []netip.Addr
		group  string
		scope  int
	}{
		{"continent", query("192.0.2.1", policy.FamilyV4), nil, g, addrs("192.0.2.10"), "eu", 25},
		{"continent AAAA", query("192.0.2.1", policy.FamilyV6), nil, g, addrs("2001:db8::10"), "eu", 25},
		{"subdivision beats country", query("192.0.2.200", policy.FamilyV4), nil, g, addrs("192.0.2.40"), "ca", 25},
		{"subdivision down: country", query("192.0.2.200", policy.FamilyV4), down("192.0.2.40"), g, addrs("192.0.2.20"), "us", 25},
		{"subdivision and country down: default", query("192.0.2.200", policy.FamilyV4), down("192.0.2.40", "192.0.2.20"), g, addrs("192.0.2.70"), "global", 25},
		{"asn beats continent", query("198.51.100.7", policy.FamilyV4), nil, g, addrs("192.0.2.50"), "as", 25},
		{"asn group has no AAAA: continent, then default", query("198.51.100.7", policy.FamilyV6), nil, g, addrs("2001:db8::70"), "global", 25},
		{"continent without asn", query("198.51.100.200", policy.FamilyV4), nil, g, addrs("192.0.2.30"), "ap", 25},
		{"cidr /24 close to the /28", query("203.0.113.30", policy.FamilyV4), nil, g, addrs("192.0.2.61"), "net24", 28},
		{"longest cidr", query("203.0.113.5", policy.FamilyV4), nil, g, addrs("192.0.2.60"), "net28", 28},
		{"shorter cidr, scope excludes the /28", query("203.0.113.100", policy.FamilyV4), nil, g, addrs("192.0.2.61"), "net24", 26},
		{"cidr down: geo", query("203.0.113.5", policy.FamilyV4), down("192.0.2.60", "192.0.2.61"), g, addrs("192.0.2.30"), "ap", 28},
		{"ecs", &policy.Query{Client: netip.MustParseAddr("192.0.2.0"), ECS: true, SourcePrefix: 24, Family: policy.FamilyV4}, nil, g, addrs("192.0.2.10"), "eu", 25},
		{"ecs source 0: untailored, scope 0", &policy.Query{Client: netip.MustParseAddr("0.0.0.0"), ECS: true, SourcePrefix: 0, Family: policy.FamilyV4}, nil, g, addrs("192.0.2.70"), "global", 0},
		{"no geoip data: default", query("2001:db8:2::1", policy.FamilyV6), nil, g, addrs("2001:db8::70"), "global", 47},
		// 192.0.2.1 and 203.0.113.0/24 share 4 bits: /5 keeps the CIDR rules out.
		{"no locator: default", query("192.0.2.1", policy.FamilyV4), nil, nil, addrs("192.0.2.70"), "global", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h policy.Health = policy.AllUp{}
			if tc.health != nil {
				h = tc.health
			}
			d := p.Select(tc.q, h, tc.loc, seeded(), nil)
			if !slices.Equal(d.Addrs, tc.want) || d.Group != tc.group || d.Scope != tc.scope || d.AllDown {
				t.Errorf("Select(%v) = %v group %q scope %d alldown %v, want %v group %q scope %d",
					tc.q.Client, d.Addrs, d.Group, d.Scope, d.AllDown, tc.want, tc.group, tc.scope)
			}
		})
	}
}

// TestSelectGeoFlat uses the flat country_code database alone: continent
// rules work through the country table.
func TestSelectGeoFlat(t *testing.T) {
	_, _, flat := geotest.Files(t, t.TempDir())
	g, err := geo.Open([]string{flat}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := geoConfig()
	cfg.Rules = append(cfg.Rules[:5], config.RuleConfig{Match: []string{"continent:AF"}, Group: "as"}) // no CIDR rules
	p := mustCompile(t, cfg, geoZone)
	for client, want := range map[string]string{"192.0.2.1": "eu", "203.0.113.200": "as", "198.51.100.1": "global"} {
		if d := p.Select(query(client, policy.FamilyV4), policy.AllUp{}, g, seeded(), nil); d.Group != want {
			t.Errorf("Select(%s).Group = %q, want %q", client, d.Group, want)
		}
	}
}

func TestSelectFailover(t *testing.T) {
	zone := addrs("192.0.2.1", "192.0.2.2", "198.51.100.1", "203.0.113.1", "2001:db8::3")
	p := mustCompile(t, config.NameConfig{
		Select: "failover",
		Groups: map[string]config.GroupConfig{
			"primary": {Addresses: []string{"192.0.2.1", "192.0.2.2"}},
			"backup":  {Addresses: []string{"198.51.100.1"}},
			"last":    {Addresses: []string{"203.0.113.1", "2001:db8::3"}},
		},
		Order: []string{"primary", "backup", "last"},
	}, zone)
	tests := []struct {
		name   string
		health downSet
		fam    policy.Family
		group  string
		n      int
	}{
		{"all up", down(), policy.FamilyV4, "primary", 2},
		{"one primary down", down("192.0.2.1"), policy.FamilyV4, "primary", 1},
		{"primary down", down("192.0.2.1", "192.0.2.2"), policy.FamilyV4, "backup", 1},
		{"primary and backup down", down("192.0.2.1", "192.0.2.2", "198.51.100.1"), policy.FamilyV4, "last", 1},
		{"AAAA only in last", down(), policy.FamilyV6, "last", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Select(query("198.51.100.99", tc.fam), tc.health, nil, seeded(), nil)
			if d.Group != tc.group || len(d.Addrs) != tc.n || d.Scope != 0 {
				t.Errorf("Select = %v group %q scope %d, want %d addresses of %q, scope 0", d.Addrs, d.Group, d.Scope, tc.n, tc.group)
			}
		})
	}
	d := p.Select(query("198.51.100.99", policy.FamilyV4), down("192.0.2.1", "192.0.2.2", "198.51.100.1", "203.0.113.1"), nil, seeded(), nil)
	if !d.AllDown || d.Action != policy.ServeAll || len(d.Addrs) != 4 {
		t.Errorf("Select(all down) = %+v, want AllDown, policy.ServeAll with the 4 IPv4 addresses", d)
	}
}

func nearestPolicy(t testing.TB) *policy.Policy {
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "2001:db8::1")
	return mustCompile(t, config.NameConfig{
		Select: "nearest",
		Groups: map[string]config.GroupConfig{
			"fra": {Addresses: []string{"192.0.2.1", "2001:db8::1"}, Location: []float64{50.11, 8.68}},
			"sfo": {Addresses: []string{"192.0.2.2"}, Location: []float64{37.77, -122.42}},
			"syd": {Addresses: []string{"192.0.2.3"}, Location: []float64{-33.87, 151.21}},
			"nyc": {Addresses: []string{"192.0.2.4"}, Location: []float64{40.71, -74.01}},
		},
		Default: "nyc",
	}, zone)
}

func TestSelectNearest(t *testing.T) {
	g := testGeoDB(t)
	p := nearestPolicy(t)
	tests := []struct {
		name, client string
		health       downSet
		group        string
		scope        int
	}{
		{"frankfurt", "192.0.2.1", nil, "fra", 25},
		{"san francisco", "192.0.2.200", nil, "sfo", 25},
		// The city network is /24; the ASN file's /25 is not read: nearest
		// needs coordinates only.
		{"tokyo", "198.51.100.7", nil, "syd", 24},
		{"tokyo, sydney down", "198.51.100.7", down("192.0.2.3"), "sfo", 24},
		{"paris", "2001:db8::1", nil, "fra", 48},
		{"paris, frankfurt down", "2001:db8::1", down("192.0.2.1"), "nyc", 48},
		{"sao paulo", "2001:db8:1::1", nil, "nyc", 48},
		{"no coordinates: default", "203.0.113.100", nil, "nyc", 26},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h policy.Health = policy.AllUp{}
			if tc.health != nil {
				h = tc.health
			}
			d := p.Select(query(tc.client, policy.FamilyV4), h, g, seeded(), nil)
			if d.Group != tc.group || d.Scope != tc.scope {
				t.Errorf("Select(%s) = %v group %q scope %d, want group %q scope %d", tc.client, d.Addrs, d.Group, d.Scope, tc.group, tc.scope)
			}
		})
	}
	if got, want := p.NearestOrder(35.68, 139.69), []string{"syd", "sfo", "fra", "nyc"}; !slices.Equal(got, want) {
		t.Errorf("NearestOrder(Tokyo) = %v, want %v", got, want)
	}
}

func TestAllDownActions(t *testing.T) {
	zone := addrs("192.0.2.1", "192.0.2.2", "198.51.100.1")
	allDown := down("192.0.2.1", "192.0.2.2", "198.51.100.1")
	tests := []struct {
		when   string
		action policy.AllDownAction
		want   []netip.Addr
	}{
		{"", policy.ServeAll, zone},
		{"serve-all", policy.ServeAll, zone},
		{"servfail", policy.Servfail, nil},
		{"nodata", policy.Nodata, nil},
		{"group:backup", policy.ServeGroup, addrs("198.51.100.1")},
	}
	for _, tc := range tests {
		t.Run(tc.when, func(t *testing.T) {
			p := mustCompile(t, config.NameConfig{
				WhenAllDown: tc.when,
				Groups:      map[string]config.GroupConfig{"backup": {Addresses: []string{"198.51.100.1"}}},
			}, zone)
			d := p.Select(query("192.0.2.99", policy.FamilyV4), allDown, nil, seeded(), nil)
			if !d.AllDown || d.Action != tc.action || !slices.Equal(d.Addrs, tc.want) {
				t.Errorf("Select = %+v, want AllDown action %d addrs %v", d, tc.action, tc.want)
			}
			if a, _ := p.WhenAllDown(); a != tc.action {
				t.Errorf("WhenAllDown() = %d, want %d", a, tc.action)
			}
		})
	}
}

func TestNoAddressOfFamily(t *testing.T) {
	p := mustCompile(t, config.NameConfig{}, addrs("192.0.2.1"))
	d := p.Select(query("192.0.2.99", policy.FamilyV6), policy.AllUp{}, nil, seeded(), nil)
	if d.AllDown || len(d.Addrs) != 0 {
		t.Errorf("Select(AAAA) = %+v, want no addresses and not AllDown", d)
	}
}

func TestMaxAnswersAndTTL(t *testing.T) {
	p := mustCompile(t, config.NameConfig{MaxAnswers: 2, TTL: ttl(30)}, addrs("192.0.2.1", "192.0.2.2", "192.0.2.3"))
	d := p.Select(query("192.0.2.99", policy.FamilyV4), policy.AllUp{}, nil, seeded(), nil)
	if len(d.Addrs) != 2 || !d.HasTTL || d.TTL != 30 {
		t.Errorf("Select = %+v, want 2 addresses and TTL 30", d)
	}
	p = mustCompile(t, config.NameConfig{}, addrs("192.0.2.1"))
	if d := p.Select(query("192.0.2.99", policy.FamilyV4), policy.AllUp{}, nil, seeded(), nil); d.HasTTL {
		t.Errorf("Select without ttl = %+v, want no TTL override", d)
	}
}

func TestCompilePolicyErrors(t *testing.T) {
	zone := addrs("192.0.2.1", "192.0.2.2", "2001:db8::1")
	key := `name."www.example.org".`
	tests := []struct {
		name string
		cfg  config.NameConfig
		want []string
	}{
		{"weight of unknown address", config.NameConfig{Pick: "weighted", Weights: map[string]int{"192.0.2.9": 3}},
			[]string{key + `weights."192.0.2.9": address 192.0.2.9 is not an A/AAAA record of www.example.org. (did you mean 192.0.2.1?)`}},
		{"weight out of range", config.NameConfig{Weights: map[string]int{"192.0.2.1": 0, "192.0.2.2": 1001}},
			[]string{key + `weights."192.0.2.1": weight 0 out of range 1..1000`, key + `weights."192.0.2.2": weight 1001 out of range 1..1000`}},
		{"bad select and pick", config.NameConfig{Select: "closest", Pick: "hash"},
			[]string{key + `pick: "hash" is not one of round-robin, random, weighted, sticky, least-loaded, fastest`,
				key + `select: "closest" is not one of none, geo, nearest, failover`}},
		{"group address not in zone", config.NameConfig{Groups: map[string]config.GroupConfig{"eu": {Addresses: []string{"198.51.100.1", "bogus"}}}},
			[]string{key + `groups.eu.addresses[0]: address 198.51.100.1 is not an A/AAAA record of www.example.org.`,
				key + `groups.eu.addresses[1]: "bogus" is not an IP address`}},
		{"bad location", config.NameConfig{Select: "nearest", Groups: map[string]config.GroupConfig{
			"a": {Addresses: []string{"192.0.2.1"}, Location: []float64{91, 0}},
			"b": {Addresses: []string{"192.0.2.2"}, Location: []float64{0, 200}},
			"c": {Addresses: []string{"2001:db8::1"}}}},
			[]string{key + `groups.a.location: latitude 91 out of range -90..90`,
				key + `groups.a.location: select = "nearest" needs a location for every group`,
				key + `groups.b.location: longitude 200 out of range -180..180`,
				key + `groups.b.location: select = "nearest" needs a location for every group`,
				key + `groups.c.location: select = "nearest" needs a location for every group`}},
		{"bad rules", config.NameConfig{Select: "geo", Groups: map[string]config.GroupConfig{"eu": {Addresses: []string{"192.0.2.1"}}},
			Rules: []config.RuleConfig{
				{Match: []string{"country:XX", "continent:EA", "subdivision:CALIFORNIA", "asn:ASX", "cidr:198.51.100.1/24", "cidr:300.1.2.0/24", "city:Berlin", "DE"}, Group: "eu"},
				{Match: []string{"country:de"}, Group: "us"},
				{Match: []string{"country:DE"}, Group: "eu"},
			}},
			[]string{
				key + `rules[0].match[0]: "XX" is not an ISO 3166-1 alpha-2 country code`,
				key + `rules[0].match[1]: "EA" is not a continent code, want one of AF AN AS EU NA OC SA`,
				key + `rules[0].match[2]: "CALIFORNIA" is not an ISO 3166-2 subdivision code like US-CA or DE-HE`,
				key + `rules[0].match[3]: "ASX" is not an AS number like 64500 or AS64500`,
				key + `rules[0].match[4]: "198.51.100.1/24" has host bits set, want 198.51.100.0/24`,
				key + `rules[0].match[5]: "300.1.2.0/24" is not a CIDR prefix`,
				key + `rules[0].match[6]: "city:Berlin": unknown kind "city", want country, continent, subdivision, asn or cidr`,
				key + `rules[0].match[7]: "DE": want kind:value with kind country, continent, subdivision, asn or cidr`,
				key + `rules[1].group: unknown group "us"`,
				key + `rules[2].match[0]: "country:DE" is already matched by name."www.example.org".rules[1].match[0]`,
			}},
		{"failover without order", config.NameConfig{Select: "failover", Groups: map[string]config.GroupConfig{"a": {Addresses: []string{"192.0.2.1"}}}},
			[]string{key + `order: select = "failover" needs the chain of groups, e.g. order = ["primary", "backup"]`}},
		{"unknown groups", config.NameConfig{Select: "failover", Order: []string{"a", "b"}, Default: "c", WhenAllDown: "group:d",
			Groups: map[string]config.GroupConfig{"a": {Addresses: []string{"192.0.2.1"}}}},
			[]string{key + `default: unknown group "c"`, key + `order[1]: unknown group "b"`, key + `when_all_down: unknown group "d"`}},
		{"misc", config.NameConfig{MaxAnswers: -1, TTL: ttl(1 << 31), WhenAllDown: "refuse", Rules: []config.RuleConfig{{Match: []string{"country:DE"}}},
			Groups: map[string]config.GroupConfig{"empty": {Weight: 5000}}},
			[]string{
				key + `groups.empty.addresses: group has no addresses`,
				key + `groups.empty.weight: weight 5000 out of range 1..1000`,
				key + `max_answers: -1 is negative, want 0 (all) or more`,
				key + `rules: rules are only used with select = "geo"`,
				key + `ttl: 2147483648 out of range 0..2147483647`,
				key + `when_all_down: "refuse" is not one of serve-all, servfail, nodata, group:<name>`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, errs := policy.CompilePolicy("www.example.org.", tc.cfg, zone)
			var got []string
			for _, err := range errs {
				got = append(got, err.Error())
			}
			if p != nil || !slices.Equal(got, tc.want) {
				t.Errorf("CompilePolicy errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSelectAllocs(t *testing.T) {
	g := testGeoDB(t)
	geo := mustCompile(t, geoConfig(), geoZone)
	near := nearestPolicy(t)
	zone := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4")
	policies := map[string]*policy.Policy{
		"geo":      geo,
		"nearest":  near,
		"weighted": mustCompile(t, config.NameConfig{Pick: "weighted", MaxAnswers: 2}, zone),
		"sticky":   mustCompile(t, config.NameConfig{Pick: "sticky", MaxAnswers: 2}, zone),
		"random":   mustCompile(t, config.NameConfig{Pick: "random"}, zone),
		"rr":       mustCompile(t, config.NameConfig{}, zone),
	}
	r := seeded()
	out := make([]netip.Addr, 0, 16)
	q := query("192.0.2.200", policy.FamilyV4)
	h := down("192.0.2.40")
	for name, p := range policies {
		if n := testing.AllocsPerRun(100, func() { p.Select(q, h, g, r, out) }); n != 0 {
			t.Errorf("Select(%s) allocates %v times per call, want 0", name, n)
		}
	}
}

func BenchmarkSelectGeo(b *testing.B) {
	g := testGeoDB(b)
	p := mustCompile(b, geoConfig(), geoZone)
	r := seeded()
	out := make([]netip.Addr, 0, p.NumAddrs())
	qs := []*policy.Query{query("192.0.2.1", policy.FamilyV4), query("192.0.2.200", policy.FamilyV4), query("198.51.100.7", policy.FamilyV4), query("203.0.113.5", policy.FamilyV4)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Select(qs[i%len(qs)], policy.AllUp{}, g, r, out)
		i++
	}
}

func BenchmarkSelectNearest(b *testing.B) {
	g := testGeoDB(b)
	p := nearestPolicy(b)
	r := seeded()
	out := make([]netip.Addr, 0, p.NumAddrs())
	qs := []*policy.Query{query("192.0.2.1", policy.FamilyV4), query("192.0.2.200", policy.FamilyV4), query("198.51.100.7", policy.FamilyV4), query("2001:db8::1", policy.FamilyV4)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Select(qs[i%len(qs)], policy.AllUp{}, g, r, out)
		i++
	}
}

// testGeoDB opens the test databases of package geotest: city, ASN, flat.
func testGeoDB(t testing.TB) *geo.DB {
	t.Helper()
	city, asn, flat := geotest.Files(t, t.TempDir())
	g, err := geo.Open([]string{city, asn, flat}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestSelectGeoChoices checks that geo selection with a memo of choices
// (Query.Choices, as the memo's hits run it) gives what selection without
// it gives: the same group, addresses, scope and all-down state, and the
// same GeoIP lookups counted, for each single database (the test
// fixtures and the shipped country database, where Record has an answer),
// clients of both families at random and at the fixtures' networks, every
// family asked, with everything up and with groups down (a choice falls
// through to the next rule), the memo filled first and then hit.
func TestSelectGeoChoices(t *testing.T) {
	city, asn, flat := geotest.Files(t, t.TempDir())
	cfg := geoConfig()
	cfg.Rules = cfg.Rules[:5] // no CIDR rules: those decide by address, not by record
	p := mustCompile(t, cfg, geoZone)
	r := rand.New(rand.NewPCG(5, 6))
	var clients []netip.Addr
	for _, s := range []string{"192.0.2.1", "192.0.2.200", "198.51.100.7", "198.51.100.200", "203.0.113.200", "2001:db8:2::1", "::ffff:192.0.2.1"} {
		clients = append(clients, netip.MustParseAddr(s))
	}
	for range 500 {
		clients = append(clients, netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), 0}))
		var a [16]byte
		a[0], a[1] = 0x20, byte(r.Uint32())
		a[2], a[3], a[4] = byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())
		clients = append(clients, netip.AddrFrom16(a))
	}
	healths := []policy.Health{policy.AllUp{}, down("192.0.2.40"), down("192.0.2.40", "192.0.2.20", "192.0.2.10"), down("192.0.2.50", "2001:db8::10")}
	recorded := 0
	for _, path := range []string{city, asn, flat, "../../geodata/geo-whois-asn-country.mmdb"} {
		db, err := geo.Open([]string{path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var plain, memo int
		setPlain := db.Current().Counted(func(bool) { plain++ })
		setMemo := db.Current().Counted(func(bool) { memo++ })
		for hi, h := range healths {
			var ch policy.Choices // a new generation's
			// Both families in turn for each client, then each family
			// for every client in a row: the choices of one record for
			// A and AAAA must not push each other out.
			for pass := range 4 {
				for _, c := range clients {
					if _, _, ok := db.Current().Record(c, policy.AllFields); ok {
						recorded++
					}
					fams := []policy.Family{policy.FamilyV4, policy.FamilyV6}
					if pass >= 2 {
						fams = fams[pass-2 : pass-1]
					}
					for _, fam := range fams {
						want := p.Select(&policy.Query{Client: c, Family: fam}, h, setPlain, seeded(), nil)
						got := p.Select(&policy.Query{Client: c, Family: fam, Choices: &ch}, h, setMemo, seeded(), nil)
						if !slices.Equal(got.Addrs, want.Addrs) || got.Group != want.Group || got.Scope != want.Scope || got.AllDown != want.AllDown {
							t.Fatalf("%s, health %d, pass %d, %v family %d: with choices %v group %q scope %d alldown %v, without %v group %q scope %d alldown %v",
								path, hi, pass, c, fam, got.Addrs, got.Group, got.Scope, got.AllDown, want.Addrs, want.Group, want.Scope, want.AllDown)
						}
					}
				}
			}
		}
		if memo != plain {
			t.Errorf("%s: %d lookups counted with choices, %d without", path, memo, plain)
		}
	}
	if recorded == 0 {
		t.Fatal("Record never had an answer: the choices were not used")
	}
}
