package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCheckFindsEverything runs `dnslb check` on a config with twenty
// mistakes across the config and its zones (the fixture of dnslb's
// TestCheckBadConfig, which holds every message): all of them in one run,
// one line each, and exit 1.
func TestCheckFindsEverything(t *testing.T) {
	const conf = "../../dnslb/testdata/bad/many.toml"
	var out, errs bytes.Buffer
	if code := run([]string{"check", "-config", conf}, &out, &errs); code != 1 {
		t.Fatalf("dnslb check = %d, want 1; stderr:\n%s", code, errs.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out.String())
	}
	lines := strings.Split(strings.TrimSuffix(errs.String(), "\n"), "\n")
	if len(lines) != 21 {
		t.Errorf("%d lines, want 21:\n%s", len(lines), errs.String())
	}
	for _, want := range []string{
		conf + `:16: healthcheck.web.fall must be a number, like 3; found the string "2"`,
		conf + `:17: unknown key healthcheck.web.intervall (did you mean interval?)`,
		conf + `:25: name."www.example.test".groups.eu.addresses[1]: address 127.0.0.14 is not an A/AAAA record of www.example.test.`,
		conf + `:28: name."www.exmaple.test".pick: "weigthed" is not one of round-robin, random, weighted, sticky, least-loaded, fastest (did you mean weighted?)`,
		conf + `:29: name."www.exmaple.test".when_all_down: "fail" is not one of serve-all, servfail, nodata, group:<name> (did you mean servfail?)`,
		`../../dnslb/testdata/bad/many-zones/broken.test.zone:5:14: the MX preference must be a number 0..65535; found "x"`,
		conf + `:48: geoip.files: file ../../dnslb/testdata/bad/no-such-city.mmdb does not exist`,
	} {
		if !strings.Contains(errs.String(), want+"\n") {
			t.Errorf("missing line %s\nin:\n%s", want, errs.String())
		}
	}
	for _, jargon := range []string{"TOML value", "destination has type", "bad MX", "incompatible types"} {
		if strings.Contains(errs.String(), jargon) {
			t.Errorf("output says %q:\n%s", jargon, errs.String())
		}
	}
}
