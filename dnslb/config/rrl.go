package config

import (
	"time"
)

// RRLConfig is the [rrl] table: response rate limiting, with BIND's
// rate-limit semantics (dnslb/rrl). Off unless a rate is set.
type RRLConfig struct {
	// ResponsesPerSecond is the rate of each account (client prefix,
	// response class, name) in responses a second; 0: off (default).
	ResponsesPerSecond int `toml:"responses_per_second"`
	// The rates of the other classes: 0 (unset) takes
	// ResponsesPerSecond, -1 leaves that class unlimited.
	NodataPerSecond    int `toml:"nodata_per_second"`
	NxdomainsPerSecond int `toml:"nxdomains_per_second"`
	ReferralsPerSecond int `toml:"referrals_per_second"`
	ErrorsPerSecond    int `toml:"errors_per_second"`
	// Window is how long an account that flooded stays limited, in whole
	// seconds (default 15s, 1s..1h): its balance cannot go below
	// -window x rate.
	Window Duration `toml:"window"`
	// Slip: the first and then every Slip-th dropped response is sent as
	// a minimal TC=1 reply (default 2; 0 drops all, 1 slips all; 0..10).
	Slip *int `toml:"slip"`
	// The prefix lengths clients are counted by (defaults 24 and 56).
	IPv4PrefixLength int `toml:"ipv4_prefix_length"`
	IPv6PrefixLength int `toml:"ipv6_prefix_length"`
	// MaxTableSize bounds the accounts held (default 100000).
	MaxTableSize int `toml:"max_table_size"`
	// LogOnly counts what would be dropped (metrics) and drops nothing.
	LogOnly bool `toml:"log_only"`
}

// DefaultRRLSlip is [rrl] slip's default.
const DefaultRRLSlip = 2

// On reports whether any class is limited.
func (r RRLConfig) On() bool {
	return r.ResponsesPerSecond > 0 || r.NodataPerSecond > 0 || r.NxdomainsPerSecond > 0 ||
		r.ReferralsPerSecond > 0 || r.ErrorsPerSecond > 0
}

// ClassRate is the rate of a class whose own key is own: own if set,
// else ResponsesPerSecond; 0 means not limited.
func (r RRLConfig) ClassRate(own int) int {
	switch {
	case own < 0:
		return 0
	case own > 0:
		return own
	}
	return r.ResponsesPerSecond
}

func (r RRLConfig) defaults() RRLConfig {
	if r.Window.Duration == 0 {
		r.Window.Duration = 15 * time.Second
	}
	if r.Slip == nil {
		s := DefaultRRLSlip
		r.Slip = &s
	}
	if r.IPv4PrefixLength == 0 {
		r.IPv4PrefixLength = 24
	}
	if r.IPv6PrefixLength == 0 {
		r.IPv6PrefixLength = 56
	}
	if r.MaxTableSize == 0 {
		r.MaxTableSize = 100_000
	}
	return r
}

// checkRRL lists what is wrong in [rrl].
func (c *Config) checkRRL(bad func(key []string, format string, args ...any)) {
	r := c.RRL
	const maxRate = 1_000_000
	if v := r.ResponsesPerSecond; v < 0 || v > maxRate {
		bad([]string{"rrl", "responses_per_second"}, "%d out of range 0..%d (0: off)", v, maxRate)
	}
	for _, k := range []struct {
		key string
		v   int
	}{
		{"nodata_per_second", r.NodataPerSecond}, {"nxdomains_per_second", r.NxdomainsPerSecond},
		{"referrals_per_second", r.ReferralsPerSecond}, {"errors_per_second", r.ErrorsPerSecond},
	} {
		if k.v < -1 || k.v > maxRate {
			bad([]string{"rrl", k.key}, "%d out of range -1..%d (0: as responses_per_second, -1: not limited)", k.v, maxRate)
		}
	}
	if w := r.Window.Duration; w < time.Second || w > time.Hour || w%time.Second != 0 {
		bad([]string{"rrl", "window"}, "%q must be whole seconds from 1s to 1h", w)
	}
	if s := *r.Slip; s < 0 || s > 10 {
		bad([]string{"rrl", "slip"}, "%d out of range 0..10", s)
	}
	if p := r.IPv4PrefixLength; p < 1 || p > 32 {
		bad([]string{"rrl", "ipv4_prefix_length"}, "%d out of range 1..32", p)
	}
	if p := r.IPv6PrefixLength; p < 1 || p > 128 {
		bad([]string{"rrl", "ipv6_prefix_length"}, "%d out of range 1..128", p)
	}
	if n := r.MaxTableSize; n < 1 || n > 10_000_000 {
		bad([]string{"rrl", "max_table_size"}, "%d out of range 1..10000000", n)
	}
}

// Defaulted returns r with its unset keys at their defaults.
func (r RRLConfig) Defaulted() RRLConfig { return r.defaults() }
