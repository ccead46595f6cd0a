package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckWarnings: dnslb check accepts a zone with an RRset of mixed
// TTLs, prints the warning with its file and line, and counts it.
func TestCheckWarnings(t *testing.T) {
	dir := t.TempDir()
	zone := "$TTL 3600\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nwww 600 A 192.0.2.10\nwww 300 A 192.0.2.11\n"
	if err := os.WriteFile(filepath.Join(dir, "example.org.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(cfg, []byte("zone_dir = \".\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := check([]string{"-config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("check = %d, want 0\n%s%s", code, out.String(), errb.String())
	}
	want := "warning: " + filepath.Join(dir, "example.org.zone") + ":6: www.example.org. A: TTL 300 differs from 600 of the first record; serving 300, the last record's, for the whole RRset\n"
	if errb.String() != want {
		t.Errorf("stderr = %q, want %q", errb.String(), want)
	}
	if !strings.HasSuffix(out.String(), ": ok, 1 zone, 5 records, 1 warning\n") {
		t.Errorf("stdout = %q, want it to count 1 warning", out.String())
	}
}
