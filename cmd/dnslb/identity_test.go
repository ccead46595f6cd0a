package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestIdentityCompare: NSID (RFC 5001) and the CH TXT names id.server,
// hostname.bind, version.server and version.bind are answered as NSD and
// Knot answer them, with the same identity, version and NSID configured in
// all three; and refused as they refuse them once hidden. A query without
// the NSID option gets none.
func TestIdentityCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NSD, Knot and dnslb")
	}
	zdir := zonesDir(t)
	zones := []zoneInfo{{name: "example.com.", file: "example.com.zone"}}
	queries := []struct {
		name   string
		qtype  uint16
		nsid   bool
		anyRef bool // NSD and Knot differ: dnslb must match one of them
	}{
		{"id.server.", dns.TypeTXT, true, false},
		{"hostname.bind.", dns.TypeTXT, true, false},
		{"version.server.", dns.TypeTXT, true, false},
		{"version.bind.", dns.TypeTXT, false, false},
		{"ID.Server.", dns.TypeTXT, false, false},
		{"id.server.", dns.TypeA, true, false},
		{"id.server.", dns.TypeANY, false, true}, // NSD answers, Knot refuses
		{"authors.bind.", dns.TypeTXT, false, false},
		{"foo.server.", dns.TypeTXT, true, false},
		{"example.com.", dns.TypeSOA, true, false},
		{"example.com.", dns.TypeSOA, false, false},
	}
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprintf("hide=%v", hide), func(t *testing.T) {
			nsdExtra := []string{`identity: "ns1.example.com"`, `version: "test 1"`, `nsid: "ascii_ns1-nsid"`}
			knotExtra := []string{`identity: "ns1.example.com"`, `version: "test 1"`, `nsid: "ns1-nsid"`}
			dnslbExtra := "identity = \"ns1.example.com\"\nversion = \"test 1\"\nnsid = \"ns1-nsid\"\n"
			if hide {
				nsdExtra = []string{`hide-identity: yes`, `hide-version: yes`, `nsid: "ascii_ns1-nsid"`}
				knotExtra = []string{`identity: ""`, `version: ""`, `nsid: "ns1-nsid"`}
				dnslbExtra = "hide_identity = true\nhide_version = true\nnsid = \"ns1-nsid\"\n"
			}
			servers := map[string]string{
				"nsd":   startNSDWith(t, zdir, zones, nsdExtra...),
				"knot":  startKnotWith(t, zdir, zones, knotExtra...),
				"dnslb": startDNSLBWith(t, zdir, zones, dnslbExtra),
			}
			for _, q := range queries {
				got := map[string]string{}
				for label, addr := range servers {
					got[label] = identityReply(t, addr, q.name, q.qtype, q.nsid)
				}
				switch {
				case got["dnslb"] == got["nsd"] && got["dnslb"] == got["knot"]:
				case q.anyRef && (got["dnslb"] == got["nsd"] || got["dnslb"] == got["knot"]):
				default:
					t.Errorf("%s CH %s (nsid %v):\n  dnslb %s\n  nsd   %s\n  knot  %s",
						q.name, dns.TypeToString[q.qtype], q.nsid, got["dnslb"], got["nsd"], got["knot"])
				}
			}
		})
	}
	// Without nsid in the config, no NSID, even when asked.
	addr := startDNSLBWith(t, zdir, zones, "")
	if r := identityReply(t, addr, "example.com.", dns.TypeSOA, true); strings.Contains(r, "nsid=") {
		t.Errorf("NSID sent without server.nsid: %s", r)
	}
	if r := identityReply(t, addr, "version.bind.", dns.TypeTXT, false); !strings.Contains(r, `"dnslb `) {
		t.Errorf("version.bind without server.version: %s, want \"dnslb VERSION\"", r)
	}
}

// identityReply sends one query (class CH for the identity names, IN for
// example.com.) over UDP and sums up what the comparison looks at.
func identityReply(t *testing.T, addr, name string, qtype uint16, nsid bool) string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	if !strings.HasPrefix(strings.ToLower(name), "example.com") {
		m.Question[0].Qclass = dns.ClassCHAOS
	}
	m.SetEdns0(1232, false)
	if nsid {
		o := m.IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, _, err := c.ExchangeContext(ctx, m, addr)
	if err != nil {
		t.Fatalf("%s %s to %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s aa=%v", dns.RcodeToString[r.Rcode], r.Authoritative)
	if m.Question[0].Qclass == dns.ClassCHAOS {
		for _, rr := range r.Answer {
			fmt.Fprintf(&b, " [%s]", rr.String())
		}
	}
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if n, ok := opt.(*dns.EDNS0_NSID); ok {
				fmt.Fprintf(&b, " nsid=%s", n.Nsid)
			}
		}
	}
	return b.String()
}

// startNSDWith is startNSD with extra lines in server:.
func startNSDWith(t *testing.T, zdir string, zones []zoneInfo, extra ...string) string {
	t.Helper()
	bin := requireTool(t, "nsd", "nsd")
	dir := t.TempDir()
	port := freePort(t)
	var b strings.Builder
	b.WriteString(nsdServerConf(port, zdir, dir, extra...))
	for _, z := range zones {
		fmt.Fprintf(&b, "zone:\n  name: %q\n  zonefile: %q\n", z.name, z.file)
	}
	conf := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startProcess(t, "nsd", bin, "-d", "-c", conf)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitForZones(t, "nsd", addr, zoneNames(zones), out)
	return addr
}

// startKnotWith is startKnot with extra lines in server:.
func startKnotWith(t *testing.T, zdir string, zones []zoneInfo, extra ...string) string {
	t.Helper()
	bin := requireTool(t, "knotd", "knot")
	dir := t.TempDir()
	port := freePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n    rundir: %q\n    listen: 127.0.0.1@%d\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n", dir, port)
	for _, l := range extra {
		b.WriteString("    " + l + "\n")
	}
	fmt.Fprintf(&b, "database:\n    storage: %q\nlog:\n  - target: stderr\n    any: warning\ntemplate:\n  - id: default\n    storage: %q\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\nzone:\n",
		filepath.Join(dir, "db"), zdir)
	for _, z := range zones {
		fmt.Fprintf(&b, "  - domain: %q\n    file: %q\n", z.name, z.file)
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startProcess(t, "knotd", bin, "-c", conf)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitForZones(t, "knotd", addr, zoneNames(zones), out)
	return addr
}

// startDNSLBWith is startDNSLB with extra lines in [server].
func startDNSLBWith(t *testing.T, zdir string, zones []zoneInfo, server string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "dnslb")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dnslb: %v\n%s", err, out)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\nlisten = [%q]\n%s\n[log]\nlevel = \"warn\"\n", addr, server)
	for _, z := range zones {
		fmt.Fprintf(&b, "\n[[zone]]\nname = %q\nfile = %q\n", z.name, filepath.Join(zdir, z.file))
	}
	conf := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startProcess(t, "dnslb", bin, "serve", "-config", conf)
	waitForZones(t, "dnslb", addr, zoneNames(zones), out)
	return addr
}
