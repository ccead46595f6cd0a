package config

import (
	"encoding/base64"
	"net/netip"
	"strconv"
)

// ClusterConfig is the [cluster] table: this server is one node of a fleet
// that splits the probes and shares the verdicts by gossip (dnslb/cluster).
type ClusterConfig struct {
	// Name is this node's name in the fleet, unique in it (default: the
	// host name).
	Name string `toml:"name"`
	// Bind is the address gossip listens on, TCP and UDP (default
	// 127.0.0.1); Port its port (default 7946).
	Bind string `toml:"bind"`
	Port int    `toml:"port"`
	// Seeds are other nodes to join, "address:port".
	Seeds []string `toml:"seeds"`
	// KeyFile holds the gossip encryption key, base64 of 16, 24 or 32
	// bytes (memberlist's AES-GCM keyring), read as TSIG secrets are (not
	// o+r or o+w); required when Bind is not loopback.
	KeyFile string `toml:"key_file"`
	// Probers is how many nodes probe each target (default 3, capped at
	// the live members).
	Probers int `toml:"probers"`
	// Quorum is how many of a target's probers must say up: "majority"
	// (default), "any", "all" or a number.
	Quorum string `toml:"quorum"`

	key []byte // KeyFile's key, read by check
}

// DefaultClusterPort is [cluster] port's default.
const DefaultClusterPort = 7946

func (c ClusterConfig) defaults() ClusterConfig {
	if c.Bind == "" {
		c.Bind = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = DefaultClusterPort
	}
	if c.Probers == 0 {
		c.Probers = 3
	}
	if c.Quorum == "" {
		c.Quorum = "majority"
	}
	return c
}

// KeyBytes is the gossip key check read from KeyFile; nil when none is set.
func (c ClusterConfig) KeyBytes() []byte { return c.key }

// QuorumOf is how many of n probers must say up for a target to be up,
// by Quorum (checked at load): at least 1 and at most n.
func (c ClusterConfig) QuorumOf(n int) int {
	q := n/2 + 1
	switch c.Quorum {
	case "any":
		q = 1
	case "all":
		q = n
	case "majority":
	default:
		if v, err := strconv.Atoi(c.Quorum); err == nil {
			q = v
		}
	}
	return max(1, min(q, n))
}

func (c *Config) checkCluster(bad func([]string, string, ...any)) {
	cl := c.Cluster
	if cl == nil {
		return
	}
	key := func(k string) []string { return []string{"cluster", k} }
	bind, err := netip.ParseAddr(cl.Bind)
	if err != nil {
		bad(key("bind"), "%q is not an IP address", cl.Bind)
	}
	if cl.Port < 1 || cl.Port > 65535 {
		bad(key("port"), "%d out of range 1..65535", cl.Port)
	}
	for i, s := range cl.Seeds {
		if _, err := netip.ParseAddrPort(s); err != nil {
			bad(key("seeds"), "%q (entry %d) is not an address:port like \"127.0.0.2:7946\"", s, i+1)
		}
	}
	if cl.KeyFile != "" {
		cl.KeyFile = c.Rel(cl.KeyFile)
		s, err := readSecret(cl.KeyFile)
		b, _ := base64.StdEncoding.DecodeString(s)
		switch {
		case err != nil:
			bad(key("key_file"), "%v", err)
		case len(b) != 16 && len(b) != 24 && len(b) != 32:
			bad(key("key_file"), "%s holds %d bytes, want 16, 24 or 32 (make one with: head -c 32 /dev/urandom | base64)", cl.KeyFile, len(b))
		default:
			cl.key = b
		}
	} else if err == nil && !bind.IsLoopback() {
		bad(key("bind"), "%s is not a loopback address: set cluster.key_file, a file with the gossip encryption key (head -c 32 /dev/urandom | base64)", cl.Bind)
	}
	if cl.Probers < 1 || cl.Probers > 64 {
		bad(key("probers"), "%d out of range 1..64", cl.Probers)
	}
	switch cl.Quorum {
	case "majority", "any", "all":
	default:
		if n, err := strconv.Atoi(cl.Quorum); err != nil || n < 1 || n > cl.Probers {
			bad(key("quorum"), "%q is not \"majority\", \"any\", \"all\" or a number 1..probers (%d)", cl.Quorum, cl.Probers)
		}
	}
}
