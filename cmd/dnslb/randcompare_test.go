package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCompareRandom is TestCompare on zones made at random from a seed: a
// parent zone and a child zone delegated from it, with address RRsets of
// every size (some too large for 512 bytes), CNAMEs and chains into the
// zone, the child, other zones and nowhere, wildcards (blocked by names
// that exist, with CNAMEs, as MX targets), empty non-terminals, a
// delegation with glue and one to the child, a DNAME, MX and SRV targets,
// owners and data spelled in mixed case, escapes, TTLs per RRset or from
// $TTL. The hand-written zones of TestCompare cover each rule once; these
// cover their combinations. A random comparison run outside the repo
// (2,000,000 queries on 2,400 zones) found the differences fixed on
// 2026-11-26; this keeps a few seeds of it in CI.
//
// COMPARE_SEEDS="1 2 3" picks the seeds (default three); each is about
// ten seconds.
func TestCompareRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three DNS servers per seed; skipped with -short")
	}
	seeds := []uint64{1, 2, 3}
	if s := os.Getenv("COMPARE_SEEDS"); s != "" {
		seeds = nil
		for _, f := range strings.Fields(s) {
			n, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				t.Fatalf("COMPARE_SEEDS: %v", err)
			}
			seeds = append(seeds, n)
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range randomZones(seed) {
				if err := os.WriteFile(filepath.Join(dir, name+"zone"), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			zones := loadZones(t, dir)
			servers := []target{
				{name: "nsd", addr: startNSD(t, dir, zones)},
				{name: "knot", addr: startKnot(t, dir, zones)},
				{name: "dnslb", addr: startDNSLB(t, dir, zones)},
			}
			corpus := buildCorpus(zones)
			if len(corpus) < 1000 {
				t.Fatalf("only %d queries for seed %d", len(corpus), seed)
			}
			compareCorpus(t, zones, corpus, servers)
		})
	}
}

