package dnslb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/dnslb/serve"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/zones"
)

// loadedZone is a zone with the digest of the files it was read from, so
// a reload can tell whether it needs parsing again.
type loadedZone struct {
	zone   *zones.Zone
	digest [32]byte
	loaded time.Time
}

// includeAtRE is an $INCLUDE directive at the start of its input, to
// digest included files too.
var includeAtRE = regexp.MustCompile(`\A(?i)\$INCLUDE[ \t]+("[^"]*"|\S+)`)

// includes returns the file names of data's $INCLUDE directives: what
// (?mi)^\$INCLUDE[ \t]+("[^"]*"|\S+) finds, which took a second over all
// of a 1,000,000-record zone, twice per load. This tries includeAtRE only
// where a line starts with "$".
func includes(data []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '$')
		if j < 0 {
			break
		}
		i += j
		if i == 0 || data[i-1] == '\n' {
			if m := includeAtRE.FindSubmatch(data[i:]); m != nil {
				out = append(out, m[1])
				i += len(m[0])
				continue
			}
		}
		i++
	}
	return out
}

// zoneDigest hashes a zone file and, recursively, the files it includes.
// It also returns every path read, for the file watcher.
func zoneDigest(path string) ([32]byte, []string, error) {
	h := sha256.New()
	var files []string
	var walk func(p string, depth int) error
	walk = func(p string, depth int) error {
		incs, err := digestFile(h, p)
		if err != nil {
			return err
		}
		files = append(files, p)
		if depth > 7 {
			return nil
		}
		for _, m := range incs {
			inc := strings.Trim(string(m), `"`)
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(filepath.Dir(p), inc)
			}
			_ = walk(inc, depth+1) // a missing include is the zone loader's error to report
		}
		return nil
	}
	err := walk(path, 0)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, files, err
}

// digestPiece is how much of a zone file zoneDigest reads at a time: a
// large zone's text is not held whole (it was 27 MB of garbage, twice a
// reload, for a zone of a million records).
const digestPiece = 1 << 20

