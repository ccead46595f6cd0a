package main

import (
	"os"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/dnssec"
)

func TestKeygenAndDS(t *testing.T) {
	for _, alg := range []string{"13", "15"} {
		dir := t.TempDir()
		var out, errs strings.Builder
		if code := run([]string{"keygen", "example.org", "-algorithm", alg, "-dir", dir}, &out, &errs); code != 0 {
			t.Fatalf("keygen -algorithm %s: exit %d: %s", alg, code, errs.String())
		}
		base := strings.TrimSpace(out.String())
		if fi, err := os.Stat(base + ".private"); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s.private: %v %v, want mode 0600", base, fi, err)
		}
		k, err := dnssec.Read(base, "example.org.")
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if code := run([]string{"ds", "example.org", "-dir", dir}, &out, &errs); code != 0 {
			t.Fatalf("ds: exit %d: %s", code, errs.String())
		}
		if want := strings.ToUpper(k.DS().Digest); !strings.Contains(out.String(), " DS ") || !strings.Contains(out.String(), want) {
			t.Errorf("ds printed %q, want the digest %s", out.String(), want)
		}
	}
	var out, errs strings.Builder
	if code := run([]string{"keygen", "example.org", "-algorithm", "8", "-dir", t.TempDir()}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "algorithm 8") {
		t.Errorf("keygen -algorithm 8: exit %d, %q", code, errs.String())
	}
}
