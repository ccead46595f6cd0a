package config

import "slices"

// NameConfig is the answer policy of one owner name, the table
// [name."www.example.org"] of the config file. The addresses themselves come
// from the A/AAAA RRsets of that owner name in its zone; the config only
// refers to them. The zero value serves every healthy address, round-robin.
type NameConfig struct {
	// Select chooses a group: "none" (default: all addresses), "geo",
	// "nearest" or "failover".
	Select string `toml:"select"`
	// Pick orders the chosen group: "round-robin" (default), "random",
	// "weighted", "sticky", "least-loaded" or "fastest".
	Pick string `toml:"pick"`
	// LowWatermark and HighWatermark are on the smoothed share of
	// capacity a load check reports: below low an address has its full
	// weight, between them less in proportion, at or above high it is shed
	// until it is below high minus WatermarkMargin (default 0.05).
	LowWatermark    *float64 `toml:"low_watermark"`
	HighWatermark   *float64 `toml:"high_watermark"`
	WatermarkMargin *float64 `toml:"watermark_margin"`
	// Tolerance is the band of pick = "fastest": addresses whose probe
	// round-trip time is within it of the fastest share the answers
	// (default 0.2, 20%).
	Tolerance *float64 `toml:"tolerance"`
	// MaxAnswers trims the answer to N addresses; 0 (default) keeps all.
	MaxAnswers int `toml:"max_answers"`
	// TTL overrides the TTL of the dynamic answer; nil keeps the zone's.
	TTL *uint32 `toml:"ttl"`
	// Check and Checks name health checks ([healthcheck.<name>] tables)
	// that probe every address of the name.
	Check  string   `toml:"check"`
	Checks []string `toml:"checks"`
	// DegradedTTL, if set, is the TTL of answers while some address of
	// the name is down or drained, so that resolvers come back sooner.
	DegradedTTL *uint32 `toml:"degraded_ttl"`
	// WhenAllDown says what to answer when no address is up:
	// "serve-all" (default), "servfail", "nodata" or "group:<name>".
	WhenAllDown string `toml:"when_all_down"`
	// Groups are named sets of addresses (data centres).
	Groups map[string]GroupConfig `toml:"groups"`
	// Weights are per-address weights for pick = "weighted", 1..1000.
	Weights map[string]int `toml:"weights"`
	// Rules map clients to groups for select = "geo".
	Rules []RuleConfig `toml:"rules"`
	// Default is the group for clients no rule matches (geo), or with no
	// known location (nearest). Without it they get every address.
	Default string `toml:"default"`
	// Order is the failover chain (failover, required), and the order in
	// which nearest tries groups for clients with no known location.
	Order []string `toml:"order"`
}

// GroupConfig is one group of addresses, [name."…".groups.<name>].
type GroupConfig struct {
	Addresses []string `toml:"addresses"`
	// Weight is the default weight of each address of the group that has
	// no entry in NameConfig.Weights, 1..1000 (default 1).
	Weight int `toml:"weight"`
	// Location is [latitude, longitude] in degrees, for select = "nearest".
	Location []float64 `toml:"location"`
}

// RuleConfig maps clients to a group, for select = "geo". A client matches
// the rule when it matches any of its Match terms: "country:DE",
// "continent:EU", "subdivision:US-CA", "asn:64500" (or "asn:AS64500"),
// "cidr:198.51.100.0/24". Rule order doesn't matter: the most specific
// matching term wins (longest CIDR, then ASN, subdivision, country,
// continent).
type RuleConfig struct {
	Match []string `toml:"match"`
	Group string   `toml:"group"`
}

// GeoIPConfig is the [geoip] table of the config file.
type GeoIPConfig struct {
	// Files are MaxMind DB files (relative paths are relative to the config
	// file), in priority order: the first file with a value for a field
	// wins. Empty means the built-in country database (package geodata).
	Files []string `toml:"files"`
	// Poll is how often the files are checked for changes (default 5s).
	Poll Duration `toml:"poll"`
}

// CheckNames lists the checks a name uses: check and checks together.
func (nc NameConfig) CheckNames() []string {
	out := slices.Clone(nc.Checks)
	if nc.Check != "" && !slices.Contains(out, nc.Check) {
		out = append([]string{nc.Check}, out...)
	}
	return out
}

// LocatesClients tells whether some name selects by the client's location
// (select = "geo" or "nearest").
func (c *Config) LocatesClients() bool {
	for _, nc := range c.Names {
		if nc.Select == "geo" || nc.Select == "nearest" {
			return true
		}
	}
	return false
}

// NeedsGeo tells whether the GeoIP data must be opened: files are named,
// or some name locates clients (with the built-in database then).
func (c *Config) NeedsGeo() bool { return len(c.GeoIP.Files) > 0 || c.LocatesClients() }
