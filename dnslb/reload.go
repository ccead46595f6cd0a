package dnslb

import (
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/dnslb/serve"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/dnslb/watch"
	"github.com/dnslb/dnslb/dnslb/zonefile"
)

// Reload reads the config and zones again and, if all of them are good,
// swaps them in at once. On any error the old state keeps serving and the
// error lists every problem. Listen addresses are not changed by a reload.
func (s *Server) Reload(trigger string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	// Before Run says READY=1 the service manager is not told: a reload
	// then would announce readiness too early.
	running := s.Ready()
	if running {
		s.sdReloading(trigger)
	}
	start := time.Now()
	done := zonefile.BoundReloadMemory(zonefile.Records(s.loaded) >= zonefile.BigZoneRecords)
	ch, err := s.reload()
	done(err == nil && len(ch.serials)+len(ch.zonesAdded)+len(ch.zonesRemoved) > 0)
	st := admin.ReloadStatus{Time: time.Now(), OK: err == nil, Trigger: trigger}
	took := st.Time.Sub(start).Round(time.Microsecond)
	if err != nil {
		st.Errors = strings.Split(err.Error(), "\n")
		// One line per problem: a log line with every error in it would
		// have them joined by escaped newlines.
		s.log.Error("reload failed, the old state keeps serving", "trigger", trigger, "errors", len(st.Errors), "duration", took)
		for _, e := range st.Errors {
			s.log.Error("reload failed", "trigger", trigger, "err", e)
		}
	} else {
		st.Changes = ch.list()
		s.log.Info("reloaded", append([]any{"trigger", trigger, "duration", took}, ch.attrs()...)...)
	}
	s.mu.Lock()
	s.lastReload = st
	s.mu.Unlock()
	s.metrics.ReloadResult(err == nil, st.Time)
	s.metrics.ReloadDuration(took)
	if running {
		s.sdNotify("READY=1", "STATUS="+s.sdStatus())
	}
	return err
}

func (s *Server) reload() (reloadChanges, error) {
	st, err := buildState(s.cfg.Path(), s.loaded)
	if err != nil {
		return reloadChanges{}, err
	}
	logZoneWarnings(s.log, st, s.loaded)
	for origin, lz := range st.loaded {
		if old, ok := s.loaded[origin]; ok && old != lz && old.Zone.Serial() == lz.Zone.Serial() {
			s.log.Warn("zone changed but its SOA serial did not: secondaries will not transfer it", "zone", origin, "file", lz.Zone.File)
		}
	}
	if !slices.Equal(st.cfg.Server.Listen, s.cfg.Server.Listen) {
		s.log.Warn("listen addresses changed: restart to apply them")
		st.cfg.Server.Listen = s.cfg.Server.Listen
	}
	if !slices.Equal(st.cfg.GeoIP.Files, s.cfg.GeoIP.Files) || (st.cfg.LocatesClients() && s.geo == nil) {
		// The files themselves are re-read when they change; a new list
		// (or the first geo name) needs a restart.
		s.log.Warn("geoip files changed: restart to apply them", "file", strings.Join(st.cfg.GeoIP.Files, ","))
	}
	if serve.TCPChanged(st.cfg.Server, s.cfg.Server) {
		s.log.Warn("tcp settings changed: restart to apply them")
	}
	if st.cfg.Cookies.On() != s.cfg.Cookies.On() {
		s.log.Warn("cookies.enabled changed: restart to apply it")
	}
	if st.cfg.Admin != s.cfg.Admin {
		s.log.Warn("admin settings changed: restart to apply them")
		st.cfg.Admin = s.cfg.Admin
	}
	if !reflect.DeepEqual(st.cfg.Cluster, s.cfg.Cluster) {
		s.log.Warn("cluster settings changed: restart to apply them")
		st.cfg.Cluster = s.cfg.Cluster
	}
	if st.cfg.Log.Format != s.cfg.Log.Format {
		s.log.Warn("log.format changed: restart to apply it")
		st.cfg.Log.Format = s.cfg.Log.Format
	}
	if st.cfg.Log.Level != s.cfg.Log.Level && s.logLevel == nil {
		s.log.Warn("log.level changed: restart to apply it")
		st.cfg.Log.Level = s.cfg.Log.Level
	}
	// The query log is opened again, so that after logrotate moved the
	// file a reload starts a new one at the path.
	var ql *metrics.QueryLog
	if path := st.cfg.Log.QueryLog; path != "" {
		if ql, err = metrics.OpenQueryLog(path, st.cfg.Log.QuerySample); err != nil {
			return reloadChanges{}, err
		}
	}
	ch := diffState(s.loaded, s.store.Names(), st)
	if err := s.apply(st); err != nil {
		_ = ql.Close()
		return reloadChanges{}, err
	}
	if s.logLevel != nil {
		s.logLevel.Set(st.cfg.Log.LevelOf())
	}
	_ = s.qlog.Swap(ql).Close()
	return ch, nil
}

