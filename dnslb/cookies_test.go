package dnslb

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
)

const cookieSecret = "e5e973e5a6b2a43f48e7dc849e37bfcf"

// cookieCount is dnslb_cookies_total{result}.
func cookieCount(t *testing.T, srv *Server, result string) float64 {
	t.Helper()
	return metricValue(t, srv, `dnslb_cookies_total{result="`+result+`"}`)
}

// runTool runs a program for at most 10 seconds and returns its output.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var digCookie = regexp.MustCompile(`(?m)^;+ COOKIE: ([0-9a-fA-F]+)`)

// TestCookiesDig: dig and kdig with +cookie get a server cookie on their
// first query; sent back, it is a good one (dnslb_cookies_total), over UDP
// and TCP; a wrong one gets a new cookie and a normal answer.
func TestCookiesDig(t *testing.T) {
	path := writeLBConfig(t, "[cookies]\nsecret = \""+cookieSecret+"\"\n")
	srv, addr := startServer(t, path)
	host, port, _ := strings.Cut(addr, ":")
	for _, tool := range []string{"dig", "kdig"} {
		bin := needTool(t, tool, map[string]string{"dig": "bind9-dnsutils", "kdig": "knot-dnsutils"}[tool])
		q := func(extra ...string) (string, string) {
			out := runTool(t, bin, append([]string{"@" + host, "-p", port, "www.example.org", "A"}, extra...)...)
			m := digCookie.FindStringSubmatch(out)
			if m == nil || !strings.Contains(out, "NOERROR") {
				t.Fatalf("%s %v: no NOERROR with a cookie:\n%s", tool, extra, out)
			}
			return strings.ToLower(m[1]), out
		}
		good0, client0 := cookieCount(t, srv, "good"), cookieCount(t, srv, "client_only")
		first, _ := q("+cookie")
		if len(first) != 48 || cookieCount(t, srv, "client_only") != client0+1 {
			t.Fatalf("%s +cookie: reply cookie %q, client_only %v→%v", tool, first, client0, cookieCount(t, srv, "client_only"))
		}
		for _, transport := range []string{"+notcp", "+tcp"} {
			again, _ := q("+cookie="+first, transport)
			if again != first {
				t.Errorf("%s %s: a fresh good cookie came back as %s, want it echoed %s", tool, transport, again, first)
			}
		}
		if got := cookieCount(t, srv, "good"); got != good0+2 {
			t.Errorf("%s: good cookies counted %v, want %v", tool, got, good0+2)
		}
		bad0 := cookieCount(t, srv, "bad")
		wrong := first[:16] + "01000000" + strings.Repeat("0", 24)
		if got, _ := q("+cookie=" + wrong); got == wrong || got[:16] != first[:16] {
			t.Errorf("%s: a wrong server cookie got %s back", tool, got)
		}
		if cookieCount(t, srv, "bad") != bad0+1 {
			t.Errorf("%s: bad cookie not counted", tool)
		}
	}
}

// TestCookieMalformed: COOKIE options of a length RFC 7873 section 5.2.2
// calls malformed, or two of them, crafted byte by byte, get FORMERR with
// an OPT record and no cookie, over UDP and TCP.
func TestCookieMalformed(t *testing.T) {
	srv, addr := startServer(t, writeLBConfig(t, ""))
	query := func(opts ...[]byte) []byte {
		pkt := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1}
		pkt = append(pkt, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 1, 0, 1)
		var rdata []byte
		for _, o := range opts {
			rdata = append(rdata, 0, 10, byte(len(o)>>8), byte(len(o)))
			rdata = append(rdata, o...)
		}
		pkt = append(pkt, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, byte(len(rdata)>>8), byte(len(rdata)))
		return append(pkt, rdata...)
	}
	bytesN := func(n int) []byte { return []byte(strings.Repeat("\x5a", n)) }
	before := cookieCount(t, srv, "malformed")
	n := 0
	for _, tc := range []struct {
		name string
		opts [][]byte
	}{
		{"0 bytes", [][]byte{bytesN(0)}}, {"7 bytes", [][]byte{bytesN(7)}}, {"9 bytes", [][]byte{bytesN(9)}},
		{"15 bytes", [][]byte{bytesN(15)}}, {"41 bytes", [][]byte{bytesN(41)}}, {"two", [][]byte{bytesN(8), bytesN(8)}},
	} {
		for _, network := range []string{"udp", "tcp"} {
			pkt := query(tc.opts...)
			var r *dns.Msg
			if network == "udp" {
				r = rawUDP(t, addr, pkt)
			} else {
				m := new(dns.Msg)
				if err := m.Unpack(pkt); err != nil {
					t.Fatal(err)
				}
				r = exchange(t, addr, "tcp", m)
			}
			n++
			if r.Rcode != dns.RcodeFormatError || r.IsEdns0() == nil || hasCookie(r) || len(r.Answer) != 0 {
				t.Errorf("%s over %s: %v, want FORMERR with an OPT record and no cookie", tc.name, network, r)
			}
		}
	}
	if got := cookieCount(t, srv, "malformed"); got != before+float64(n) {
		t.Errorf("malformed counted %v, want %v", got-before, n)
	}
	// The good lengths are answered.
	for _, l := range []int{8, 16, 40} {
		if r := rawUDP(t, addr, query(bytesN(l))); r.Rcode != dns.RcodeSuccess {
			t.Errorf("a cookie of %d bytes: %v", l, r)
		}
	}
}