// randomZones returns the master files of a parent zone and its child,
// by zone name (with the trailing dot).
func randomZones(seed uint64) map[string]string {
	g := &zoneGen{r: rand.New(rand.NewPCG(seed, 0x646e736c62))}
	parent := fmt.Sprintf("r%d.test.", seed)
	child := "c." + parent
	nsChild := g.ip4()

	p := &g.b
	fmt.Fprintf(p, "$ORIGIN %s\n$TTL %d\n", g.spell(parent), g.ttl())
	fmt.Fprintf(p, "@ IN SOA ns1 hostmaster.%s ( %d 7200 3600 1209600 %d )\n", parent, 2026112600+g.r.IntN(99), 60+g.r.IntN(600))
	p.WriteString("@ NS ns1\n@ NS ns2.example.net.\n")
	fmt.Fprintf(p, "ns1 %s A %s\n", g.ttlField(), g.ip4())
	fmt.Fprintf(p, "@ MX 10 mail\n@ TXT \"v=spf1 -all\"\n@ CAA 0 issue \"ca.example.net\"\n")
	g.addrs("mail", 1+g.r.IntN(3), g.r.IntN(2))

	var hosts []string
	for i := range 10 + g.r.IntN(10) {
		h := g.label(i)
		if g.r.IntN(3) == 0 {
			h += "." + []string{"ent", "sub", "x.y"}[g.r.IntN(3)] // empty non-terminals above it
		}
		hosts = append(hosts, h)
		g.addrs(h, g.r.IntN(5), g.r.IntN(3))
		if g.r.IntN(3) == 0 {
			fmt.Fprintf(p, "%s TXT %q %q\n", g.spell(h), "text "+h, strings.Repeat("t", g.r.IntN(60)))
		}
		if g.r.IntN(4) == 0 {
			targets := []string{"mail", "x" + strconv.Itoa(i) + ".w", "mx.example.net.", hosts[g.r.IntN(len(hosts))]}
			fmt.Fprintf(p, "%s MX %d %s\n", g.spell(h), g.r.IntN(50), g.spell(targets[g.r.IntN(len(targets))]))
		}
		if g.r.IntN(5) == 0 {
			fmt.Fprintf(p, "_sip._tcp.%s SRV 10 60 5060 %s\n", h, g.spell(hosts[g.r.IntN(len(hosts))]))
		}
	}
	// CNAMEs: to a host, to another alias (a chain), to a missing name,
	// into the child, out of every zone, to a wildcard's name.
	for i := range 3 + g.r.IntN(4) {
		var target string
		switch g.r.IntN(6) {
		case 0:
			target = hosts[g.r.IntN(len(hosts))]
		case 1:
			target = "alias" + strconv.Itoa(g.r.IntN(i+1))
			if target == "alias"+strconv.Itoa(i) {
				target = hosts[0]
			}
		case 2:
			target = "missing" + strconv.Itoa(i)
		case 3:
			target = "h." + child
		case 4:
			target = "www.example.net."
		default:
			target = "any" + strconv.Itoa(i) + ".w"
		}
		fmt.Fprintf(p, "alias%d %s CNAME %s\n", i, g.ttlField(), g.spell(target))
	}
	// Wildcards: addresses and TXT, a name beside them that blocks, one
	// that holds only a CNAME.
	fmt.Fprintf(p, "*.w A %s\n*.w TXT \"wild\"\nx.w A %s\n*.cw CNAME %s\n", g.ip4(), g.ip4(), g.spell(hosts[0]))
	// A delegation with glue and an in-zone name server, and the child's.
	fmt.Fprintf(p, "d NS ns.d\nd NS ns1\nns.d A %s\nns.d AAAA 2001:db8::d\n", g.ip4())
	fmt.Fprintf(p, "c NS ns1.c\nns1.c A %s\nc DS 12345 13 2 %064x\n", nsChild, g.r.Uint64())
	fmt.Fprintf(p, "dn DNAME %s\n", g.spell(child))
	// An RRset too large for 512 bytes, and escapes in owner names.
	g.addrs("big", 25+g.r.IntN(20), 0)
	fmt.Fprintf(p, "\\065sc A %s\nsp\\032ace TXT \"space\"\n", g.ip4())

	var c strings.Builder
	fmt.Fprintf(&c, "$ORIGIN %s\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A %s\n", g.spell(child), nsChild)
	fmt.Fprintf(&c, "h A %s\nh AAAA 2001:db8::c\nwww CNAME h\n* TXT \"child wildcard\"\n", g.ip4())
	return map[string]string{parent: p.String(), child: c.String()}
}

type zoneGen struct {
	r *rand.Rand
	b strings.Builder
}

// label is a host name: random letters and digits, distinct by i.
func (g *zoneGen) label(i int) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789-"
	n := 1 + g.r.IntN(8)
	b := []byte{byte('a' + g.r.IntN(26))}
	for range n {
		b = append(b, chars[g.r.IntN(len(chars)-1)])
	}
	return string(b) + strconv.Itoa(i)
}

// spell writes a name in mixed case one time in three.
func (g *zoneGen) spell(name string) string {
	if g.r.IntN(3) != 0 {
		return name
	}
	b := []byte(name)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && g.r.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func (g *zoneGen) ttl() int { return []int{60, 300, 3600, 86400}[g.r.IntN(4)] }

// ttlField is an RRset's TTL, or nothing ($TTL's) one time in two.
func (g *zoneGen) ttlField() string {
	if g.r.IntN(2) == 0 {
		return ""
	}
	return strconv.Itoa(g.ttl())
}

func (g *zoneGen) ip4() string {
	return fmt.Sprintf("%s.%d", []string{"192.0.2", "198.51.100", "203.0.113"}[g.r.IntN(3)], 1+g.r.IntN(254))
}

// addrs writes n4 A and n6 AAAA records at owner, each RRset with one TTL.
func (g *zoneGen) addrs(owner string, n4, n6 int) {
	ttl := g.ttlField()
	seen := map[string]bool{}
	for range n4 {
		a := g.ip4()
		if !seen[a] {
			seen[a] = true
			fmt.Fprintf(&g.b, "%s %s A %s\n", g.spell(owner), ttl, a)
		}
	}
	ttl = g.ttlField()
	for i := range n6 {
		fmt.Fprintf(&g.b, "%s %s AAAA 2001:db8::%x\n", g.spell(owner), ttl, 0x100+i)
	}
}
