package dnslb

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// axfr transfers zone from addr over TCP and returns the records of every
// message, in order, and the number of messages; or the rcode of a refusal.
func axfr(t *testing.T, addr, zone string, qtype uint16, serial uint32, tsig bool) (rrs []dns.RR, msgs int, rcode int) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, qtype)
	if qtype == dns.TypeIXFR {
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET},
			Ns: "ns1." + zone, Mbox: "hostmaster." + zone, Serial: serial}}
	}
	if tsig {
		// Signed with a key the server does not know: sent as packed,
		// and the unsigned refusal read without checking a signature.
		m.SetTsig("key.", dns.HmacSHA256, 300, 1700000000)
		c, err := dns.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(pkt); err != nil { // dns.Conn adds the length
			t.Fatal(err)
		}
		b, err := c.ReadMsgHeader(nil) // ReadMsg would check the TSIG
		if err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			t.Fatal(err)
		}
		return r.Answer, 1, r.Rcode
	}
	tr := &dns.Transfer{}
	ch, err := tr.In(m, addr)
	if err != nil {
		t.Fatalf("transfer %s: %v", zone, err)
	}
	for env := range ch {
		if env.Error != nil {
			if strings.Contains(env.Error.Error(), "bad xfr rcode") {
				var rc int
				fmt.Sscanf(env.Error.Error()[strings.LastIndex(env.Error.Error(), " ")+1:], "%d", &rc)
				return nil, msgs, rc
			}
			t.Fatalf("transfer %s: %v", zone, env.Error)
		}
		msgs++
		rrs = append(rrs, env.RR...)
	}
	return rrs, msgs, dns.RcodeSuccess
}

// TestZoneTransfer: AXFR and IXFR over TCP give the zone as loaded, SOA
// first and last, in several messages for a large zone; IXFR from a
// secondary that has our serial gets the SOA alone; a client not allowed,
// or a query signed with TSIG, gets NOTAUTH.
func TestZoneTransfer(t *testing.T) {
	cfgPath := writeLBConfig(t, "[transfer]\nallow = [\"127.0.0.0/8\"]\n")
	writeBigZone(t, cfgPath)
	srv, addr := startServer(t, cfgPath)
	snap := srv.Store().Snapshot()
	for _, zone := range []string{"example.org.", "big.test."} {
		z := snap.Zone(zone)
		rrs, msgs, rcode := axfr(t, addr, zone, dns.TypeAXFR, 0, false)
		if rcode != dns.RcodeSuccess || len(rrs) < 3 {
			t.Fatalf("AXFR %s: rcode %d, %d records", zone, rcode, len(rrs))
		}
		if rrs[0].String() != z.SOA.String() || rrs[len(rrs)-1].String() != z.SOA.String() {
			t.Errorf("AXFR %s: first %v, last %v, want the SOA", zone, rrs[0], rrs[len(rrs)-1])
		}
		var got, want []string
		for _, rr := range rrs[1 : len(rrs)-1] {
			got = append(got, strings.ToLower(rr.String()))
		}
		for _, rr := range z.Records() {
			if rr.Header().Rrtype != dns.TypeSOA {
				want = append(want, strings.ToLower(rr.String()))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("AXFR %s: %d records, the zone has %d (or they differ)", zone, len(got), len(want))
		}
		if zone == "big.test." && msgs < 4 {
			t.Errorf("AXFR big.test.: %d messages for %d records, want several", msgs, len(rrs))
		}
		// IXFR: up to date (same serial or newer): the SOA alone; older:
		// the whole zone.
		for _, serial := range []uint32{z.SOA.Serial, z.SOA.Serial + 5} {
			if rrs, _, rcode := axfr(t, addr, zone, dns.TypeIXFR, serial, false); rcode != 0 || len(rrs) != 1 || rrs[0].String() != z.SOA.String() {
				t.Errorf("IXFR %s from serial %d: rcode %d, %d records, want our SOA alone", zone, serial, rcode, len(rrs))
			}
		}
		if rrs, _, rcode := axfr(t, addr, zone, dns.TypeIXFR, z.SOA.Serial-1, false); rcode != 0 || len(rrs) != len(got)+2 {
			t.Errorf("IXFR %s from an older serial: rcode %d, %d records, want the zone's %d", zone, rcode, len(rrs), len(got)+2)
		}
	}
	if _, _, rcode := axfr(t, addr, "example.org.", dns.TypeAXFR, 0, true); rcode != dns.RcodeNotAuth {
		t.Errorf("AXFR signed with TSIG: rcode %d, want NOTAUTH", rcode)
	}
	if _, _, rcode := axfr(t, addr, "www.example.org.", dns.TypeAXFR, 0, false); rcode != dns.RcodeNotAuth {
		t.Errorf("AXFR of a name that is not a zone: rcode %d, want NOTAUTH", rcode)
	}
	// Counted per zone; a name that is no zone is "none", not a label.
	for series, want := range map[string]float64{
		`dnslb_transfers_total{result="ok",type="AXFR",zone="example.org"}`:      1,
		`dnslb_transfers_total{result="ok",type="IXFR",zone="big.test"}`:         3,
		`dnslb_transfers_total{result="refused",type="AXFR",zone="example.org"}`: 1,
		`dnslb_transfers_total{result="refused",type="AXFR",zone="none"}`:        1,
	} {
		if got := metricValue(t, srv, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}

	// Not in allow: NOTAUTH, as before.
	other := writeLBConfig(t, "[transfer]\nallow = [\"192.0.2.53\", \"2001:db8::/32\"]\n")
	_, addr2 := startServer(t, other)
	if _, _, rcode := axfr(t, addr2, "example.org.", dns.TypeAXFR, 0, false); rcode != dns.RcodeNotAuth {
		t.Errorf("AXFR from a client not allowed: rcode %d, want NOTAUTH", rcode)
	}
}

// TestNotify: at startup each secondary in [transfer] notify gets a NOTIFY
// for every zone, with the zone's SOA (serial and names: Knot refuses a
// record without them), and an unreachable one holds up no other.
func TestNotify(t *testing.T) {
	sec, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sec.Close()
	// The first secondary never answers: the second must not wait for it.
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	cfgPath := writeLBConfig(t, fmt.Sprintf("[transfer]\nnotify = [%q, %q]\n", dead.LocalAddr(), sec.LocalAddr()))
	srv, _ := startServer(t, cfgPath)
	want := srv.Store().Snapshot().Zone("example.org.").SOA
	_ = sec.SetReadDeadline(time.Now().Add(1500 * time.Millisecond)) // before the dead one's first retry
	buf := make([]byte, 4096)
	n, from, err := sec.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no NOTIFY: %v", err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatalf("NOTIFY does not unpack: %v", err)
	}
	soa, ok := m.Answer[0].(*dns.SOA)
	if m.Opcode != dns.OpcodeNotify || !m.Authoritative || len(m.Question) != 1 || m.Question[0].Name != "example.org." ||
		m.Question[0].Qtype != dns.TypeSOA || !ok || soa.Serial != want.Serial || soa.Ns != want.Ns || soa.Mbox != want.Mbox {
		t.Fatalf("NOTIFY %v, want one for example.org. with %v", m, want)
	}
	r := new(dns.Msg)
	r.SetReply(m)
	out, _ := r.Pack()
	_, _ = sec.WriteTo(out, from)
	const series = `dnslb_notifies_total{result="ok",zone="example.org"}`
	for deadline := time.Now().Add(2 * time.Second); metricValue(t, srv, series) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after the secondary answered, want 1", series, metricValue(t, srv, series))
		}
	}
}