func hasCookie(r *dns.Msg) bool {
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if _, ok := e.(*dns.EDNS0_COOKIE); ok {
				return true
			}
		}
	}
	return false
}

// TestCookieRollover: a cookie made with the old secret is good while it
// is cookies.previous_secret, and the reply carries one under the new
// secret; once the old secret is gone it is bad. The random secret of a
// server without one stays the same across reloads.
func TestCookieRollover(t *testing.T) {
	const newSecret = "445536bcd2513298075a5d379663c962"
	path := writeLBConfig(t, "[cookies]\nsecret = \""+cookieSecret+"\"\n")
	srv, addr := startServer(t, path)
	ask := func(ck string) string {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: ck}}
		r := exchange(t, addr, "udp", m)
		for _, o := range r.IsEdns0().Option {
			if c, ok := o.(*dns.EDNS0_COOKIE); ok {
				return c.Cookie
			}
		}
		t.Fatalf("no cookie in %v", r)
		return ""
	}
	setConfig := func(cookies string) {
		t.Helper()
		cfg := "zone_dir = \"zones\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n" + cookies
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := srv.Reload("test"); err != nil {
			t.Fatal(err)
		}
	}
	const client = "0102030405060708"
	old := ask(client)
	if ask(old) != old {
		t.Fatal("a fresh cookie is not echoed")
	}
	setConfig("[cookies]\nsecret = \"" + newSecret + "\"\nprevious_secret = \"" + cookieSecret + "\"\n")
	good := cookieCount(t, srv, "good")
	renewed := ask(old)
	if renewed == old || cookieCount(t, srv, "good") != good+1 {
		t.Fatalf("during the rollover the old cookie got %s back, good %v→%v; want a new cookie and good", renewed, good, cookieCount(t, srv, "good"))
	}
	if ask(renewed) != renewed || cookieCount(t, srv, "good") != good+2 {
		t.Errorf("the new secret's cookie is not good")
	}
	setConfig("[cookies]\nsecret = \"" + newSecret + "\"\n")
	bad := cookieCount(t, srv, "bad")
	if ask(old) == old || cookieCount(t, srv, "bad") != bad+1 {
		t.Errorf("after the rollover the old cookie is still good")
	}
	if ask(renewed) != renewed {
		t.Errorf("after the rollover the new cookie is not good")
	}
	// Without a secret: a random one, the same after a reload.
	setConfig("")
	random := ask(client)
	setConfig("[log]\nlevel = \"info\"\n")
	if ask(random) != random {
		t.Errorf("the random secret changed with a reload")
	}
}

