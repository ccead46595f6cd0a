package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestManPage: dnslb(8) lists every command of the usage, with every flag
// its -h prints; every command the usage names has its section; and
// groff formats it without a warning (when groff is installed).
func TestManPage(t *testing.T) {
	var man, errs strings.Builder
	if code := run([]string{"man"}, &man, &errs); code != 0 {
		t.Fatalf("dnslb man = %d: %s", code, errs.String())
	}
	page := man.String()
	for _, m := range regexp.MustCompile(`(?m)^  dnslb ([a-z]+)`).FindAllStringSubmatch(usage, -1) {
		c := m[1]
		if !slices.Contains(commands, c) && c != "version" && c != "man" && c != "completion" {
			t.Errorf("usage names command %q, which is not in commands (manpage.go)", c)
		}
	}
	for _, c := range commands {
		if !strings.Contains(page, ".SS "+c+"\n") {
			t.Errorf("the man page has no section for %s", c)
		}
		flags := flagsOf(c)
		if len(flags) == 0 {
			t.Errorf("dnslb %s -h prints no flags", c)
		}
		for _, f := range flags {
			if !strings.Contains(page, "  "+f+" ") && !strings.Contains(page, "  "+f+"\n") {
				t.Errorf("the man page lacks %s of %s", f, c)
			}
		}
	}
	if groff, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command(groff, "-man", "-ww", "-z")
		cmd.Stdin = strings.NewReader(page)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff -man -ww: %v\n%s", err, out)
		}
	}
}

// TestCompletion: the bash script completes commands and each command's
// flags (run in bash, as completion runs it); the zsh one is valid zsh.
func TestCompletion(t *testing.T) {
	bash := needBinary(t, "bash")
	var script strings.Builder
	if code := run([]string{"completion", "bash"}, &script, &script); code != 0 {
		t.Fatalf("dnslb completion bash = %d", code)
	}
	file := filepath.Join(t.TempDir(), "dnslb.bash")
	if err := os.WriteFile(file, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words string
		want  []string
	}{
		{"dnslb se", []string{"serve"}},
		{"dnslb serve -c", []string{"-config"}},
		{"dnslb status -", []string{"-admin", "-json", "-timeout", "-token"}},
	} {
		words := strings.Fields(tc.words)
		prog := `source "$1"; COMP_WORDS=(` + strings.Join(words, " ") + `); COMP_CWORD=` +
			string(rune('0'+len(words)-1)) + `; _dnslb; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, "-c", prog, "bash", file).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.words, err, out)
		}
		got := strings.Fields(string(out))
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("completing %q = %v, want %v", tc.words, got, tc.want)
		}
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		var z strings.Builder
		run([]string{"completion", "zsh"}, &z, &z)
		cmd := exec.Command(zsh, "-n")
		cmd.Stdin = strings.NewReader(z.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v\n%s", err, out)
		}
	}
	if code := run([]string{"completion", "fish"}, &script, &script); code != 2 {
		t.Errorf("dnslb completion fish = %d, want 2", code)
	}
}

func needBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found", name)
	}
	return p
}
