package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClusterKeyFile: the gossip key is read from its file, which must
// hold base64 of 16, 24 or 32 bytes and not be open to every user.
func TestClusterKeyFile(t *testing.T) {
	tests := []struct {
		name, secret string
		mode         os.FileMode
		want         string // "" for no error
	}{
		{"good", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", 0o600, ""},
		{"short", "c2hvcnQ=", 0o600, "dnslb.toml:4: cluster.key_file: DIR/gossip.key holds 5 bytes, want 16, 24 or 32 (make one with: head -c 32 /dev/urandom | base64)"},
		{"world-readable", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", 0o644, "dnslb.toml:4: cluster.key_file: DIR/gossip.key may be read or written by every user (mode 0644): chmod o-rw DIR/gossip.key (0640 or 0600)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "gossip.key"), []byte(tc.secret+"\n"), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, "gossip.key"), tc.mode); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "dnslb.toml")
			cfg := "[cluster]\nbind = \"192.0.2.1\"\nseeds = [\"192.0.2.2:7946\"]\nkey_file = \"gossip.key\"\n"
			if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, errs, err := ParseAll(path, data)
			if err != nil {
				t.Fatal(err)
			}
			var mine []string
			for _, l := range errs {
				l = strings.ReplaceAll(strings.ReplaceAll(l, path, "dnslb.toml"), dir, "DIR")
				if strings.Contains(l, "cluster") {
					mine = append(mine, l)
				}
			}
			if g := strings.Join(mine, "\n"); g != tc.want {
				t.Errorf("Load = %q, want %q", g, tc.want)
			}
			if tc.want == "" && len(c.Cluster.KeyBytes()) != 32 {
				t.Errorf("KeyBytes() has %d bytes, want 32", len(c.Cluster.KeyBytes()))
			}
			if tc.want == "" && c.Cluster.QuorumOf(3) != 2 {
				t.Errorf("QuorumOf(3) = %d, want 2 (majority)", c.Cluster.QuorumOf(3))
			}
		})
	}
}
