package zonefile

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/zones"
)

// Loaded is a zone with the digest of the files it was read from, so a
// reload can tell whether it needs parsing again.
type Loaded struct {
	Zone   *zones.Zone
	Digest [32]byte
	At     time.Time // when it was read
}

// Load loads every zone of cfg, reusing from prev those whose files are
// unchanged. It returns every error of every zone, the files read (the
// watcher's list) and failed, which names the deepest zone that failed to
// load above an owner ("" when none did).
func Load(cfg *config.Config, prev map[string]*Loaded) (out map[string]*Loaded, files []string, failed func(owner string) string, err error) {
	list, err := cfg.ZoneFiles()
	if err != nil {
		return nil, nil, func(string) string { return "." }, err
	}
	out = make(map[string]*Loaded, len(list))
	var bad []string // origins of the zones that did not load
	var errs []error
	for _, zc := range list {
		sum, read, derr := zoneDigest(zc.File)
		files = append(files, read...)
		origin := strings.ToLower(strings.TrimSuffix(zc.Name, ".") + ".")
		if p, ok := prev[origin]; ok && derr == nil && p.Digest == sum && p.Zone.File == zc.File {
			if _, dup := out[origin]; dup {
				errs = append(errs, fmt.Errorf("%s: zone %s is already loaded from %s", zc.File, origin, out[origin].Zone.File))
				continue
			}
			out[origin] = p
			continue
		}
		look, err := awaitSettled(zc.File, read) // settle.go: whole files only
		if err != nil {
			errs = append(errs, err)
			bad = append(bad, origin)
			continue
		}
		// A changed zone shares with the one it replaces the records
		// that did not change: a reload holds little more than one copy.
		var old *zones.Zone
		if p, ok := prev[origin]; ok {
			old = p.Zone
		}
		z, err := zones.LoadShared(zc.Name, zc.File, old)
		if err == nil {
			err = stillSettled(zc.File, read, look)
		}
		if err != nil {
			errs = append(errs, err)
			bad = append(bad, origin)
			continue
		}
		sum, _, _ = zoneDigest(zc.File) // of what was loaded: it may have changed since the first read
		if _, dup := out[z.Origin]; dup {
			errs = append(errs, fmt.Errorf("%s: zone %s is already loaded from %s", zc.File, z.Origin, out[z.Origin].Zone.File))
			continue
		}
		out[z.Origin] = &Loaded{Zone: z, Digest: sum, At: time.Now()}
	}
	failed = func(owner string) string {
		deepest := ""
		for _, o := range bad {
			if zones.IsSubdomain(owner, o) && len(o) > len(deepest) {
				deepest = o
			}
		}
		return deepest
	}
	return out, files, failed, errors.Join(errs...)
}

// Records is the number of records of the zones loaded.
func Records(loaded map[string]*Loaded) int {
	n := 0
	for _, lz := range loaded {
		n += lz.Zone.Len()
	}
	return n
}
