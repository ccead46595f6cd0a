package dnslb

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
)

// BenchmarkGeoSubnets is the bench's geo-subnets scenario without sockets:
// A queries for 8 geo names, each with ECS from 65,536 distinct /24s spread
// over the IPv4 space (bench/ecsload's permutation), against the bench's
// world-like GeoIP database (bench/gengeo, made with `go run`) and its geo
// rules, in the order ecsload sends them. Every query is a memo hit after
// the first pass: this is the per-query work of geo answers at a real
// resolver mix of subnets.
//
// Timings on a shared 2-core machine are noise; instructions are not:
//
//	go test -c -o /tmp/dnslb.test ./dnslb/ && cd dnslb &&
//	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
//	  --toggle-collect='github.com/dnslb/dnslb/dnslb.geoBenchAnswer' \
//	  /tmp/dnslb.test -test.run XXX -test.bench GeoSubnets -test.benchtime 100000x
//
// counts the instructions of 100,000 answers only (the setup is left out):
// divide callgrind's total by 100,000. (asyncpreemptoff: callgrind trips
// over the runtime's preemption signals.)
func BenchmarkGeoSubnets(b *testing.B) {
	w, pkts := geoBenchSetup(b)
	from := netip.MustParseAddrPort("127.0.0.1:5353")
	for _, p := range pkts { // the memo's first sight of each decision (not geoBenchAnswer: callgrind counts that one)
		w.ans.Answer(p, from, w.outs[0], false, time.Time{}, nil)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if geoBenchAnswer(w, pkts[i], from) == nil {
			b.Fatal("no reply")
		}
		if i++; i == len(pkts) {
			i = 0
		}
	}
}

// geoBenchAnswer is one answer, in a function of its own for callgrind's
// --toggle-collect.
//
//go:noinline
func geoBenchAnswer(w *udpWorker, pkt []byte, from netip.AddrPort) []byte {
	return w.ans.Answer(pkt, from, w.outs[0], false, time.Time{}, nil)
}

// geoBenchSetup writes the bench's geo data, zone and config for 8 names
// and returns a worker of a server on them, with the queries.
func geoBenchSetup(b testing.TB) (*udpWorker, [][]byte) {
	b.Helper()
	dir := b.TempDir()
	world := filepath.Join(dir, "world.mmdb")
	cmd := exec.Command("go", "run", "./bench/gengeo", "-out", world)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go run ./bench/gengeo: %v\n%s", err, out)
	}
	hosts := []int{0, 1250, 2500, 3750, 5000, 6250, 7500, 8750}
	var zone, conf strings.Builder
	zone.WriteString("$ORIGIN bench.example.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 604800 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n")
	fmt.Fprintf(&conf, "zone_dir = %q\n[log]\nlevel = \"warn\"\n[geoip]\nfiles = [%q]\n", dir, world)
	for _, h := range hosts {
		lo, hi := h%250+1, (h+123)%250+1
		eu, na, as, oc := fmt.Sprintf("192.0.2.%d", lo), fmt.Sprintf("192.0.2.%d", hi), fmt.Sprintf("198.51.100.%d", lo), fmt.Sprintf("203.0.113.%d", lo)
		v6a, v6b := fmt.Sprintf("2001:db8:0:%x::1", h), fmt.Sprintf("2001:db8:0:%x::2", h)
		for _, a := range []string{eu, as, oc, na} {
			fmt.Fprintf(&zone, "h%d IN A %s\n", h, a)
		}
		fmt.Fprintf(&zone, "h%d IN AAAA %s\nh%d IN AAAA %s\n", h, v6a, h, v6b)
		n := fmt.Sprintf("name.\"h%d.bench.example\"", h)
		fmt.Fprintf(&conf, "[%s]\nselect = \"geo\"\ndefault = \"global\"\n", n)
		for _, g := range [][3]string{{"eu", eu, v6a}, {"na", na, v6b}, {"as", as, v6a}, {"oc", oc, v6b}} {
			fmt.Fprintf(&conf, "[%s.groups.%s]\naddresses = [%q, %q]\n", n, g[0], g[1], g[2])
		}
		fmt.Fprintf(&conf, "[%s.groups.global]\naddresses = [%q, %q, %q, %q, %q, %q]\n", n, eu, as, oc, na, v6a, v6b)
		for _, r := range [][2]string{{"continent:EU", "eu"}, {"country:US", "na"}, {"country:JP", "as"}, {"continent:OC", "oc"}} {
			fmt.Fprintf(&conf, "[[%s.rules]]\nmatch = [%q]\ngroup = %q\n", n, r[0], r[1])
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.example.zone"), []byte(zone.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	w := newUDPWorker(newConfigServer(b, path))
	// bench/ecsload's /24s: a fixed permutation of the 2^24, without 0/8,
	// 10/8, 127/8 and 224/3; each sender goes through the names with the
	// subnet varying fastest, so that queries in a row differ in both.
	var subnets []uint32
	for k := uint32(0); len(subnets) < 65536; k++ {
		p := (k*0x9E3779B1 ^ 0x5A5A5A) & 0xFFFFFF
		if a := p >> 16; a != 0 && a != 10 && a != 127 && a < 224 {
			subnets = append(subnets, p)
		}
	}
	pkts := make([][]byte, 0, len(subnets)*len(hosts))
	for _, p := range subnets {
		for _, h := range hosts {
			m := new(dns.Msg)
			m.SetQuestion(fmt.Sprintf("h%d.bench.example.", h), dns.TypeA)
			m.RecursionDesired = false
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24,
				Address: net.IPv4(byte(p>>16), byte(p>>8), byte(p), 0).To4()})
			pkt, err := m.Pack()
			if err != nil {
				b.Fatal(err)
			}
			pkts = append(pkts, pkt)
		}
	}
	return w, pkts
}

