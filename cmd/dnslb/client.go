package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin"
)

// defaultAdmin is where "dnslb status" and friends look for the admin API:
// the address in the example config.
const defaultAdmin = "http://127.0.0.1:8053"

// clientUsage lists the admin subcommands, for the main usage text.
const clientUsage = `  dnslb status [-json]           show zones, names and address health from a running server
  dnslb drain ADDRESS|NAME       stop handing out an address, or every address of a name
  dnslb undrain ADDRESS|NAME     clear a drain (or other override)
  dnslb reload                   reload config and zones, like SIGHUP; prints the errors if it fails
  (these take -admin URL, default ` + defaultAdmin + `, and -token T, default $DNSLB_TOKEN)
`

// adminClient talks to a running server's admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// adminFlags parses the flags the admin subcommands share, plus any the
// caller added to fset, and returns the client and the remaining args.
// Flags may stand before or after the arguments; err is flag.ErrHelp
// after -h (exitCode).
func adminFlags(fset *flag.FlagSet, args []string, stderr io.Writer) (*adminClient, []string, error) {
	fset.SetOutput(stderr)
	base := fset.String("admin", defaultAdmin, "admin API base URL")
	token := fset.String("token", os.Getenv("DNSLB_TOKEN"), "admin token (default $DNSLB_TOKEN)")
	timeout := fset.Duration("timeout", 30*time.Second, "request timeout")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return nil, nil, err
	}
	c := &adminClient{
		base:  strings.TrimSuffix(*base, "/"),
		token: *token,
		http:  &http.Client{Timeout: *timeout},
	}
	return c, pos, nil
}

// do sends a request and decodes a JSON answer into out. Non-2xx answers
// become errors carrying the server's message.
func (c *adminClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, rd)
	if err != nil {
		return err
	}
	// JSON content type even without a body: the admin API treats form
	// posts as coming from its status page.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var r admin.ActionResult
		msg := fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
		if json.Unmarshal(data, &r) == nil && r.Error != "" {
			msg = r.Error
		}
		if resp.StatusCode == http.StatusUnauthorized {
			msg += " (set -token or DNSLB_TOKEN)"
		}
		return errors.New(msg)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// unreachable turns "dial tcp 127.0.0.1:8053: connect: connection
// refused" into what it means and what to do; other errors stay as they
// are.
func (c *adminClient) unreachable(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("no server answers at %s (is dnslb running, with [admin] listen set to that address? point the command elsewhere with -admin URL)", c.base)
	}
	return err
}

// cmdStatus is "dnslb status": it prints the running server's status as
// tables, or the raw JSON with -json.
func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("dnslb status", flag.ContinueOnError)
	asJSON := fset.Bool("json", false, "print the status as JSON")
	c, rest, err := adminFlags(fset, args, stderr)
	if err != nil {
		return exitCode(err)
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "dnslb status: unexpected argument %q\n", rest[0])
		return 2
	}
	var raw json.RawMessage
	if err := c.do("GET", "/api/status", nil, &raw); err != nil {
		fmt.Fprintln(stderr, "dnslb status:", err)
		return 1
	}
	if *asJSON {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			buf.Reset()
			buf.Write(raw)
		}
		buf.WriteByte('\n')
		_, _ = stdout.Write(buf.Bytes())
		return 0
	}
	var st admin.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		fmt.Fprintln(stderr, "dnslb status:", err)
		return 1
	}
	printStatus(stdout, st, time.Now())
	return 0
}

// printStatus writes st as three tables: zones, addresses, last reload.
func printStatus(w io.Writer, st admin.Status, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ZONE\tSERIAL\tRECORDS\tLOADED\n")
	for _, z := range st.Zones {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", z.Name, z.Serial, z.Records, since(now, z.Loaded))
	}
	tw.Flush()
	fmt.Fprintln(w)

	fmt.Fprintf(tw, "NAME\tPOLICY\tADDRESS\tSTATE\tOVERRIDE\tLATENCY\tFLAPS\tLAST RESULT\n")
	for _, n := range st.Names {
		policy := n.Policy
		if len(n.Checks) > 0 {
			policy += " (" + strings.Join(n.Checks, ",") + ")"
		}
		name := n.Name
		if n.Override != "" {
			name += " [" + n.Override + "]"
		}
		if len(n.Addresses) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\n", name, policy)
		}
		for i, a := range n.Addresses {
			if i > 0 {
				name, policy = "", ""
			}
			lat := "-"
			if a.Latency > 0 {
				lat = a.Latency.Round(10 * time.Microsecond).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
				name, policy, a.Addr, a.State, dash(a.Override), lat, a.Flaps, dash(a.LastResult))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)

	r := st.LastReload
	switch {
	case r.Time.IsZero():
		fmt.Fprintln(w, "last reload: none")
	case r.OK:
		fmt.Fprintf(w, "last reload: ok, %s (%s)\n", since(now, r.Time), dash(r.Trigger))
	default:
		fmt.Fprintf(w, "last reload: FAILED, %s (%s); still serving the previous state\n", since(now, r.Time), dash(r.Trigger))
		for _, e := range r.Errors {
			fmt.Fprintln(w, "  "+e)
		}
	}
}

func since(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cmdDrain is "dnslb drain ADDRESS|NAME".
func cmdDrain(args []string, stdout, stderr io.Writer) int {
	return override("drain", "drain", args, stdout, stderr)
}

// cmdUndrain is "dnslb undrain ADDRESS|NAME": it clears the override.
func cmdUndrain(args []string, stdout, stderr io.Writer) int {
	return override("undrain", "", args, stdout, stderr)
}

func override(cmd, state string, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("dnslb "+cmd, flag.ContinueOnError)
	c, rest, err := adminFlags(fset, args, stderr)
	if err != nil {
		return exitCode(err)
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "dnslb %s: want one ADDRESS or NAME, got %d arguments\n", cmd, len(rest))
		return 2
	}
	req := admin.OverrideRequest{Target: rest[0], State: state}
	if err := c.do("POST", "/api/override", req, nil); err != nil {
		fmt.Fprintf(stderr, "dnslb %s: %v\n", cmd, err)
		return 1
	}
	if state == "" {
		fmt.Fprintf(stdout, "%s: override cleared\n", rest[0])
	} else {
		fmt.Fprintf(stdout, "%s: %s\n", rest[0], state)
	}
	return 0
}

// cmdReload is "dnslb reload": it asks the server to reload and prints the
// errors if the reload failed.
func cmdReload(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("dnslb reload", flag.ContinueOnError)
	c, rest, err := adminFlags(fset, args, stderr)
	if err != nil {
		return exitCode(err)
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "dnslb reload: unexpected argument %q\n", rest[0])
		return 2
	}
	if err := c.do("POST", "/api/reload", nil, nil); err != nil {
		fmt.Fprintf(stderr, "dnslb reload: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "reloaded")
	return 0
}
