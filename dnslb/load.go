package dnslb

import (
	"errors"
	"fmt"

	"github.com/dnslb/dnslb/zones"
)

// LoadZones reads every zone the config names. It reads them all even
// after a failure, and returns every error of every file.
func LoadZones(cfg *Config) ([]*zones.Zone, error) {
	list, err := cfg.ZoneFiles()
	if err != nil {
		return nil, err
	}
	var out []*zones.Zone
	var errs []error
	seen := make(map[string]string)
	for _, zc := range list {
		z, err := zones.Load(zc.Name, zc.File)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := seen[z.Origin]; dup {
			errs = append(errs, fmt.Errorf("%s: zone %s is already loaded from %s", zc.File, z.Origin, prev))
			continue
		}
		seen[z.Origin] = zc.File
		out = append(out, z)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
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
