package dnslb

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
		r, err := c.ReadMsg()
		if err != nil {
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
	var big strings.Builder
	big.WriteString("$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n")
	for i := range 3000 {
		fmt.Fprintf(&big, "h%d IN A 192.0.2.%d\n  IN TXT \"host %d of the big zone\"\n", i, i%250+1, i)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfgPath), "zones", "big.test.zone"), []byte(big.String()), 0o644); err != nil {
		t.Fatal(err)
	}
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

	// Not in allow: NOTAUTH, as before.
	other := writeLBConfig(t, "[transfer]\nallow = [\"192.0.2.53\", \"2001:db8::/32\"]\n")
	_, addr2 := startServer(t, other)
	if _, _, rcode := axfr(t, addr2, "example.org.", dns.TypeAXFR, 0, false); rcode != dns.RcodeNotAuth {
		t.Errorf("AXFR from a client not allowed: rcode %d, want NOTAUTH", rcode)
	}
}
