package dnslb

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
)

// Two keys: k1 may transfer, k2 is known but may not.
const (
	tsigSecret1 = "c2VjcmV0IG9uZSBmb3IgdGhlIGRuc2xiIHRlc3RzIQ=="
	tsigSecret2 = "c2Vjb25kIHNlY3JldCBmb3IgdGhlIGRuc2xiIHRlc3Q="
	wrongSecret = "d3Jvbmcgc2VjcmV0IGZvciB0aGUgZG5zbGIgdGVzdHM="
)

// writeTSIGConfig is writeLBConfig with keys k1 and k2 (secret files
// mode 0600) and extra after them.
func writeTSIGConfig(t *testing.T, extra string) string {
	t.Helper()
	keys := "[tsig.keys.k1]\nalgorithm = \"hmac-sha256\"\nsecret_file = \"k1.secret\"\n" +
		"[tsig.keys.\"k2.example.\"]\nalgorithm = \"hmac-sha512\"\nsecret_file = \"k2.secret\"\n"
	path := writeLBConfig(t, keys+extra)
	for name, s := range map[string]string{"k1.secret": tsigSecret1, "k2.secret": tsigSecret2} {
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), name), []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestTSIGConfigCheck: a secret file readable by every user, missing, not
// a file or not base64 is refused with its line; so are an unknown
// algorithm and keys [transfer] names that are not defined.
func TestTSIGConfigCheck(t *testing.T) {
	path := writeTSIGConfig(t, "[transfer]\nkeys = [\"k1.\", \"K2.Example\"]\nnotify = [\"127.0.0.1:53\"]\nnotify_key = \"k1\"\n")
	if _, err := config.Load(path); err != nil { // the keys it holds: TestNewSettings (dnslb/transfer)
		t.Fatalf("good config: %v", err)
	}

	dir := filepath.Dir(path)
	write := func(name, text string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	write("open.secret", tsigSecret1, 0o644)
	write("writable.secret", tsigSecret1, 0o602)
	write("group.secret", tsigSecret1, 0o640)
	write("text.secret", "not base64 at all!\n", 0o600)
	write("empty.secret", "\n", 0o600)
	cfg := `zone_dir = "zones"
[tsig.keys.open]
algorithm = "hmac-sha256"
secret_file = "open.secret"
[tsig.keys.writable]
algorithm = "hmac-sha256"
secret_file = "writable.secret"
[tsig.keys.group]
algorithm = "HMAC-SHA384."
secret_file = "group.secret"
[tsig.keys.text]
algorithm = "hmac-sha1"
secret_file = "text.secret"
[tsig.keys.empty]
algorithm = "hmac-sha224"
secret_file = "empty.secret"
[tsig.keys.missing]
algorithm = "hmac-sha256"
secret_file = "missing.secret"
[tsig.keys.folder]
algorithm = "hmac-sha256"
secret_file = "zones"
[tsig.keys.md5]
algorithm = "hmac-md5"
secret_file = "group.secret"
[tsig.keys.noalg]
secret_file = "group.secret"
[tsig.keys.nofile]
algorithm = "hmac-sha256"
[transfer]
keys = ["group", "nokey"]
notify_key = "group"
`
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(bad)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	got := err.Error()
	for _, want := range []string{
		bad + ":4: tsig.keys.open.secret_file: " + filepath.Join(dir, "open.secret") + " may be read or written by every user (mode 0644)",
		bad + ":7: tsig.keys.writable.secret_file: " + filepath.Join(dir, "writable.secret") + " may be read or written by every user (mode 0602)",
		bad + ":13: tsig.keys.text.secret_file: " + filepath.Join(dir, "text.secret") + " does not hold a base64 secret",
		bad + ":16: tsig.keys.empty.secret_file: " + filepath.Join(dir, "empty.secret") + " is empty",
		bad + ":19: tsig.keys.missing.secret_file: stat " + filepath.Join(dir, "missing.secret") + ": no such file or directory",
		bad + ":22: tsig.keys.folder.secret_file: " + filepath.Join(dir, "zones") + " is not a regular file",
		bad + `:24: tsig.keys.md5.algorithm: "hmac-md5" is not one of hmac-sha1,`,
		bad + ":26: tsig.keys.noalg.algorithm: missing: one of",
		bad + ":28: tsig.keys.nofile.secret_file: missing: a file that holds the base64 secret",
		bad + `:31: transfer.keys: "nokey" (entry 2) is not defined in a [tsig.keys.nokey] table`,
		bad + ":32: transfer.notify_key: set, but transfer.notify names no secondary",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q", want)
		}
	}
	if strings.Contains(got, "tsig.keys.group.") {
		t.Errorf("a group-readable secret file (0640) is refused:\n%s", got)
	}
	if t.Failed() {
		t.Logf("errors:\n%s", got)
	}
}