// TestCookieResolver: BIND's named as a resolver forwarding example.org
// to dnslb gets its answers, and its queries after the first carry a
// server cookie that is good.
func TestCookieResolver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts named")
	}
	named := needTool(t, "named", "bind9")
	needTool(t, "dig", "bind9-dnsutils")
	srv, addr := startServer(t, writeLBConfig(t, "[cookies]\nsecret = \""+cookieSecret+"\"\n"))
	host, port, _ := strings.Cut(addr, ":")
	dir := t.TempDir()
	_, rport, _ := strings.Cut(freePort(t), ":")
	conf := fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]s { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion yes;
	allow-query { any; };
	allow-recursion { any; };
	dnssec-validation no;
	query-source address 127.0.0.1;
};
controls { };
zone "example.org" { type forward; forward only; forwarders { %[3]s port %[4]s; }; };
`, dir, rport, host, port)
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, named, "-g", "-n", "1", "-c", filepath.Join(dir, "named.conf"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("named:\n%s", log.String())
		}
	})
	c := &dns.Client{Timeout: 2 * time.Second}
	resolve := func(name string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, _, err := c.Exchange(m, "127.0.0.1:"+rport)
		if err != nil {
			return nil
		}
		return r
	}
	// named is up once it answers; at most 20 s.
	for deadline := time.Now().Add(20 * time.Second); ; {
		if r := resolve("www.example.org."); r != nil && r.Rcode == dns.RcodeSuccess {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("named does not resolve www.example.org 20 s after its start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	good := cookieCount(t, srv, "good")
	for _, name := range []string{"ns1.example.org.", "alias.example.org.", "geo.example.org.", "nx.example.org."} {
		r := resolve(name)
		if r == nil || (name != "nx.example.org." && (r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0)) ||
			(name == "nx.example.org." && r.Rcode != dns.RcodeNameError) {
			t.Errorf("named resolving %s: %v", name, r)
		}
	}
	if got := cookieCount(t, srv, "good"); got < good+4 {
		t.Errorf("named's queries after the first: %v with a good cookie, want at least 4 (client_only %v, bad %v, none %v)",
			got-good, cookieCount(t, srv, "client_only"), cookieCount(t, srv, "bad"), cookieCount(t, srv, "none"))
	}
}

// TestCookieConfigCheck: bad [cookies] values are reported at their
// line, every one in a run; a world-readable secret file is refused.
func TestCookieConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("good.secret", cookieSecret+"\n", 0o640)
	open := write("open.secret", cookieSecret+"\n", 0o644)
	short := write("short.secret", "abcd\n", 0o600)
	for _, tc := range []struct {
		name, cfg string
		want      []string // "" for none
	}{
		{"secret", "[cookies]\nsecret = \"" + cookieSecret + "\"\n", nil},
		{"secret file", "[cookies]\nsecret_file = \"good.secret\"\nprevious_secret = \"" + cookieSecret + "\"\n", nil},
		{"off", "[cookies]\nenabled = false\n", nil},
		{"bad", "[cookies]\nsecret = \"xyz\"\nprevious_secret = \"" + strings.Repeat("g", 32) + "\"\n", []string{
			":2: cookies.secret: 3 hex digits, want 32 (a 128-bit secret)",
			":3: cookies.previous_secret: not hexadecimal",
		}},
		{"both", "[cookies]\nsecret = \"" + cookieSecret + "\"\nsecret_file = \"good.secret\"\n", []string{
			":3: cookies.secret_file: set together with cookies.secret: give one of them",
		}},
		{"open file", "[cookies]\n\nsecret_file = \"open.secret\"\n", []string{
			":3: cookies.secret_file: " + open + " may be read or written by every user (mode 0644)",
		}},
		{"short file", "[cookies]\nsecret_file = \"short.secret\"\n", []string{
			":2: cookies.secret_file: " + short + ": 4 hex digits, want 32",
		}},
		{"missing file", "[cookies]\nsecret_file = \"nothere.secret\"\n", []string{
			":2: cookies.secret_file: stat " + filepath.Join(dir, "nothere.secret") + ": no such file or directory",
		}},
		{"previous alone", "[cookies]\nprevious_secret = \"" + cookieSecret + "\"\n", []string{
			":2: cookies.previous_secret: set without cookies.secret or cookies.secret_file",
		}},
		{"enabled not a bool", "[cookies]\nenabled = \"yes\"\n", []string{":2: cookies.enabled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write("dnslb.toml", tc.cfg+"[[zone]]\nname = \"example.org\"\nfile = \"example.org.zone\"\n", 0o644)
			c, err := config.Load(path)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				cur, _, ok := c.Cookies.Secrets()
				if tc.name != "off" && (!ok || hex.EncodeToString(cur[:]) != cookieSecret) {
					t.Errorf("secret %x, %v", cur, ok)
				}
				if c.Cookies.On() != (tc.name != "off") {
					t.Errorf("On() = %v", c.Cookies.On())
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), path+w) {
					t.Errorf("errors lack %q:\n%v", path+w, err)
				}
			}
		})
	}
}

// TestCookiesOff: with enabled = false a COOKIE option is ignored: no
// cookie in the reply, a malformed one answered, nothing counted.
func TestCookiesOff(t *testing.T) {
	srv, addr := startServer(t, writeLBConfig(t, "[cookies]\nenabled = false\n"))
	for _, ck := range []string{"0102030405060708", "010203040506070809"} {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: ck}}
		for range 3 {
			if r := exchange(t, addr, "udp", m); r.Rcode != dns.RcodeSuccess || hasCookie(r) {
				t.Errorf("cookies off, cookie %s: %v", ck, r)
			}
		}
	}
	if n := cookieCount(t, srv, "none") + cookieCount(t, srv, "client_only") + cookieCount(t, srv, "malformed"); n != 0 {
		t.Errorf("cookies off: %v counted", n)
	}
}