// TestPrefetchSameReplies checks that the batch path of the UDP loop
// (Worker.Prefetch, which parses a batch's queries and warms the memo's
// entries and the GeoIP tables for them, then Answer with each parsed
// query) gives the replies Answer gives alone: for the bench's geo names,
// with ECS from many /24s and without ECS from many source addresses, in
// batches of 16 and of one, once every reply is in the memo.
func TestPrefetchSameReplies(t *testing.T) {
	w, ecs := geoBenchSetup(t)
	pkts := ecs[:2048]
	var froms []netip.AddrPort
	for i := range 2048 {
		froms = append(froms, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, byte(i >> 8), byte(i), 1}), 5353))
	}
	for i := range 1024 { // the same names without ECS
		m := new(dns.Msg)
		if err := m.Unpack(ecs[i]); err != nil {
			t.Fatal(err)
		}
		m.IsEdns0().Option = nil
		p, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		pkts[1024+i] = p
	}
	// What a reply says, its round-robin order left out (both passes step
	// the names' shared counters).
	norm := func(reply []byte) string {
		m := new(dns.Msg)
		if err := m.Unpack(reply); err != nil {
			t.Fatalf("unpack reply: %v", err)
		}
		var rrs []string
		for _, rr := range m.Answer {
			rrs = append(rrs, rr.String())
		}
		slices.Sort(rrs)
		scope := -1
		if o := m.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if s, ok := e.(*dns.EDNS0_SUBNET); ok {
					scope = int(s.SourceScope)
				}
			}
		}
		return fmt.Sprintf("id %d rcode %d scope %d %v", m.Id, m.Rcode, scope, rrs)
	}
	run := func(batch int) []string {
		out := make([]string, len(pkts))
		for i := 0; i < len(pkts); i += batch {
			end := min(len(pkts), i+batch)
			qs := w.ans.Prefetch(pkts[i:end], froms[i:end])
			if batch > 1 && qs == nil {
				t.Fatal("Prefetch parsed nothing with the memo on")
			}
			for j := i; j < end; j++ {
				var pre *answer.Parsed
				if qs != nil {
					pre = &qs[j-i]
				}
				reply := w.ans.Answer(pkts[j], froms[j], w.outs[0], false, time.Time{}, pre)
				if reply == nil {
					t.Fatalf("query %d: no reply", j)
				}
				out[j] = norm(reply)
			}
		}
		return out
	}
	run(1) // the memo's first and second sight of every decision
	run(1)
	alone, batched := run(1), run(16)
	distinct := map[string]bool{}
	for i := range pkts {
		if alone[i] != batched[i] {
			t.Fatalf("query %d: alone %s\nin a batch %s", i, alone[i], batched[i])
		}
		distinct[alone[i][strings.Index(alone[i], " rcode"):]] = true
	}
	if len(distinct) < 8 {
		t.Fatalf("only %d distinct replies: the queries do not exercise the geo rules", len(distinct))
	}
	// The batch path allocates nothing once the replies are held (a
	// batch's clients once escaped to the heap through Warm).
	batch, bfrom := pkts[:16], froms[:16]
	if n := testing.AllocsPerRun(100, func() {
		qs := w.ans.Prefetch(batch, bfrom)
		for j := range batch {
			w.ans.Answer(batch[j], bfrom[j], w.outs[0], false, time.Time{}, &qs[j])
		}
	}); n != 0 {
		t.Errorf("a batch of %d from the memo allocates %v times, want 0", len(batch), n)
	}
}
