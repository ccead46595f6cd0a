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

	"github.com/dnslb/dnslb/zones"
)

// TestSecondaryNSD: NSD, set up as a secondary of dnslb, transfers every
// zone of testdata/zones and answers every name and type of the files as
// dnslb does; after a zone file is edited (new serial, a new record),
// dnslb reloads, sends NOTIFY, and NSD serves the new record.
func TestSecondaryNSD(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dnslb and NSD; skipped with -short")
	}
	nsd := requireTool(t, "nsd", "nsd")
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zones")
	if err := os.CopyFS(zdir, os.DirFS(zonesDir(t))); err != nil {
		t.Fatal(err)
	}
	zs := loadZones(t, zdir)
	dport, nport := freePort(t), freePort(t)
	primary := net.JoinHostPort("127.0.0.1", strconv.Itoa(dport))
	secondary := net.JoinHostPort("127.0.0.1", strconv.Itoa(nport))

	bin := filepath.Join(dir, "dnslb")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dnslb: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "dnslb.toml")
	cfg := fmt.Sprintf("zone_dir = %q\n\n[server]\nlisten = [%q]\n\n[transfer]\nallow = [\"127.0.0.1\"]\nnotify = [%q]\n",
		zdir, primary, secondary)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	dout := startProcess(t, "dnslb", bin, "serve", "-config", conf)
	waitForZones(t, "dnslb", primary, zoneNames(zs), dout)

	ndir := filepath.Join(dir, "nsd")
	if err := os.Mkdir(ndir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(nsdServerConf(nport, ndir, ndir, "xfrd-reload-timeout: 0"))
	for _, z := range zs {
		fmt.Fprintf(&b, "zone:\n  name: %q\n  zonefile: %q\n  request-xfr: 127.0.0.1@%d NOKEY\n  allow-notify: 127.0.0.1 NOKEY\n",
			z.name, z.name+"zone", dport)
	}
	nconf := filepath.Join(ndir, "nsd.conf")
	if err := os.WriteFile(nconf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	nout := startProcess(t, "nsd", nsd, "-d", "-c", nconf)
	waitForZones(t, "nsd (secondary)", secondary, zoneNames(zs), nout)

	// Every name and type of the files: the same answer records.
	asked := compareSecondary(t, "NSD", secondary, primary, zs)
	t.Logf("NSD as a secondary answers %d names and types of %d zones as dnslb does", asked, len(zs))

	// An edit: new serial and a new record. dnslb's watcher reloads it and
	// sends NOTIFY; NSD transfers the zone again.
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
		"\nxfr-new.example.org. 300 IN A 192.0.2.222\n"
	if err := os.WriteFile(path+".tmp", []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if got := answerSet(t, secondary, "xfr-new.example.org.", dns.TypeA); len(got) == 2 && strings.HasSuffix(got[0], "192.0.2.222") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("NSD did not serve the new record within 20s\ndnslb:\n%s\nnsd:\n%s", dout.String(), nout.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !strings.Contains(dout.String(), `msg="NOTIFY sent" zone=example.org.`) {
		t.Errorf("dnslb's log has no NOTIFY for example.org.:\n%s", dout.String())
	}
}
