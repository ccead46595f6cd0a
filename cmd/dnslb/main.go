// Command dnslb is an authoritative DNS server that load-balances: it
// serves RFC 1035 zone files and picks, per query, which of a name's
// addresses to hand out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/dnslb/dnslb/dnslb"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/example"
)

// version is set by the Makefile with -ldflags "-X main.version=...".
var version = ""

const usage = `dnslb: an authoritative DNS server that load-balances

Usage:
  dnslb                          serve the built-in example (127.0.0.1:5353)
  dnslb serve -config FILE       serve the zones and policies in FILE
  dnslb check [-config FILE]     load FILE (or the built-in example) and every zone,
                                 print every error, exit 1 on any
  dnslb version                  print the version
  dnslb man                      print this help as the man page dnslb(8)
  dnslb completion bash|zsh      print a shell completion script
` + explainUsage + clientUsage + keysUsage + `
Run "dnslb COMMAND -h" for a command's flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return serve(nil, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "explain":
		return cmdExplain(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "drain":
		return cmdDrain(args[1:], stdout, stderr)
	case "undrain":
		return cmdUndrain(args[1:], stdout, stderr)
	case "reload":
		return cmdReload(args[1:], stdout, stderr)
	case "keygen":
		return cmdKeygen(args[1:], stdout, stderr) // keys.go
	case "ds":
		return cmdDS(args[1:], stdout, stderr)
	case "man":
		writeMan(stdout) // manpage.go
		return 0
	case "completion":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: dnslb completion bash|zsh")
			return 2
		}
		if err := writeCompletion(stdout, args[1]); err != nil {
			fmt.Fprintln(stderr, "dnslb:", err)
			return 2
		}
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "dnslb", buildVersion())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "dnslb: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return "devel-" + s.Value[:min(12, len(s.Value))]
			}
		}
		return bi.Main.Version
	}
	return "devel"
}

// parseArgs parses fset's flags wherever they stand among args, before or
// after the other arguments, and returns those arguments.
func parseArgs(fset *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		if fset.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fset.Arg(0))
		args = fset.Args()[1:]
	}
}

// exitCode is a command's exit status for a flag error: 0 when the user
// asked for the usage (-h), 2 otherwise.
func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// configFlag parses the flags every config-reading command shares. code is
// the exit status when ok is false.
func configFlag(name string, args []string, stderr io.Writer) (path string, code int, ok bool) {
	fset := flag.NewFlagSet("dnslb "+name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	p := fset.String("config", "", "config file (TOML); empty: the built-in example")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return "", exitCode(err), false
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "dnslb %s: unexpected argument %q\n", name, pos[0])
		return "", 2, false
	}
	return *p, 0, true
}

func check(args []string, stdout, stderr io.Writer) int {
	path, code, ok := configFlag("check", args, stderr)
	if !ok {
		return code
	}
	shown := path
	if path == "" {
		dir, err := extractExample()
		if err != nil {
			fmt.Fprintln(stderr, "dnslb:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		path, shown = filepath.Join(dir, "dnslb.toml"), "built-in example"
	}
	_, zs, err := dnslb.Check(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	records, warnings := 0, 0
	for _, z := range zs {
		records += z.Len()
		for _, w := range z.Warnings() {
			fmt.Fprintln(stderr, "warning:", w)
			warnings++
		}
	}
	fmt.Fprintf(stdout, "%s: ok, %s, %s", shown, plural(len(zs), "zone"), plural(records, "record"))
	if warnings > 0 {
		fmt.Fprintf(stdout, ", %s", plural(warnings, "warning"))
	}
	fmt.Fprintln(stdout)
	return 0
}

func serve(args []string, stdout, stderr io.Writer) int {
	path, code, ok := configFlag("serve", args, stderr)
	if !ok {
		return code
	}
	builtin := path == ""
	if builtin {
		dir, err := extractExample()
		if err != nil {
			fmt.Fprintln(stderr, "dnslb:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "dnslb.toml")
		fmt.Fprintln(stderr, "dnslb: serving the built-in example; copy example/ from the repo and pass -config to edit it")
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if builtin {
		// The example listens on IPv4 and IPv6 loopback; a host without
		// ::1 (some containers) still gets the IPv4 half.
		cfg.Server.Listen = slices.DeleteFunc(cfg.Server.Listen, func(l string) bool {
			c, err := net.ListenPacket("udp", l)
			if err != nil && strings.HasPrefix(l, "[") {
				fmt.Fprintf(stderr, "dnslb: not listening on %s: %v\n", l, err)
				return true
			}
			if c != nil {
				c.Close()
			}
			return false
		})
	}
	var level slog.LevelVar // a reload may change it
	level.Set(cfg.Log.LevelOf())
	log := newLogger(cfg.Log, &level, stderr)
	dnslb.Version = buildVersion()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := dnslb.New(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	srv.SetLogLevel(&level)
	srv.SetNotifySocket(os.Getenv("NOTIFY_SOCKET")) // set by systemd for Type=notify
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				_ = srv.Reload("sighup") // it logs its result
			}
		}
	})
	if err := srv.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
		select {
		case <-srv.Started():
			log.Error("server stopped", "err", err)
		default: // a listener could not be opened
			log.Error("cannot start", "err", err)
		}
		return 1
	}
	log.Info("stopped")
	return 0
}

// plural is "1 zone", "2 zones".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func newLogger(c config.LogConfig, level slog.Leveler, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// extractExample writes the embedded example config and zones to a
// temporary folder, since zone loading reads real files.
func extractExample() (string, error) {
	dir, err := os.MkdirTemp("", "dnslb-example-")
	if err != nil {
		return "", err
	}
	err = fs.WalkDir(example.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := example.FS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("extract example: %w", err)
	}
	return dir, nil
}
