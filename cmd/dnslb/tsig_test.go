package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones"
)

// The TSIG tests: kdig -y against dnslb, and BIND and Knot as
// secondaries that transfer with a key (and hear of changes through a
// signed NOTIFY); a secondary without the key is refused.

// tsigPrimary is a dnslb serving a copy of testdata/zones, with a key
// xfr-key (hmac-sha256) that transfers must be signed with.
type tsigPrimary struct {
	addr   string
	port   int
	zdir   string
	zs     []zoneInfo
	secret string
	out    *syncBuffer
}

// startTSIGPrimary builds and starts dnslb; notify, if set, is the
// address:port of a secondary told of changes with a NOTIFY signed with
// the key.
func startTSIGPrimary(t *testing.T, notify string) *tsigPrimary {
	t.Helper()
	dir := t.TempDir()
	p := &tsigPrimary{zdir: filepath.Join(dir, "zones")}
	if err := os.CopyFS(p.zdir, os.DirFS(zonesDir(t))); err != nil {
		t.Fatal(err)
	}
	p.zs = loadZones(t, p.zdir)
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	p.secret = base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(filepath.Join(dir, "xfr.key"), []byte(p.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.port = freePort(t)
	p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
	bin := filepath.Join(dir, "dnslb")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dnslb: %v\n%s", err, out)
	}
	cfg := fmt.Sprintf("zone_dir = %q\n\n[server]\nlisten = [%q]\n\n[tsig.keys.xfr-key]\nalgorithm = \"hmac-sha256\"\nsecret_file = \"xfr.key\"\n\n[transfer]\nkeys = [\"xfr-key\"]\n",
		p.zdir, p.addr)
	if notify != "" {
		cfg += fmt.Sprintf("notify = [%q]\nnotify_key = \"xfr-key\"\n", notify)
	}
	conf := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "-config", conf).CombinedOutput(); err != nil {
		t.Fatalf("dnslb check: %v\n%s", err, out)
	}
	p.out = startProcess(t, "dnslb", bin, "serve", "-config", conf)
	waitForZones(t, "dnslb", p.addr, zoneNames(p.zs), p.out)
	return p
}

// TestTSIGKdig: kdig -y transfers a zone signed with the key (and checks
// every message's signature); a wrong secret gets BADSIG, an unknown key
// BADKEY, no key NOTAUTH; a signed SOA query gets a signed answer.
func TestTSIGKdig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dnslb; skipped with -short")
	}
	kdig := requireTool(t, "kdig", "knot-dnsutils")
	p := startTSIGPrimary(t, "")
	run := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, kdig, append([]string{"@127.0.0.1", "-p", strconv.Itoa(p.port), "+retry=0", "+time=5"}, args...)...).CombinedOutput()
		return string(out), err
	}
	good := "hmac-sha256:xfr-key:" + p.secret
	received := regexp.MustCompile(`;; Received \d+ B \((\d+) messages?, (\d+) records\)`)
	for _, z := range p.zs {
		out, err := run("-y", good, z.name, "AXFR")
		m := received.FindStringSubmatch(out)
		if err != nil || m == nil || strings.Contains(out, ";; WARNING") || strings.Contains(out, ";; ERROR") {
			t.Fatalf("kdig -y AXFR %s: %v\n%s", z.name, err, out)
		}
		want := 2 // the SOA twice
		for _, lines := range z.records {
			for _, l := range lines {
				if f := strings.Fields(l); len(f) > 3 && !strings.EqualFold(f[3], "SOA") {
					want++
				}
			}
		}
		if n, _ := strconv.Atoi(m[2]); n != want {
			t.Errorf("kdig -y AXFR %s: %s records, the file has %d", z.name, m[2], want)
		}
		if strings.Count(out, "xfr-key.") < 1 {
			t.Errorf("kdig -y AXFR %s: no TSIG record shown\n%s", z.name, out)
		}
	}
	wrong := make([]byte, 32)
	_, _ = rand.Read(wrong)
	for _, c := range []struct {
		what string
		args []string
		want string
	}{
		{"a wrong secret", []string{"-y", "hmac-sha256:xfr-key:" + base64.StdEncoding.EncodeToString(wrong)}, "BADSIG"},
		{"an unknown key", []string{"-y", "hmac-sha256:other-key:" + p.secret}, "BADKEY"},
		{"another algorithm", []string{"-y", "hmac-sha512:xfr-key:" + p.secret}, "BADKEY"},
		{"no key", nil, "NOTAUTH"},
	} {
		out, err := run(append(c.args, "example.org.", "AXFR")...)
		if err == nil && !strings.Contains(out, ";; ERROR") || !strings.Contains(out, c.want) || strings.Contains(out, "IN\tSOA") {
			t.Errorf("kdig AXFR with %s: %v, want %s and no records\n%s", c.what, err, c.want, out)
		}
	}
	for _, transport := range []string{"+notcp", "+tcp"} {
		out, err := run("-y", good, transport, "example.org.", "SOA")
		if err != nil || !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "xfr-key.") || strings.Contains(out, ";; WARNING") {
			t.Errorf("kdig -y %s SOA: %v, want NOERROR with a good signature\n%s", transport, err, out)
		}
		out, _ = run("-y", "hmac-sha256:other-key:"+p.secret, transport, "example.org.", "SOA")
		if !strings.Contains(out, "status: BADKEY") { // kdig's word for NOTAUTH with TSIG error BADKEY
			t.Errorf("kdig -y %s SOA with an unknown key: want NOTAUTH/BADKEY\n%s", transport, out)
		}
	}
}

