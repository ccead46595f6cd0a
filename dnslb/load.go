package dnslb

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/sign"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/dnslb/zonefile"
	"github.com/dnslb/dnslb/healthcheck"
	"github.com/dnslb/dnslb/zones"
)

// loadResult is everything built from the config file and what it names,
// validated and ready to be swapped in at once.
type loadResult struct {
	cfg    config.Config
	loaded map[string]*zonefile.Loaded
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
func buildState(path string, prev map[string]*zonefile.Loaded) (*loadResult, error) {
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
func buildStateFor(cfg config.Config, prev map[string]*zonefile.Loaded, cfgErrs ...string) (*loadResult, error) {
	cfg = cfg.Defaults()
	path := cfg.Path()
	loaded, files, failed, zerr := zonefile.Load(&cfg, prev)
	st := &loadResult{cfg: cfg, loaded: loaded, files: files}
	if path != "" {
		st.files = append(st.files, path)
	}
	for _, lz := range loaded {
		st.zones = append(st.zones, lz.Zone)
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
func logZoneWarnings(log *slog.Logger, st *loadResult, prev map[string]*zonefile.Loaded) {
	for _, origin := range slices.Sorted(maps.Keys(st.loaded)) {
		if lz := st.loaded[origin]; prev[origin] != lz {
			for _, w := range lz.Zone.Warnings() {
				log.Warn("zone file warning", "zone", origin, "warning", w.Error())
			}
		}
	}
}