// tsigQuery sends m signed with key name and secret (at signed, unless
// zero) over net and returns the reply as read, its TSIG unchecked, and
// the query's MAC.
func tsigQuery(t *testing.T, addr, network string, m *dns.Msg, name, alg, secret string, signed time.Time) (r *dns.Msg, raw []byte, mac string) {
	t.Helper()
	if signed.IsZero() {
		signed = time.Now()
	}
	m.SetTsig(name, alg, 300, signed.Unix())
	pkt, mac, err := dns.TsigGenerate(m, secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 65535)
	var n int
	if network == "tcp" {
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...)); err != nil {
			t.Fatal(err)
		}
		if _, err := readFull(c, buf[:2]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(buf))
		if _, err := readFull(c, buf[:n]); err != nil {
			t.Fatal(err)
		}
	} else {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		if n, err = c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	r = new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return r, buf[:n:n], mac
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// macOf computes, as RFC 8945 section 4.3 has it and independently of
// miekg/dns, the HMAC-SHA256 of a reply to a query whose MAC was reqMAC
// (hex), and reports whether it is the reply's MAC.
func macOf(t *testing.T, reply []byte, secret, reqMAC string) bool {
	t.Helper()
	r := new(dns.Msg)
	if err := r.Unpack(reply); err != nil {
		t.Fatal(err)
	}
	ts := r.IsTsig()
	if ts == nil || ts.MACSize == 0 {
		return false
	}
	tsigRR := make([]byte, dns.Len(ts)+64)
	off, err := dns.PackRR(ts, tsigRR, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	msg := append([]byte(nil), reply[:len(reply)-off]...)
	binary.BigEndian.PutUint16(msg[0:], ts.OrigId)
	binary.BigEndian.PutUint16(msg[10:], binary.BigEndian.Uint16(msg[10:])-1)
	key, _ := base64.StdEncoding.DecodeString(secret)
	h := hmac.New(sha256.New, key)
	rm, _ := hex.DecodeString(reqMAC)
	_ = binary.Write(h, binary.BigEndian, uint16(len(rm)))
	h.Write(rm)
	h.Write(msg)
	name := make([]byte, 256)
	n, _ := dns.PackDomainName(dns.CanonicalName(ts.Hdr.Name), name, 0, nil, false)
	h.Write(name[:n])
	_ = binary.Write(h, binary.BigEndian, uint16(dns.ClassANY))
	_ = binary.Write(h, binary.BigEndian, uint32(0))
	n, _ = dns.PackDomainName(dns.CanonicalName(ts.Algorithm), name, 0, nil, false)
	h.Write(name[:n])
	h.Write([]byte{byte(ts.TimeSigned >> 40), byte(ts.TimeSigned >> 32), byte(ts.TimeSigned >> 24),
		byte(ts.TimeSigned >> 16), byte(ts.TimeSigned >> 8), byte(ts.TimeSigned)})
	_ = binary.Write(h, binary.BigEndian, ts.Fudge)
	_ = binary.Write(h, binary.BigEndian, ts.Error)
	other, _ := hex.DecodeString(ts.OtherData)
	_ = binary.Write(h, binary.BigEndian, uint16(len(other)))
	h.Write(other)
	return hex.EncodeToString(h.Sum(nil)) == strings.ToLower(ts.MAC)
}

// TestTSIGQueries: a signed query with a good key gets its usual answer,
// signed (over UDP and TCP); an unknown key NOTAUTH/BADKEY, a known name
// with another algorithm too, a wrong secret NOTAUTH/BADSIG, both
// unsigned; a time outside the fudge NOTAUTH/BADTIME, signed, with the
// server's clock in Other Data; a TSIG that is not the last record
// FORMERR. A reply that outgrows UDP with its TSIG goes out TC=1, signed.
func TestTSIGQueries(t *testing.T) {
	path := writeTSIGConfig(t, "[transfer]\nkeys = [\"k1\"]\n")
	zone := "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n"
	for i := range 28 {
		zone += fmt.Sprintf("many IN A 192.0.2.%d\n", i+1)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "zones", "big.test.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, path)
	soa := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("example.org.", dns.TypeSOA)
		return m
	}
	for _, network := range []string{"udp", "tcp"} {
		q := soa()
		r, raw, qmac := tsigQuery(t, addr, network, q, "k1.", dns.HmacSHA256, tsigSecret1, time.Time{})
		ts := r.IsTsig()
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || ts == nil || ts.Error != 0 || ts.Hdr.Name != "k1." {
			t.Fatalf("%s: signed SOA query: %v", network, r)
		}
		if !macOf(t, raw, tsigSecret1, qmac) {
			t.Errorf("%s: the reply's MAC is not the one RFC 8945 computes", network)
		}
		if err := dns.TsigVerify(raw, tsigSecret1, qmac, false); err != nil {
			t.Errorf("%s: miekg/dns does not verify the reply: %v", network, err)
		}
	}
	// Unknown key, known name with another algorithm, wrong secret.
	for _, c := range []struct {
		name, alg, secret string
		code              uint16
	}{
		{"nokey.", dns.HmacSHA256, tsigSecret1, dns.RcodeBadKey},
		{"k1.", dns.HmacSHA512, tsigSecret1, dns.RcodeBadKey},
		{"k1.", dns.HmacSHA256, wrongSecret, dns.RcodeBadSig},
		{"k2.example.", dns.HmacSHA512, tsigSecret1, dns.RcodeBadSig},
	} {
		for _, network := range []string{"udp", "tcp"} {
			r, _, _ := tsigQuery(t, addr, network, soa(), c.name, c.alg, c.secret, time.Time{})
			ts := r.IsTsig()
			if r.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != c.code || ts.MACSize != 0 || len(r.Answer) != 0 {
				t.Errorf("%s %s %s: %v, want NOTAUTH with TSIG error %s, unsigned", network, c.name, c.alg, r, dns.RcodeToString[int(c.code)])
			}
		}
	}
	// Out of the fudge: BADTIME, signed, with our clock.
	q := soa()
	signedAt := time.Now().Add(-time.Hour)
	r, raw, qmac := tsigQuery(t, addr, "udp", q, "k1.", dns.HmacSHA256, tsigSecret1, signedAt)
	ts := r.IsTsig()
	if r.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != dns.RcodeBadTime || ts.OtherLen != 6 {
		t.Fatalf("query signed an hour ago: %v, want NOTAUTH/BADTIME", r)
	}
	server, _ := strconv.ParseInt(ts.OtherData, 16, 64)
	if d := time.Since(time.Unix(server, 0)); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("BADTIME: Other Data %s is %v from our clock", ts.OtherData, d)
	}
	if ts.TimeSigned != uint64(signedAt.Unix()) {
		t.Errorf("BADTIME: time signed %d, want the query's %d", ts.TimeSigned, signedAt.Unix())
	}
	if !macOf(t, raw, tsigSecret1, qmac) {
		t.Errorf("BADTIME reply not signed with k1: %v", r)
	}
	// A truncated MAC (RFC 8945 section 5.2.2.1): 16 of SHA-256's 32
	// octets is allowed by the RFC but below what we check: BADTRUNC,
	// unsigned; 8 octets (under 10) and 40 (over 32) are malformed.
	for _, c := range []struct {
		size  int
		rcode int
	}{{16, dns.RcodeNotAuth}, {31, dns.RcodeNotAuth}, {8, dns.RcodeFormatError}, {40, dns.RcodeFormatError}} {
		m := soa()
		m.SetTsig("k1.", dns.HmacSHA256, 300, time.Now().Unix())
		signed, mac, err := dns.TsigGenerate(m, tsigSecret1, "", false)
		if err != nil {
			t.Fatal(err)
		}
		m2 := new(dns.Msg)
		if err := m2.Unpack(signed); err != nil {
			t.Fatal(err)
		}
		full, _ := hex.DecodeString(mac)
		cut := append(full, full...)[:c.size]
		ts := m2.Extra[len(m2.Extra)-1].(*dns.TSIG)
		ts.MACSize, ts.MAC = uint16(c.size), hex.EncodeToString(cut)
		r := rawUDP(t, addr, mustPack(t, m2))
		if r.Rcode != c.rcode {
			t.Errorf("MAC of %d octets: rcode %s, want %s", c.size, dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode])
			continue
		}
		if c.rcode == dns.RcodeNotAuth {
			if rt := r.IsTsig(); rt == nil || rt.Error != dns.RcodeBadTrunc || rt.MACSize != 0 {
				t.Errorf("MAC of %d octets: %v, want TSIG error BADTRUNC, unsigned", c.size, r)
			}
		}
	}
	// TSIG not the last record: FORMERR.
	m := soa()
	m.SetTsig("k1.", dns.HmacSHA256, 300, time.Now().Unix())
	signed, _, err := dns.TsigGenerate(m, tsigSecret1, "", false)
	if err != nil {
		t.Fatal(err)
	}
	m2 := new(dns.Msg)
	if err := m2.Unpack(signed); err != nil {
		t.Fatal(err)
	}
	m2.SetEdns0(1232, false) // after the TSIG
	pkt, err := m2.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if r := rawUDP(t, addr, pkt); r.Rcode != dns.RcodeFormatError {
		t.Errorf("TSIG before OPT: %v, want FORMERR", r)
	}
	// 28 A records fit 512 bytes (493); with the TSIG they do not.
	q = new(dns.Msg)
	q.SetQuestion("many.big.test.", dns.TypeA)
	if r := rawUDP(t, addr, mustPack(t, q)); r.Truncated || len(r.Answer) != 28 {
		t.Fatalf("unsigned query for 28 A records over UDP: TC %v, %d records; want them all", r.Truncated, len(r.Answer))
	}
	r, raw, qmac = tsigQuery(t, addr, "udp", q, "k1.", dns.HmacSHA256, tsigSecret1, time.Time{})
	if len(raw) > 512 || !r.Truncated || len(r.Answer) != 0 || !macOf(t, raw, tsigSecret1, qmac) {
		t.Errorf("signed query for 28 A records over UDP: %d bytes, %v; want TC=1, signed", len(raw), r)
	}
	q = new(dns.Msg)
	q.SetQuestion("many.big.test.", dns.TypeA)
	if r, raw, qmac := tsigQuery(t, addr, "tcp", q, "k1.", dns.HmacSHA256, tsigSecret1, time.Time{}); len(r.Answer) != 28 || !macOf(t, raw, tsigSecret1, qmac) {
		t.Errorf("signed query for 28 A records over TCP: %d records, %v", len(r.Answer), r.IsTsig())
	}
}

