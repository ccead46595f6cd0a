package dnslb

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// versionedZone is version v of a zone: "v" TXT first after the SOA, 300
// records, and "end" TXT last, both saying v.
func versionedZone(v int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1 hostmaster %d 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\nv IN TXT \"%d\"\n", v, v)
	for i := range 300 {
		fmt.Fprintf(&b, "r%d IN A 192.0.2.%d\n", i, 1+i%250)
	}
	fmt.Fprintf(&b, "end IN TXT \"%d\"\n", v)
	return b.String()
}

// writeSlowly writes data over the file at path in place (truncated, then
// in 20 chunks that end at line ends, 20 ms apart), as an editor that
// does not rename does.
func writeSlowly(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	lines := strings.SplitAfter(data, "\n")
	per := (len(lines) + 19) / 20
	for i := 0; i < len(lines); i += per {
		if _, err := f.WriteString(strings.Join(lines[i:min(i+per, len(lines))], "")); err != nil {
			t.Error(err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestZoneWrittenInPlace: while a zone file is written in place slowly,
// the watcher and SIGHUP-like reloads fire; every answer comes from a
// whole version of the zone (the "end" record of the version whose "v"
// record was seen), never from one half written, and the last version is
// served in the end.
func TestZoneWrittenInPlace(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	zone := filepath.Join(dir, "zones", "example.org.zone")
	if err := os.WriteFile(zone, []byte(versionedZone(1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(cfg, []byte("zone_dir = \"zones\"\n[server]\nlisten = [\"127.0.0.1:0\"]\nwatch_interval = \"100ms\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, cfg)
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	txt := func(name string) (string, error) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return "", err
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			return "", fmt.Errorf("%s: %s, %d answers", name, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		return r.Answer[0].(*dns.TXT).Txt[0], nil
	}

	const versions = 5
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var checks, bad atomic.Int64
	seen := make(map[string]bool)
	var mu sync.Mutex
	wg.Go(func() { // the client: bounded by stop and a count
		for i := 0; i < 20000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v, err := txt("v.example.org.")
			if err != nil {
				if bad.Add(1) <= 5 {
					t.Errorf("v: %v", err)
				}
				continue
			}
			end, err := txt("end.example.org.")
			checks.Add(1)
			// A later version may have come between the two queries,
			// never an earlier one or none.
			if err != nil || end < v {
				if bad.Add(1) <= 5 {
					t.Errorf("v says %s, then end says %q (%v): a half-written zone was served", v, end, err)
				}
			}
			mu.Lock()
			seen[v] = true
			mu.Unlock()
		}
	})
	wg.Go(func() { // SIGHUP-like reloads, as often as an impatient operator
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
				_ = srv.Reload("sighup")
			}
		}
	})
	for v := 2; v <= versions; v++ {
		writeSlowly(t, zone, versionedZone(v))
		time.Sleep(300 * time.Millisecond)
	}
	// The last version is served once the file settles.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v, err := txt("v.example.org."); err == nil && v == fmt.Sprint(versions) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version %d never served", versions)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d checks, %d bad; versions seen %v", checks.Load(), bad.Load(), seen)
	if checks.Load() < 50 {
		t.Errorf("only %d checks", checks.Load())
	}
}