// answerSet asks addr over TCP for name and qtype (no recursion) and
// returns the answer records in lower case, sorted, then the rcode.
func answerSet(t *testing.T, addr, name string, qtype uint16) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", addr, name, dns.TypeToString[qtype], err)
	}
	var out []string
	for _, rr := range r.Answer {
		out = append(out, strings.ToLower(rr.String()))
	}
	slices.Sort(out)
	return append(out, dns.RcodeToString[r.Rcode])
}

// compareSecondary asks the secondary and dnslb every name and type of
// the zone files and fails on a difference; it returns how many it asked.
func compareSecondary(t *testing.T, label, secondary, primary string, zs []zoneInfo) int {
	t.Helper()
	asked := 0
	for _, z := range zs {
		for owner, lines := range z.records {
			var types []uint16
			for _, l := range lines {
				if f := strings.Fields(l); len(f) > 3 {
					if qt, ok := dns.StringToType[strings.ToUpper(f[3])]; ok && !slices.Contains(types, qt) {
						types = append(types, qt)
					}
				}
			}
			for _, qt := range types {
				if got, want := answerSet(t, secondary, owner, qt), answerSet(t, primary, owner, qt); !slices.Equal(got, want) {
					t.Errorf("%s %s: %s (secondary) %v, dnslb %v", owner, dns.TypeToString[qt], label, got, want)
				}
				asked++
			}
		}
	}
	if asked < 50 {
		t.Fatalf("compared only %d name/type pairs", asked)
	}
	return asked
}

