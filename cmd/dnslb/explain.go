package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/dnslb/dnslb/dnslb"
)

const explainUsage = `  dnslb explain NAME TYPE [-client IP] [-subnet PREFIX] [-config FILE | -admin URL]
                                 say step by step why NAME gets the addresses it gets (TYPE A or
                                 AAAA; client default 127.0.0.1): offline against FILE, or live
                                 (with health) through the admin API
`

// defaultClient is the client explain assumes without -client or -subnet.
const defaultClient = "127.0.0.1"

// cmdExplain is "dnslb explain": the selection steps for one query.
func cmdExplain(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("dnslb explain", flag.ContinueOnError)
	fset.SetOutput(stderr)
	client := fset.String("client", "", "client (resolver) address (default "+defaultClient+")")
	subnet := fset.String("subnet", "", "EDNS Client Subnet prefix, e.g. 198.51.100.0/24")
	cfgPath := fset.String("config", "", "config file: explain offline, every address counted up")
	admin := fset.String("admin", "", "admin API base URL: explain against the running server")
	token := fset.String("token", "", "admin token (default $DNSLB_TOKEN)")
	// Flags may come before or after NAME TYPE.
	pos, err := parseArgs(fset, args)
	if err != nil {
		return exitCode(err)
	}
	switch len(pos) {
	case 2:
	case 1:
		fmt.Fprintf(stderr, "dnslb explain: missing TYPE after %s: A or AAAA\n", pos[0])
		return 2
	default:
		fmt.Fprint(stderr, "usage:\n"+explainUsage)
		return 2
	}
	name, qtype := pos[0], pos[1]
	if *client == "" && *subnet == "" {
		*client = defaultClient
		fmt.Fprintf(stderr, "dnslb explain: no -client or -subnet given: explaining for client %s\n", defaultClient)
	}
	if *admin != "" || *cfgPath == "" {
		base := *admin
		if base == "" {
			base = defaultAdmin
		}
		c, _, _ := adminFlags(flag.NewFlagSet("", flag.ContinueOnError), []string{"-admin", base, "-token", *token}, stderr)
		return explainRemote(c, name, qtype, *client, *subnet, stdout, stderr)
	}
	out, err := dnslb.ExplainOffline(*cfgPath, name, qtype, *client, *subnet)
	if err != nil {
		fmt.Fprintln(stderr, "dnslb explain:", err)
		return 1
	}
	fmt.Fprint(stdout, out)
	return 0
}

func explainRemote(c *adminClient, name, qtype, client, subnet string, stdout, stderr io.Writer) int {
	v := url.Values{"name": {name}, "type": {qtype}, "client": {client}, "subnet": {subnet}}
	req, err := http.NewRequest(http.MethodGet, c.base+"/api/explain?"+v.Encode(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "dnslb explain:", err)
		return 1
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "dnslb explain: %v; or pass -config FILE to explain offline\n", c.unreachable(err))
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "dnslb explain: %s\n", strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprint(stdout, string(body))
	return 0
}
