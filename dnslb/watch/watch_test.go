package watch

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestStampSeesNewZoneFile: polling (where fsnotify fails) notices a new
// *.zone file in zone_dir too, and ignores other files there.
func TestStampSeesNewZoneFile(t *testing.T) {
	zdir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "dnslb.toml")
	if err := os.WriteFile(cfg, []byte("zone_dir = \"zones\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := Files{Paths: []string{cfg}, ZoneDir: zdir}
	before := Stamp(f)
	if err := os.WriteFile(filepath.Join(zdir, "example.net.zone.tmp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if Stamp(f) != before {
		t.Error("a temporary file in zone_dir changed the stamp")
	}
	if err := os.Rename(filepath.Join(zdir, "example.net.zone.tmp"), filepath.Join(zdir, "example.net.zone")); err != nil {
		t.Fatal(err)
	}
	if Stamp(f) == before {
		t.Error("a new zone file in zone_dir did not change the stamp")
	}
}

// TestRun: a file rewritten, a zone file dropped into zone_dir, each
// reloads once after it settles; a temporary file beside the zones does
// not; with events and with polling alone (an interval far shorter than
// the events' settle time would not show the difference, so polling is
// tested by a watcher whose fsnotify is closed).
func TestRun(t *testing.T) {
	for _, polling := range []bool{false, true} {
		name := "events"
		if polling {
			name = "polling"
		}
		t.Run(name, func(t *testing.T) {
			dir, zdir := t.TempDir(), t.TempDir()
			cfg := filepath.Join(dir, "dnslb.toml")
			if err := os.WriteFile(cfg, []byte("a = 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			every := time.Hour // events alone
			if polling {
				every = 100 * time.Millisecond
			}
			var reloads atomic.Int32
			w := Open(every, func() Files { return Files{Paths: []string{cfg}, ZoneDir: zdir} }, func() { reloads.Add(1) }, slog.New(slog.DiscardHandler))
			if polling {
				w.close()
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run = %v", err)
				}
			})
			waitReloads := func(want int32, what string) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for reloads.Load() < want && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if got := reloads.Load(); got != want {
					t.Fatalf("after %s: %d reloads, want %d", what, got, want)
				}
			}
			write := func(p, text string) {
				t.Helper()
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write(cfg, "a = 2, longer\n")
			waitReloads(1, "the config rewritten")
			write(filepath.Join(zdir, "example.org.zone.tmp"), "x")
			time.Sleep(4 * settle)
			if got := reloads.Load(); got != 1 {
				t.Fatalf("a temporary file in zone_dir reloaded: %d reloads", got)
			}
			write(filepath.Join(zdir, "example.org.zone"), "x")
			waitReloads(2, "a zone file dropped in")
		})
	}
}