// editZone gives example.org a new serial and a new record, written in
// one rename, and returns the record's name and the new serial.
func editZone(t *testing.T, zdir string) (string, uint32) {
	t.Helper()
	path := filepath.Join(zdir, "example.org.zone")
	z, err := zones.Load("example.org.", path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := strconv.FormatUint(uint64(z.SOA.Serial), 10)
	if !strings.Contains(string(data), old) {
		t.Fatalf("serial %s not found in %s", old, path)
	}
	edited := strings.Replace(string(data), old, strconv.FormatUint(uint64(z.SOA.Serial)+1, 10), 1) +
		"\ntsig-new.example.org. 300 IN A 192.0.2.223\n"
	if err := os.WriteFile(path+".tmp", []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	return "tsig-new.example.org.", z.SOA.Serial + 1
}

// waitForA polls addr until name has the address want, for at most d.
func waitForA(t *testing.T, label, addr, name, want string, d time.Duration, logs ...*syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	for {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.RecursionDesired = false
		if r, _, err := c.ExchangeContext(ctx, m, addr); err == nil && len(r.Answer) == 1 {
			if a, ok := r.Answer[0].(*dns.A); ok && a.A.String() == want {
				return
			}
		}
		select {
		case <-ctx.Done():
			var out strings.Builder
			for _, l := range logs {
				out.WriteString(l.String() + "\n----\n")
			}
			t.Fatalf("%s did not serve %s A %s within %v\n%s", label, name, want, d, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkSignedNotify waits for dnslb's log to show that the secondary
// answered the signed NOTIFY of example.org (dnslb checks the answer's
// signature: a secondary that refused the key answers NOTAUTH).
func checkSignedNotify(t *testing.T, p *tsigPrimary, secondary string) {
	t.Helper()
	want := `msg="NOTIFY sent" zone=example.org.`
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("dnslb's log has no %s for %s:\n%s", want, secondary, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(p.out.String(), "NOTIFY refused") {
		t.Errorf("a NOTIFY was refused:\n%s", p.out.String())
	}
}

// TestSecondaryBINDTSIG: BIND (named), a secondary of dnslb with the key,
// transfers every zone and answers as dnslb does; after an edit, the
// signed NOTIFY is accepted and BIND serves the new record.
func TestSecondaryBINDTSIG(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dnslb and named; skipped with -short")
	}
	named := requireTool(t, "named", "bind9")
	bport := freePort(t)
	secondary := net.JoinHostPort("127.0.0.1", strconv.Itoa(bport))
	p := startTSIGPrimary(t, secondary)
	bdir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, `options {
	directory %q;
	pid-file %q;
	session-keyfile none;
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	dnssec-validation no;
	allow-query { any; };
	max-cache-size 16m;
};
controls { };
key "xfr-key" {
	algorithm hmac-sha256;
	secret %q;
};
`, bdir, filepath.Join(bdir, "named.pid"), bport, p.secret)
	for _, z := range p.zs {
		fmt.Fprintf(&b, "zone %q {\n\ttype secondary;\n\tprimaries port %d { 127.0.0.1 key \"xfr-key\"; };\n\tfile %q;\n\tallow-notify { 127.0.0.1; };\n};\n",
			z.name, p.port, filepath.Join(bdir, z.name+"db"))
	}
	conf := filepath.Join(bdir, "named.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("named-checkconf", conf).CombinedOutput(); err != nil {
		t.Fatalf("named-checkconf: %v\n%s\n%s", err, out, b.String())
	}
	bout := startProcess(t, "named", named, "-g", "-n", "1", "-c", conf)
	waitForZones(t, "named (secondary)", secondary, zoneNames(p.zs), bout)
	n := compareSecondary(t, "BIND", secondary, p.addr, p.zs)
	t.Logf("BIND, transferring with TSIG, answers %d names and types of %d zones as dnslb does", n, len(p.zs))
	if !strings.Contains(p.out.String(), `key=xfr-key.`) {
		t.Errorf("dnslb's log shows no transfer signed with xfr-key:\n%s", p.out.String())
	}
	name, serial := editZone(t, p.zdir)
	waitForA(t, "BIND", secondary, name, "192.0.2.223", 20*time.Second, p.out, bout)
	checkSignedNotify(t, p, secondary)
	for _, want := range []string{fmt.Sprintf("zone example.org/IN: transferred serial %d: TSIG 'xfr-key'", serial),
		"received notify for zone 'example.org': TSIG 'xfr-key'"} {
		if !strings.Contains(bout.String(), want) {
			t.Errorf("named's log lacks %q:\n%s", want, bout.String())
		}
	}
}

// TestSecondaryKnotTSIG: Knot (knotd), a secondary of dnslb with the key,
// transfers every zone and answers as dnslb does, and accepts the signed
// NOTIFY after an edit; a Knot without the key is refused and serves
// nothing.
func TestSecondaryKnotTSIG(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dnslb and knotd; skipped with -short")
	}
	knotd := requireTool(t, "knotd", "knot")
	kport := freePort(t)
	secondary := net.JoinHostPort("127.0.0.1", strconv.Itoa(kport))
	p := startTSIGPrimary(t, secondary)
	knotConf := func(port int, key bool) string {
		dir := t.TempDir()
		var b strings.Builder
		fmt.Fprintf(&b, `server:
    rundir: %q
    listen: 127.0.0.1@%d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: %q
log:
  - target: stderr
    any: info
`, dir, port, filepath.Join(dir, "db"))
		keyLine := ""
		if key {
			fmt.Fprintf(&b, "key:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: %s\n", p.secret)
			keyLine = "\n    key: xfr-key"
		}
		fmt.Fprintf(&b, "remote:\n  - id: dnslb\n    address: 127.0.0.1@%d%s\n", p.port, keyLine)
		fmt.Fprintf(&b, "acl:\n  - id: notify\n    address: 127.0.0.1%s\n    action: notify\n", keyLine)
		fmt.Fprintf(&b, "template:\n  - id: default\n    storage: %q\n    zonefile-sync: -1\n    master: dnslb\n    acl: notify\nzone:\n", dir)
		for _, z := range p.zs {
			fmt.Fprintf(&b, "  - domain: %q\n", z.name)
		}
		if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "knot.conf")
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return conf
	}
	kout := startProcess(t, "knotd", knotd, "-c", knotConf(kport, true))
	waitForZones(t, "knotd (secondary)", secondary, zoneNames(p.zs), kout)
	n := compareSecondary(t, "Knot", secondary, p.addr, p.zs)
	t.Logf("Knot, transferring with TSIG, answers %d names and types of %d zones as dnslb does", n, len(p.zs))
	name, _ := editZone(t, p.zdir)
	waitForA(t, "Knot", secondary, name, "192.0.2.223", 20*time.Second, p.out, kout)
	checkSignedNotify(t, p, secondary)

	// Without the key: refused (dnslb logs it), and Knot has no zone.
	nport := freePort(t)
	nokey := net.JoinHostPort("127.0.0.1", strconv.Itoa(nport))
	nout := startProcess(t, "knotd (no key)", knotd, "-c", knotConf(nport, false))
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(p.out.String(), `reason="not signed with a key of transfer.keys"`) < len(p.zs) {
		if time.Now().After(deadline) {
			t.Fatalf("dnslb did not refuse the unsigned transfers of every zone within 15s\ndnslb:\n%s\nknotd:\n%s", p.out.String(), nout.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeSOA)
	r, _, err := c.Exchange(m, nokey)
	if err != nil {
		t.Fatalf("knotd without the key: %v\n%s", err, nout.String())
	}
	if r.Rcode == dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("knotd without the key serves example.org.: %v", r)
	}
	if !strings.Contains(nout.String(), "NOTAUTH") {
		t.Errorf("knotd without the key does not log the refusal (NOTAUTH):\n%s", nout.String())
	}
}
