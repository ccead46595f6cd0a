package dnslb

import (
	"slices"
	"strings"

	"github.com/dnslb/dnslb/zones"
)

// LoadZones reads every zone the config names. It reads them all even
// after a failure, and returns every error of every file.
func LoadZones(cfg *Config) ([]*zones.Zone, error) {
	loaded, _, err := loadZones(cfg, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*zones.Zone, 0, len(loaded))
	for _, lz := range loaded {
		out = append(out, lz.zone)
	}
	slices.SortFunc(out, func(a, b *zones.Zone) int { return strings.Compare(a.Origin, b.Origin) })
	return out, nil
}

// Check loads the config file and every zone through the same code as
// serve and reload, and returns every error found.
func Check(path string) (*Config, []*zones.Zone, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	zs, err := LoadZones(&cfg)
	if err != nil {
		return &cfg, nil, err
	}
	return &cfg, zs, nil
}