// TestZoneTransferLargeRecord: a record of nearly 65,500 bytes goes in a
// message of its own, within TCP's 65,535, and the SOA after it in
// another (with it, the message overflowed the two-byte length).
func TestZoneTransferLargeRecord(t *testing.T) {
	cfgPath := writeLBConfig(t, "[transfer]\nallow = [\"127.0.0.1\"]\n")
	var txt strings.Builder
	for range 256 {
		fmt.Fprintf(&txt, " %q", strings.Repeat("z", 254))
	}
	long := strings.Repeat("x", 60) + "." + strings.Repeat("y", 60) + "." + strings.Repeat("z", 60) // sorts last
	zone := "$ORIGIN large.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n" +
		long + " IN TXT (" + txt.String() + " )\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfgPath), "zones", "large.test.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, cfgPath)
	rrs, msgs, rcode := axfr(t, addr, "large.test.", dns.TypeAXFR, 0, false)
	if rcode != dns.RcodeSuccess || len(rrs) != 5 || msgs < 2 {
		t.Fatalf("AXFR large.test.: rcode %d, %d records in %d messages; want 5 in at least 2", rcode, len(rrs), msgs)
	}
	if rrs[0].Header().Rrtype != dns.TypeSOA || rrs[4].Header().Rrtype != dns.TypeSOA {
		t.Errorf("AXFR large.test.: first %v, last %v", rrs[0].Header(), rrs[4].Header())
	}
}

// writeBigZone adds big.test, 3,000 names with an A and a TXT record each
// (a transfer of several messages), to the zones folder of the config at
// cfgPath.
func writeBigZone(t *testing.T, cfgPath string) {
	t.Helper()
	var big strings.Builder
	big.WriteString("$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n")
	for i := range 3000 {
		fmt.Fprintf(&big, "h%d IN A 192.0.2.%d\n  IN TXT \"host %d of the big zone\"\n", i, i%250+1, i)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfgPath), "zones", "big.test.zone"), []byte(big.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
