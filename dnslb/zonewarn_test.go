package dnslb

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/config"
)

// TestZoneWarningsLogged: what a zone warns about (an RRset with
// different TTLs) is logged at WARN when the zone is loaded, at startup
// and again when a reload reads it again.
func TestZoneWarningsLogged(t *testing.T) {
	const zone = "$TTL 3600\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nwww 600 A 192.0.2.10\nwww 300 A 192.0.2.11\n"
	cfgPath := writeZoneConfig(t, zone, "")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := "zones/example.org.zone:6: www.example.org. A: TTL 300 differs from 600 of the first record; serving 300"
	if n := strings.Count(logs.String(), want); n != 1 || !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("startup logged %q %d times at WARN, want once:\n%s", want, n, logs.String())
	}
	logs.Reset()
	if err := srv.Reload("test"); err != nil { // the zone is reused: no new warning
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), want) {
		t.Errorf("a reload that reused the zone warned again:\n%s", logs.String())
	}
}
