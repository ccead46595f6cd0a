package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// The man page dnslb(8) and the shell completions are made from what
// `dnslb -h` and `dnslb COMMAND -h` print (usage and each command's flag
// set), by running those commands: so they cannot drift from the help.
// `dnslb man`, `dnslb completion bash` and `dnslb completion zsh` print
// them; the Makefile's man target writes them to files.

// commands are the subcommands with flags, in the order of usage.
var commands = []string{"serve", "check", "explain", "status", "drain", "undrain", "reload", "keygen", "ds"}

// helpOf is what `dnslb COMMAND -h` prints (flag sets print to stderr).
func helpOf(cmd string) string {
	var out, errs strings.Builder
	run([]string{cmd, "-h"}, &out, &errs)
	return out.String() + errs.String()
}

// flagRE finds the flags in a flag set's help: "  -config string".
var flagRE = regexp.MustCompile(`(?m)^  -([a-zA-Z0-9-]+)`)

func flagsOf(cmd string) []string {
	var out []string
	for _, m := range flagRE.FindAllStringSubmatch(helpOf(cmd), -1) {
		out = append(out, "-"+m[1])
	}
	return out
}

// roff escapes text for a man page: backslashes, and a dot or an
// apostrophe at the start of a line.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			l = `\&` + l
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

func writeMan(w io.Writer) {
	fmt.Fprintf(w, ".TH DNSLB 8 \"\" \"dnslb %s\" \"System Administration\"\n", roff(buildVersion()))
	fmt.Fprint(w, ".SH NAME\ndnslb \\- an authoritative DNS server that load-balances\n")
	fmt.Fprint(w, ".SH SYNOPSIS\n.nf\n")
	syn, _, _ := strings.Cut(usage, "\nRun ")
	_, syn, _ = strings.Cut(syn, "Usage:\n")
	fmt.Fprint(w, roff(strings.TrimRight(syn, "\n")), "\n.fi\n")
	fmt.Fprint(w, ".SH DESCRIPTION\n"+
		"dnslb serves RFC 1035 zone files and picks, per query, which of a name's addresses to hand out, "+
		"by health checks, weights, the client's location and failover groups. "+
		"The config file (TOML) is described in /usr/share/doc/dnslb/README.md.\n")
	fmt.Fprint(w, ".SH COMMANDS\n")
	for _, c := range commands {
		fmt.Fprintf(w, ".SS %s\n.nf\n%s\n.fi\n", c, roff(strings.TrimRight(helpOf(c), "\n")))
	}
	fmt.Fprint(w, ".SH FILES\n.TP\n/etc/dnslb/dnslb.toml\nthe config file of the packaged service\n"+
		".SH SIGNALS\n.TP\nSIGHUP\nreload the config and zones (all or nothing)\n.TP\nSIGTERM, SIGINT\nfinish in-flight TCP queries and exit\n"+
		".SH EXIT STATUS\n0 on success, 1 on an error (check: any problem found), 2 on a usage error.\n"+
		".SH SEE ALSO\nnsd(8), knotd(8), dig(1)\n")
}

func writeCompletion(w io.Writer, shell string) error {
	all := append(slices.Clone(commands), "version", "man", "completion", "help")
	switch shell {
	case "bash":
		fmt.Fprint(w, "# bash completion for dnslb, made by `dnslb completion bash`\n_dnslb() {\n"+
			"  local cur=${COMP_WORDS[COMP_CWORD]}\n  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"+
			"    COMPREPLY=($(compgen -W \""+strings.Join(all, " ")+"\" -- \"$cur\"))\n    return\n  fi\n"+
			"  case ${COMP_WORDS[1]} in\n")
		for _, c := range commands {
			fmt.Fprintf(w, "  %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", c, strings.Join(flagsOf(c), " "))
		}
		fmt.Fprint(w, "  esac\n  case ${COMP_WORDS[COMP_CWORD-1]} in -config) COMPREPLY=($(compgen -f -- \"$cur\")) ;; esac\n}\ncomplete -F _dnslb dnslb\n")
	case "zsh":
		fmt.Fprint(w, "#compdef dnslb\n# zsh completion for dnslb, made by `dnslb completion zsh`\n_dnslb() {\n"+
			"  if (( CURRENT == 2 )); then\n    compadd -- "+strings.Join(all, " ")+"\n    return\n  fi\n"+
			"  case $words[2] in\n")
		for _, c := range commands {
			fmt.Fprintf(w, "  %s) compadd -- %s ;;\n", c, strings.Join(flagsOf(c), " "))
		}
		fmt.Fprint(w, "  esac\n  [[ $words[CURRENT-1] == -config ]] && _files\n}\n_dnslb \"$@\"\n")
	default:
		return fmt.Errorf("completion: %q is not bash or zsh", shell)
	}
	return nil
}
