package watch

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Files is what a Watcher watches.
type Files struct {
	// Paths are the files read by the last load.
	Paths []string
	// ZoneDir is the absolute path of zone_dir ("": none): a *.zone file
	// appearing in it or leaving it is a change too.
	ZoneDir string
}

// settle is how long the files must stay the same before a reload.
const settle = 250 * time.Millisecond

// Watcher calls its reload function when the files change.
type Watcher struct {
	every  time.Duration
	files  func() Files
	reload func()
	log    *slog.Logger

	last  string            // the files' Stamp when last looked at
	fs    *fsnotify.Watcher // nil: polling only
	paths map[string]bool   // absolute: the files fs reports on
	dir   string            // Files.ZoneDir of the last open
}

// Open takes its first look at the files (files is called for the list
// each time, and again after each reload, since a reload may change it),
// and starts watching their folders. Call it before saying the server
// has started, so that no change after that is missed; Run then polls
// every interval and calls reload when something changed.
func Open(every time.Duration, files func() Files, reload func(), log *slog.Logger) *Watcher {
	w := &Watcher{every: every, files: files, reload: reload, log: log}
	f := files()
	w.last = Stamp(f)
	w.open(f)
	return w
}

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.every)
	defer t.Stop()
	defer w.close()
	settleTimer := time.NewTimer(time.Hour)
	settleTimer.Stop()
	pending := false
	for {
		var events <-chan fsnotify.Event
		var errs <-chan error
		if w.fs != nil {
			events, errs = w.fs.Events, w.fs.Errors
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				w.close() // polling only from here on
				continue
			}
			if abs, _ := filepath.Abs(ev.Name); w.paths[abs] || isZoneDirFile(w.dir, abs) {
				pending = true
				settleTimer.Reset(settle)
			}
			continue
		case _, ok := <-errs:
			if !ok {
				w.close()
			}
			continue
		case <-settleTimer.C:
		case <-t.C:
		}
		cur := Stamp(w.files())
		switch {
		case cur != w.last:
			w.last, pending = cur, true
			settleTimer.Reset(settle)
		case pending:
			pending = false
			w.last = Stamp(w.files()) // before: a change made during the reload triggers another
			w.reload()
			w.close()
			w.open(w.files()) // the file list may have changed
		}
	}
}

// open watches the folders of every file of f, and f.ZoneDir. Without
// fsnotify (no inotify instances left, say) polling does the work.
func (w *Watcher) open(f Files) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		w.log.Debug("fsnotify unavailable, polling only", "err", err)
		return
	}
	w.fs, w.dir, w.paths = fs, f.ZoneDir, make(map[string]bool, len(f.Paths))
	for _, p := range f.Paths {
		abs, _ := filepath.Abs(p)
		w.paths[abs] = true
	}
	dirs := make(map[string]bool)
	if f.ZoneDir != "" {
		dirs[f.ZoneDir] = true
		_ = fs.Add(f.ZoneDir)
	}
	for p := range w.paths {
		if d := filepath.Dir(p); !dirs[d] {
			dirs[d] = true
			_ = fs.Add(d)
		}
	}
}

func (w *Watcher) close() {
	if w.fs != nil {
		_ = w.fs.Close()
		w.fs = nil
	}
}

// isZoneDirFile reports whether path is a file that zone_dir's listing
// makes a zone of (config.Config.ZoneFiles): a *.zone file directly in
// dir. An editor's or a deploy's temporary file beside it is not.
func isZoneDirFile(dir, path string) bool {
	return dir != "" && filepath.Dir(path) == dir && strings.HasSuffix(path, ".zone")
}

// Stamp summarises the size and modification time of every file of f and
// of every *.zone file in f.ZoneDir, so that polling sees a zone file
// dropped in too: it differs whenever one of them changed.
func Stamp(f Files) string {
	files := slices.Clone(f.Paths)
	if f.ZoneDir != "" {
		ents, _ := os.ReadDir(f.ZoneDir)
		for _, e := range ents {
			if p := filepath.Join(f.ZoneDir, e.Name()); !e.IsDir() && isZoneDirFile(f.ZoneDir, p) && !slices.Contains(files, p) {
				files = append(files, p)
			}
		}
	}
	var b strings.Builder
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(&b, "%s:missing;", p)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}