// digestFile writes path's name, size and text into h, reading it in
// pieces that end at a line's end, and returns the files it includes.
func digestFile(h io.Writer, path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(h, "%s\x00%d\x00", path, fi.Size())
	var incs [][]byte
	buf := make([]byte, 0, digestPiece)
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		end := len(buf) // what is read so far, up to its last whole line
		if err == nil {
			end = bytes.LastIndexByte(buf, '\n') + 1
		}
		h.Write(buf[:end])
		for _, m := range includes(buf[:end]) {
			incs = append(incs, bytes.Clone(m))
		}
		rest := copy(buf, buf[end:])
		buf = buf[:rest]
		if len(buf) == cap(buf) {
			// A line longer than the buffer: make room for it.
			buf = append(buf, 0)[:rest]
		}
		if err == io.EOF {
			return incs, nil
		}
		if err != nil {
			return nil, err
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
		look, err := awaitSettled(zc.File, read) // zonestable.go: whole files only
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
	done := boundReloadMemory(s.servedRecords() >= bigZoneRecords)
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
		if old, ok := s.loaded[origin]; ok && old != lz && old.zone.Serial() == lz.zone.Serial() {
			s.log.Warn("zone changed but its SOA serial did not: secondaries will not transfer it", "zone", origin, "file", lz.zone.File)
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
func diffState(loaded map[string]*loadedZone, names []*state.Name, st *loadResult) reloadChanges {
	var ch reloadChanges
	for _, origin := range slices.Sorted(maps.Keys(st.loaded)) {
		lz := st.loaded[origin]
		switch old, ok := loaded[origin]; {
		case !ok:
			ch.zonesAdded = append(ch.zonesAdded, origin)
		case old != lz:
			ch.serials = append(ch.serials, fmt.Sprintf("%s %d -> %d", origin, old.zone.Serial(), lz.zone.Serial()))
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

// watch reloads when the config, a zone file (or an $INCLUDEd file) or a
// GeoIP file changes, or a *.zone file appears in or leaves zone_dir. fsnotify events on their folders make it quick;
// polling the size and mtime of every file every interval catches what
// events miss (network file systems, a folder created later). Either way
// the reload waits until the files have stayed the same for a short
// settle time, so an editor's half-written file is not loaded; renames
// and in-place writes both work.
//
// events and closeWatcher come from notify, which the caller runs before
// it says the server started, so no change after that is missed.
func (s *Server) watch(ctx context.Context, every time.Duration, last string, events <-chan struct{}, closeWatcher func()) error {
	t := time.NewTicker(every)
	defer t.Stop()
	defer func() { closeWatcher() }() // the last one: the loop replaces it
	const settle = 250 * time.Millisecond
	settleTimer := time.NewTimer(time.Hour)
	settleTimer.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-events:
			pending = true
			settleTimer.Reset(settle)
			continue
		case <-settleTimer.C:
		case <-t.C:
		}
		cur := s.stamp()
		switch {
		case cur != last:
			last, pending = cur, true
			settleTimer.Reset(settle)
		case pending:
			pending = false
			last = s.stamp() // before: a change made during the reload triggers another
			_ = s.Reload("file change")
			closeWatcher()
			events, closeWatcher = s.notify() // the file list may have changed
		}
	}
}

// notify watches the folders of every watched file, and zone_dir, and
// sends on the returned channel when one of those files changes or a
// *.zone file in zone_dir does. Without fsnotify (no inotify instances
// left, say) the channel never fires and polling does the work.
func (s *Server) notify() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Debug("fsnotify unavailable, polling only", "err", err)
		return ch, func() {}
	}
	s.reloadMu.Lock()
	files := make(map[string]bool, len(s.watched))
	for _, f := range s.watched {
		abs, _ := filepath.Abs(f)
		files[abs] = true
	}
	zoneDir := s.zoneDir()
	s.reloadMu.Unlock()
	dirs := make(map[string]bool)
	if zoneDir != "" {
		dirs[zoneDir] = true
		_ = w.Add(zoneDir)
	}
	for f := range files {
		if d := filepath.Dir(f); !dirs[d] {
			dirs[d] = true
			_ = w.Add(d)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if abs, _ := filepath.Abs(ev.Name); files[abs] || isZoneDirFile(zoneDir, abs) {
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
			}
		}
	})
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			close(done)
			_ = w.Close()
			wg.Wait()
		})
	}
}

// zoneDir is the absolute path of zone_dir, or "". Callers hold reloadMu.
func (s *Server) zoneDir() string {
	if s.cfg.ZoneDir == "" {
		return ""
	}
	abs, _ := filepath.Abs(s.cfg.Rel(s.cfg.ZoneDir))
	return abs
}

// isZoneDirFile reports whether path is a file that zone_dir's listing
// makes a zone of (Config.ZoneFiles): a *.zone file directly in dir.
// An editor's or a deploy's temporary file beside it is not.
func isZoneDirFile(dir, path string) bool {
	return dir != "" && filepath.Dir(path) == dir && strings.HasSuffix(path, ".zone")
}

// stamp summarises the size and mtime of every watched file and of every
// *.zone file in zone_dir, so polling sees a zone file dropped in too.
func (s *Server) stamp() string {
	s.reloadMu.Lock()
	files := slices.Clone(s.watched)
	zoneDir := s.zoneDir()
	s.reloadMu.Unlock()
	if zoneDir != "" {
		ents, _ := os.ReadDir(zoneDir)
		for _, e := range ents {
			if p := filepath.Join(zoneDir, e.Name()); !e.IsDir() && isZoneDirFile(zoneDir, p) && !slices.Contains(files, p) {
				files = append(files, p)
			}
		}
	}
	var b strings.Builder
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(&b, "%s:missing;", f)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}
