package config

import (
	"fmt"
	"strings"
)

// DNSSECConfig is the [dnssec] table: online signing (dnslb/dnssec). Off
// unless it names keys: a zone without keys is served unsigned, exactly
// as without the table.
type DNSSECConfig struct {
	// KeyDir is a folder of BIND-format key files (K<zone>+<alg>+<tag>.key
	// and .private): every zone served with files there is signed with
	// them; the others are not.
	KeyDir string `toml:"key_dir"`
	// Zones names the keys of single zones, [[dnssec.zone]]: a folder or
	// the key files, over KeyDir.
	Zones []DNSSECZone `toml:"zone"`
}

// DNSSECZone is one [[dnssec.zone]] table: the keys of zone Name, from
// KeyDir (every K<name>+*.key file in it) or Keys (the files, with or
// without .key): a CSK, or KSKs (SEP flag) and ZSKs.
type DNSSECZone struct {
	Name   string   `toml:"name"`
	KeyDir string   `toml:"key_dir"`
	Keys   []string `toml:"keys"`
}

// On reports whether the table names any keys.
func (d DNSSECConfig) On() bool { return d.KeyDir != "" || len(d.Zones) > 0 }

// checkDNSSEC lists what is wrong in [dnssec] that the file alone shows;
// the keys themselves are read by the server (dnslb/load.go), which
// reports them at these keys' lines.
func (c *Config) checkDNSSEC(path string, data []byte) []string {
	var errs []string
	c.DNSSEC.KeyDir = c.Rel(c.DNSSEC.KeyDir)
	seen := map[string]int{}
	for i := range c.DNSSEC.Zones {
		z := &c.DNSSEC.Zones[i]
		at := fmt.Sprintf("dnssec.zone[%d]", i)
		if c.undecoded[at+".name"] || c.undecoded[at+".key_dir"] || c.undecoded[at+".keys"] {
			continue
		}
		switch {
		case z.Name == "":
			errs = append(errs, fmt.Sprintf("%s: dnssec.zone %d: needs a name", atPath(path, data, at), i+1))
		case (z.KeyDir == "") == (len(z.Keys) == 0):
			errs = append(errs, fmt.Sprintf("%s: dnssec.zone %q: needs key_dir or keys (one of them)", atPath(path, data, at), z.Name))
		}
		n := strings.ToLower(strings.TrimSuffix(z.Name, ".")) + "."
		if j, dup := seen[n]; dup && z.Name != "" {
			errs = append(errs, fmt.Sprintf("%s: dnssec.zone %q: named already by dnssec.zone %d", atPath(path, data, at+".name"), z.Name, j+1))
		}
		seen[n] = i
		z.KeyDir = c.Rel(z.KeyDir)
		for j, k := range z.Keys {
			z.Keys[j] = c.Rel(k)
		}
	}
	return errs
}