func mustPack(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawUDP sends pkt and returns the reply, read without checking a TSIG.
func rawUDP(t *testing.T, addr string, pkt []byte) *dns.Msg {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return r
}

// signedAXFR transfers zone signed with key name/secret through miekg's
// Transfer, which checks every message's TSIG (RFC 8945 section 5.3.1).
func signedAXFR(t *testing.T, addr, zone, name, alg, secret string) (rrs []dns.RR, msgs int, err error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetAxfr(zone)
	m.SetTsig(name, alg, 300, time.Now().Unix())
	tr := &dns.Transfer{TsigSecret: map[string]string{name: secret}}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, 0, err
	}
	for env := range ch {
		if env.Error != nil {
			return rrs, msgs, env.Error
		}
		msgs++
		rrs = append(rrs, env.RR...)
	}
	return rrs, msgs, nil
}

// TestTSIGTransfer: with transfer.keys, a transfer signed with k1 gets
// every message signed (a large zone in several); signed with k2, known
// but not listed, NOTAUTH/BADKEY; unsigned, NOTAUTH; with a wrong
// secret, BADSIG. With allow as well, a signed transfer from an address
// not allowed gets NOTAUTH, signed.
func TestTSIGTransfer(t *testing.T) {
	path := writeTSIGConfig(t, "[transfer]\nkeys = [\"k1\"]\n")
	writeBigZone(t, path)
	srv, addr := startServer(t, path)
	for _, zone := range []string{"example.org.", "big.test."} {
		rrs, msgs, err := signedAXFR(t, addr, zone, "k1.", dns.HmacSHA256, tsigSecret1)
		if err != nil {
			t.Fatalf("AXFR %s signed with k1: %v", zone, err)
		}
		if want := srv.Store().Snapshot().Zone(zone).Len() + 1; len(rrs) != want {
			t.Errorf("AXFR %s: %d records, want %d", zone, len(rrs), want)
		}
		if zone == "big.test." && msgs < 4 {
			t.Errorf("AXFR big.test.: %d messages, want several", msgs)
		}
	}
	// Each message of the large transfer checked by hand, too: the
	// first over the query's MAC, the others over the last one's with
	// the timers alone (miekg's Transfer does the same with its code).
	m := new(dns.Msg)
	m.SetAxfr("big.test.")
	m.SetTsig("k1.", dns.HmacSHA256, 300, time.Now().Unix())
	pkt, reqMAC, err := dns.TsigGenerate(m, tsigSecret1, "", false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...)); err != nil {
		t.Fatal(err)
	}
	prev, soas, msgs := reqMAC, 0, 0
	for soas < 2 && msgs < 1000 {
		var l [2]byte
		if _, err := readFull(c, l[:]); err != nil {
			t.Fatalf("message %d: %v", msgs+1, err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := readFull(c, b); err != nil {
			t.Fatal(err)
		}
		if err := dns.TsigVerify(slicesClone(b), tsigSecret1, prev, msgs > 0); err != nil {
			t.Fatalf("message %d of the AXFR: %v", msgs+1, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			t.Fatal(err)
		}
		for _, rr := range r.Answer {
			if rr.Header().Rrtype == dns.TypeSOA {
				soas++
			}
		}
		prev = r.IsTsig().MAC
		msgs++
	}
	if msgs < 4 {
		t.Errorf("AXFR big.test.: %d messages, all signed; want several", msgs)
	}

	for _, k := range []struct {
		name, alg, secret string
		code              uint16
	}{
		{"k2.example.", dns.HmacSHA512, tsigSecret2, dns.RcodeBadKey},
		{"k1.", dns.HmacSHA256, wrongSecret, dns.RcodeBadSig},
		{"nokey.", dns.HmacSHA256, tsigSecret1, dns.RcodeBadKey},
	} {
		q := new(dns.Msg)
		q.SetAxfr("example.org.")
		r, _, _ := tsigQuery(t, addr, "tcp", q, k.name, k.alg, k.secret, time.Time{})
		if ts := r.IsTsig(); r.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != k.code || len(r.Answer) != 0 {
			t.Errorf("AXFR signed with %s: %v, want NOTAUTH with TSIG error %s", k.name, r, dns.RcodeToString[int(k.code)])
		}
	}
	if _, _, rcode := axfr(t, addr, "example.org.", dns.TypeAXFR, 0, false); rcode != dns.RcodeNotAuth {
		t.Errorf("unsigned AXFR with transfer.keys set: rcode %d, want NOTAUTH", rcode)
	}
	// IXFR, up to date: the SOA alone, signed.
	q := new(dns.Msg)
	q.SetIxfr("example.org.", 1, "ns1.example.org.", "hostmaster.example.org.")
	r, raw, qmac := tsigQuery(t, addr, "tcp", q, "k1.", dns.HmacSHA256, tsigSecret1, time.Time{})
	if len(r.Answer) != 1 || !macOf(t, raw, tsigSecret1, qmac) {
		t.Errorf("signed IXFR: %v", r)
	}

	// Address and key both required: from 127.0.0.1, not in allow.
	both := writeTSIGConfig(t, "[transfer]\nallow = [\"192.0.2.53\"]\nkeys = [\"k1\"]\n")
	_, addr2 := startServer(t, both)
	q = new(dns.Msg)
	q.SetAxfr("example.org.")
	r, raw, qmac = tsigQuery(t, addr2, "tcp", q, "k1.", dns.HmacSHA256, tsigSecret1, time.Time{})
	if r.Rcode != dns.RcodeNotAuth || len(r.Answer) != 0 || !macOf(t, raw, tsigSecret1, qmac) {
		t.Errorf("signed AXFR from an address not allowed: %v, want NOTAUTH, signed", r)
	}
	// Allow alone: a signed transfer from an allowed address is signed.
	addrOnly := writeTSIGConfig(t, "[transfer]\nallow = [\"127.0.0.1\"]\n")
	_, addr3 := startServer(t, addrOnly)
	if _, _, err := signedAXFR(t, addr3, "example.org.", "k2.example.", dns.HmacSHA512, tsigSecret2); err != nil {
		t.Errorf("signed AXFR with allow alone: %v", err)
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// TestNotifySigned: with notify_key, the NOTIFY carries a TSIG made
// with that key, and dnslb checks the secondary's signed answer.
func TestNotifySigned(t *testing.T) {
	sec, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sec.Close()
	path := writeTSIGConfig(t, fmt.Sprintf("[transfer]\nnotify = [%q]\nnotify_key = \"k1\"\n", sec.LocalAddr()))
	startServer(t, path)
	_ = sec.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, from, err := sec.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no NOTIFY: %v", err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	ts := m.IsTsig()
	if m.Opcode != dns.OpcodeNotify || ts == nil || ts.Hdr.Name != "k1." || ts.Algorithm != dns.HmacSHA256 {
		t.Fatalf("NOTIFY %v, want one signed with k1", m)
	}
	if err := dns.TsigVerify(slicesClone(buf[:n]), tsigSecret1, "", false); err != nil {
		t.Fatalf("NOTIFY's TSIG: %v", err)
	}
	r := new(dns.Msg)
	r.SetReply(m)
	r.Extra = nil
	r.SetTsig("k1.", dns.HmacSHA256, 300, time.Now().Unix())
	out, _, err := dns.TsigGenerate(r, tsigSecret1, ts.MAC, false)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = sec.WriteTo(out, from)
}

// TestTSIGSecretReload: a new secret in the secret file is picked up by
// the watcher, as a zone file is: the old secret then gets BADSIG.
func TestTSIGSecretReload(t *testing.T) {
	path := writeTSIGConfig(t, "")
	_, addr := startServer(t, path)
	soa := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("example.org.", dns.TypeSOA)
		return m
	}
	if r, _, _ := tsigQuery(t, addr, "udp", soa(), "k1.", dns.HmacSHA256, tsigSecret1, time.Time{}); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("before: %v", r)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "k1.secret"), []byte(wrongSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, _, _ := tsigQuery(t, addr, "udp", soa(), "k1.", dns.HmacSHA256, wrongSecret, time.Time{})
		if r.Rcode == dns.RcodeSuccess {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new secret is not used 10s after the file changed: %v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r, _, _ := tsigQuery(t, addr, "udp", soa(), "k1.", dns.HmacSHA256, tsigSecret1, time.Time{}); r.IsTsig() == nil || r.IsTsig().Error != dns.RcodeBadSig {
		t.Errorf("the old secret after the change: %v, want BADSIG", r)
	}
}
