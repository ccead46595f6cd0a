package sign

import (
	"fmt"
	"maps"
	"slices"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/dnssec"
	"github.com/dnslb/dnslb/zones"
)

// Signers are the zones signed online, by origin (nil or empty: none; the
// sign stage then answers at once and the memo keeps every reply).
type Signers map[string]*dnssec.Signer

// Files are the key files the signers were read from, for the reload
// watcher: a new or changed key is reloaded too.
func (ss Signers) Files() []string {
	var files []string
	for _, origin := range slices.Sorted(maps.Keys(ss)) {
		sg := ss[origin]
		for _, k := range slices.Concat(sg.KSKs, sg.ZSKs) {
			files = append(files, k.Base+".key", k.Base+".private")
		}
	}
	return files
}

// Load reads the keys [dnssec] names for the zones served: every problem
// is an error, at the config line that named the keys and with the key
// file's own path:line.
func Load(cfg *config.Config, zs []*zones.Zone) (Signers, []string) {
	d := cfg.DNSSEC
	if !d.On() {
		return nil, nil
	}
	var errs []string
	keys := map[string][]*dnssec.Key{}
	served := map[string]*zones.Zone{}
	for _, z := range zs {
		served[z.Origin] = z
	}
	named := map[string]bool{}
	for i, zc := range d.Zones {
		if zc.Name == "" {
			continue // said by config
		}
		origin := dns.CanonicalName(zc.Name)
		named[origin] = true
		at := cfg.AtPath(fmt.Sprintf("dnssec.zone[%d].name", i))
		if served[origin] == nil {
			errs = append(errs, fmt.Sprintf("%s: dnssec.zone %q: no zone %s is served%s", at, zc.Name, origin, config.Suggest(origin, slices.Sorted(maps.Keys(served)))))
			continue
		}
		if zc.KeyDir != "" {
			ks, kerrs := dnssec.ReadDir(zc.KeyDir, origin)
			for _, e := range kerrs {
				errs = append(errs, fmt.Sprintf("%s: dnssec.zone %q key_dir: %v", cfg.AtPath(fmt.Sprintf("dnssec.zone[%d].key_dir", i)), zc.Name, e))
			}
			if len(ks) == 0 && len(kerrs) == 0 {
				errs = append(errs, fmt.Sprintf("%s: dnssec.zone %q key_dir: %s holds no key files K%s+*.key", cfg.AtPath(fmt.Sprintf("dnssec.zone[%d].key_dir", i)), zc.Name, zc.KeyDir, origin))
			}
			keys[origin] = append(keys[origin], ks...)
		}
		for _, f := range zc.Keys {
			k, err := dnssec.Read(f, origin)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: dnssec.zone %q keys: %v", cfg.AtPath(fmt.Sprintf("dnssec.zone[%d].keys", i)), zc.Name, err))
				continue
			}
			keys[origin] = append(keys[origin], k)
		}
	}
	if d.KeyDir != "" {
		for _, z := range zs {
			if named[z.Origin] {
				continue
			}
			ks, kerrs := dnssec.ReadDir(d.KeyDir, z.Origin)
			for _, e := range kerrs {
				errs = append(errs, fmt.Sprintf("%s: dnssec.key_dir: %v", cfg.AtPath("dnssec.key_dir"), e))
			}
			if len(ks) > 0 {
				keys[z.Origin] = ks
			}
		}
	}
	out := Signers{}
	for origin, ks := range keys {
		if len(ks) == 0 {
			continue
		}
		s, err := dnssec.NewSigner(origin, ks, served[origin].SOA.Hdr.Ttl)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: dnssec: zone %s: %v", cfg.AtPath("dnssec"), origin, err))
			continue
		}
		out[origin] = s
	}
	return out, errs
}