// reloadChanges is what a reload changed, for its log line and status.
type reloadChanges struct {
	zonesAdded, zonesRemoved []string // origins
	serials                  []string // "example.org. 1 -> 2", for every zone read again
	namesAdded, namesRemoved []string // owners
}

// diffState compares the served zones and names with those of st.
func diffState(loaded map[string]*zonefile.Loaded, names []*state.Name, st *loadResult) reloadChanges {
	var ch reloadChanges
	for _, origin := range slices.Sorted(maps.Keys(st.loaded)) {
		lz := st.loaded[origin]
		switch old, ok := loaded[origin]; {
		case !ok:
			ch.zonesAdded = append(ch.zonesAdded, origin)
		case old != lz:
			ch.serials = append(ch.serials, fmt.Sprintf("%s %d -> %d", origin, old.Zone.Serial(), lz.Zone.Serial()))
		}
	}
	for _, origin := range slices.Sorted(maps.Keys(loaded)) {
		if _, ok := st.loaded[origin]; !ok {
			ch.zonesRemoved = append(ch.zonesRemoved, origin)
		}
	}
	before := make(map[string]bool, len(names))
	for _, ns := range names {
		before[ns.Owner] = true
		if _, ok := st.names[ns.Owner]; !ok {
			ch.namesRemoved = append(ch.namesRemoved, ns.Owner)
		}
	}
	for _, owner := range slices.Sorted(maps.Keys(st.names)) {
		if !before[owner] {
			ch.namesAdded = append(ch.namesAdded, owner)
		}
	}
	slices.Sort(ch.namesRemoved)
	return ch
}

// attrs are the log attributes of the changes: only those that happened,
// or zones_and_names=unchanged.
func (ch reloadChanges) attrs() []any {
	var out []any
	for _, f := range []struct {
		key  string
		list []string
	}{
		{"zones_added", ch.zonesAdded}, {"zones_removed", ch.zonesRemoved}, {"serials", ch.serials},
		{"names_added", ch.namesAdded}, {"names_removed", ch.namesRemoved},
	} {
		if len(f.list) > 0 {
			out = append(out, f.key, strings.Join(f.list, ", "))
		}
	}
	if out == nil {
		out = []any{"zones_and_names", "unchanged"}
	}
	return out
}

// list is the changes as sentences, for the status page and API.
func (ch reloadChanges) list() []string {
	var out []string
	for _, z := range ch.zonesAdded {
		out = append(out, "zone "+z+" added")
	}
	for _, z := range ch.zonesRemoved {
		out = append(out, "zone "+z+" removed")
	}
	for _, z := range ch.serials {
		origin, serials, _ := strings.Cut(z, " ")
		out = append(out, "zone "+origin+" serial "+serials)
	}
	for _, n := range ch.namesAdded {
		out = append(out, "name "+n+" added")
	}
	for _, n := range ch.namesRemoved {
		out = append(out, "name "+n+" removed")
	}
	if out == nil {
		out = []string{"zones and names unchanged"}
	}
	return out
}

// watchedFiles is what the file watcher (dnslb/watch) watches: every file
// the last load read, and zone_dir.
func (s *Server) watchedFiles() watch.Files {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	f := watch.Files{Paths: slices.Clone(s.watched)}
	if s.cfg.ZoneDir != "" {
		f.ZoneDir, _ = filepath.Abs(s.cfg.Rel(s.cfg.ZoneDir))
	}
	return f
}
