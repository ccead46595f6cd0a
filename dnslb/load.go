package dnslb

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/sign"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/healthcheck"
	"github.com/dnslb/dnslb/zones"
)

// loadResult is everything built from the config file and what it names,
// validated and ready to be swapped in at once.
type loadResult struct {
	cfg    config.Config
	loaded map[string]*loadedZone
	zones  []*zones.Zone // sorted by origin
	names  map[string]*state.Name
	files  []string // every file read: the watcher's list
	// signers are the zones with DNSSEC keys (dnslb/sign).
	signers sign.Signers
}

// buildState loads the config at path, every zone (reusing from prev the
// zones whose files did not change) and every name policy. It returns
// every error found: the config's in line order (a bad value does not
// stop the zones and policies from being checked), then the zones'.
func buildState(path string, prev map[string]*loadedZone) (*loadResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, errs, err := config.ParseAll(path, data)
	if err != nil {
		return nil, err
	}
	return buildStateFor(cfg, prev, errs...)
}

// buildStateFor is buildState for a config already loaded (New gets one
// from its caller, who may have changed it, as tests change listen), with
// the errors found in it so far.
func buildStateFor(cfg config.Config, prev map[string]*loadedZone, cfgErrs ...string) (*loadResult, error) {
	cfg = cfg.Defaults()
	path := cfg.Path()
	loaded, files, failed, zerr := loadZones(&cfg, prev)
	st := &loadResult{cfg: cfg, loaded: loaded, files: files}
	if path != "" {
		st.files = append(st.files, path)
	}
	for _, lz := range loaded {
		st.zones = append(st.zones, lz.zone)
	}
	slices.SortFunc(st.zones, func(a, b *zones.Zone) int { return strings.Compare(a.Origin, b.Origin) })
	names, errs := state.CompileNames(&cfg, st.zones, failed)
	errs = append(cfgErrs, errs...)
	sg, serrs := sign.Load(&cfg, st.zones)
	errs = append(errs, serrs...)
	st.signers = sg
	for _, name := range slices.Sorted(maps.Keys(cfg.Checks)) {
		if cfg.Checks[name].Type == healthcheck.TypeICMP {
			if err := healthcheck.ICMPAvailable(); err != nil {
				errs = append(errs, fmt.Sprintf("%s: healthcheck %q: %v", path, name, err))
			}
		}
	}
	var msgs []string
	if len(errs) > 0 {
		config.SortByLine(errs)
		msgs = append(msgs, config.JoinErrors(errs))
	}
	if zerr != nil {
		msgs = append(msgs, zerr.Error())
	}
	if len(msgs) > 0 {
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	st.names = names
	st.files = append(st.files, cfg.GeoIP.Files...)
	st.files = append(st.files, cfg.TSIG.SecretFiles()...) // a new secret is reloaded too
	if f := cfg.Cookies.SecretFile; f != "" {
		st.files = append(st.files, f)
	}
	st.files = append(st.files, st.signers.Files()...) // a new or changed key is reloaded too
	return st, nil
}

// Check loads the config file, every zone, every policy and the GeoIP
// files through the same code as serve and reload, and returns every
// error found.
func Check(path string) (*config.Config, []*zones.Zone, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	cfg, cfgErrs, err := config.ParseAll(path, data)
	if err != nil {
		return nil, nil, err
	}
	// The GeoIP files are checked whatever else is wrong, so that a
	// missing one is not found only in a second run.
	var geoErr error
	if cfg.NeedsGeo() {
		geoErr = openGeo(&cfg)
	}
	st, err := buildStateFor(cfg, nil, cfgErrs...)
	if err != nil {
		if geoErr != nil {
			err = fmt.Errorf("%w\n%v", err, geoErr)
		}
		return nil, nil, err
	}
	if geoErr != nil {
		return &st.cfg, nil, geoErr
	}
	if err := state.CheckOverrideFile(st.cfg.Health.StateFile); err != nil {
		return &st.cfg, nil, err
	}
	return &st.cfg, st.zones, nil
}

// logZoneWarnings logs at WARN what the zones of st that were read again
// (not reused from prev) warn about: see zones.Zone.Warnings.
func logZoneWarnings(log *slog.Logger, st *loadResult, prev map[string]*loadedZone) {
	for _, origin := range slices.Sorted(maps.Keys(st.loaded)) {
		if lz := st.loaded[origin]; prev[origin] != lz {
			for _, w := range lz.zone.Warnings() {
				log.Warn("zone file warning", "zone", origin, "warning", w.Error())
			}
		}
	}
}

// loadZones loads every zone of cfg, reusing from prev those whose files
// are unchanged. It returns every error of every zone.
func loadZones(cfg *config.Config, prev map[string]*loadedZone) (out map[string]*loadedZone, files []string, failed func(owner string) string, err error) {
	list, err := cfg.ZoneFiles()
	if err != nil {
		return nil, nil, func(string) string { return "." }, err
	}
	out = make(map[string]*loadedZone, len(list))
	var bad []string // origins of the zones that did not load
	var errs []error
	for _, zc := range list {
		sum, read, derr := zoneDigest(zc.File)
		files = append(files, read...)
		origin := strings.ToLower(strings.TrimSuffix(zc.Name, ".") + ".")
		if p, ok := prev[origin]; ok && derr == nil && p.digest == sum && p.zone.File == zc.File {
			if _, dup := out[origin]; dup {
				errs = append(errs, fmt.Errorf("%s: zone %s is already loaded from %s", zc.File, origin, out[origin].zone.File))
				continue
			}
			out[origin] = p
			continue
		}
		look, err := awaitSettled(zc.File, read) // zonefiles.go: whole files only
		if err != nil {
			errs = append(errs, err)
			bad = append(bad, origin)
			continue
		}
		// A changed zone shares with the one it replaces the records
		// that did not change: a reload holds little more than one copy.
		var old *zones.Zone
		if p, ok := prev[origin]; ok {
			old = p.zone
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
			errs = append(errs, fmt.Errorf("%s: zone %s is already loaded from %s", zc.File, z.Origin, out[z.Origin].zone.File))
			continue
		}
		out[z.Origin] = &loadedZone{zone: z, digest: sum, loaded: time.Now()}
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
