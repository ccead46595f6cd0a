package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// zoneInfo is one zone of testdata/zones as the corpus generator sees it.
type zoneInfo struct {
	name   string            // apex, fully qualified, lower case
	file   string            // file name inside testdata/zones
	owners map[string]string // lower-case owner name -> spelling in the file
	// wildcards holds the lower-case owners whose first label is "*".
	wildcards []string
	// cuts holds the lower-case owners of NS RRsets below the apex.
	cuts []string
	// records maps a lower-case owner to its records, formatted by line.
	records map[string][]string
}

// loadZones reads every *.zone file in dir; the zone name is the file name
// minus ".zone", as for dnslb's zone_dir.
func loadZones(t *testing.T, dir string) []zoneInfo {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.zone"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no zone files in %s (err %v)", dir, err)
	}
	var zones []zoneInfo
	for _, path := range files {
		base := filepath.Base(path)
		z := zoneInfo{
			name:    dns.Fqdn(strings.ToLower(strings.TrimSuffix(base, ".zone"))),
			file:    base,
			owners:  map[string]string{},
			records: map[string][]string{},
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		zp := dns.NewZoneParser(f, z.name, path)
		zp.SetIncludeAllowed(true)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			owner := rr.Header().Name
			lower := strings.ToLower(owner)
			z.records[lower] = append(z.records[lower], line(rr))
			if _, seen := z.owners[lower]; !seen {
				z.owners[lower] = owner
			}
			if strings.HasPrefix(lower, "*.") && !slices.Contains(z.wildcards, lower) {
				z.wildcards = append(z.wildcards, lower)
			}
			if rr.Header().Rrtype == dns.TypeNS && lower != z.name && !slices.Contains(z.cuts, lower) {
				z.cuts = append(z.cuts, lower)
			}
		}
		f.Close()
		if err := zp.Err(); err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		zones = append(zones, z)
	}
	return zones
}

func zoneNames(zones []zoneInfo) []string {
	var names []string
	for _, z := range zones {
		names = append(names, z.name)
	}
	return names
}

// query is one question of the corpus. kind groups queries for the summary.
type query struct {
	kind  string
	name  string
	qtype uint16
	net   string // "udp" or "tcp"
	edns  bool   // EDNS0 with a 1232-byte buffer and DO off
	// variant changes one thing in the request: "rd", "cd", "do",
	// "buf512", "buf4096", "ednsv1", "chaos", "notify", "noquestion" or
	// "twoquestions"; "" for none.
	variant string
}

func (q query) String() string {
	e := "noedns"
	if q.edns {
		e = "edns"
	}
	s := q.name + " " + dns.TypeToString[q.qtype] + " " + q.net + " " + e
	if q.variant != "" {
		s += " " + q.variant
	}
	return s
}

// request builds the message for q.
func (q query) request() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(q.name, q.qtype)
	m.RecursionDesired = q.variant == "rd"
	m.CheckingDisabled = q.variant == "cd"
	switch q.variant {
	case "chaos":
		m.Question[0].Qclass = dns.ClassCHAOS
	case "notify":
		m.Opcode = dns.OpcodeNotify
		m.Authoritative = true
	case "noquestion":
		m.Question = nil
	case "twoquestions":
		m.Question = append(m.Question, dns.Question{Name: "example.org.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET})
	}
	if !q.edns {
		return m
	}
	size := uint16(1232)
	switch q.variant {
	case "buf512":
		size = 512
	case "buf4096":
		size = 4096
	}
	m.SetEdns0(size, q.variant == "do")
	if q.variant == "ednsv1" {
		m.IsEdns0().SetVersion(1)
	}
	return m
}

// allTypes are asked at every owner name and every empty non-terminal.
var allTypes = []uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeNS, dns.TypeSOA,
	dns.TypeTXT, dns.TypeSRV, dns.TypeCAA, dns.TypePTR, dns.TypeNAPTR, dns.TypeSSHFP,
	dns.TypeTLSA, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeDS, dns.TypeHINFO, dns.TypeDNSKEY,
}

// maxQueries bounds the corpus whatever the zones hold.
const maxQueries = 6000

// buildCorpus generates the queries, deterministically and in a stable order.
func buildCorpus(zones []zoneInfo) []query {
	var qs []query
	add := func(kind, name string, types []uint16, transports ...string) {
		if len(transports) == 0 {
			transports = []string{"udp+edns"}
		}
		for _, qt := range types {
			for _, tr := range transports {
				net, e, _ := strings.Cut(tr, "+")
				qs = append(qs, query{kind: kind, name: name, qtype: qt, net: net, edns: e == "edns"})
			}
		}
	}
	every := []string{"udp+edns", "udp+noedns", "tcp+edns", "tcp+noedns"}
	addr := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT}
	for _, z := range zones {
		owners := sortedKeys(z.owners)
		ents := emptyNonTerminals(z)
		// The apex: every type over every transport, plus ANY.
		add("apex", z.name, append(slices.Clone(allTypes), dns.TypeANY), every...)
		add("apex-case", mixCase(z.name), []uint16{dns.TypeSOA, dns.TypeNS})
		for _, o := range owners {
			kind := "owner"
			if strings.HasPrefix(o, "*.") {
				kind = "wildcard-literal"
			}
			if o != z.name {
				add(kind, o, allTypes)
				add(kind+"-transport", o, addr, "udp+noedns", "tcp+edns", "tcp+noedns")
				add("any", o, []uint16{dns.TypeANY}, "udp+edns", "tcp+noedns")
			}
			// The spelling from the file, and an alternating-case spelling.
			if orig := z.owners[o]; orig != o {
				add("case-file", orig, []uint16{dns.TypeA, dns.TypeANY})
			}
			add("case-mixed", mixCase(o), []uint16{dns.TypeA, dns.TypeTXT, dns.TypeCNAME})
			if strings.HasPrefix(o, "*.") {
				base := strings.TrimPrefix(o, "*.")
				add("below-wildcard", "match."+base, allTypes)
				add("below-wildcard", "two.labels."+base, []uint16{dns.TypeA, dns.TypeMX, dns.TypeTXT, dns.TypeCNAME})
				add("below-wildcard-transport", "match."+base, addr, "udp+noedns", "tcp+edns")
				add("below-wildcard-case", mixCase("Match."+base), []uint16{dns.TypeA, dns.TypeCNAME})
				continue
			}
			add("below", "nx."+o, []uint16{dns.TypeA, dns.TypeTXT, dns.TypeMX, dns.TypeDS})
			add("below-deep", "a.b.c.nx."+o, []uint16{dns.TypeA, dns.TypeNS})
		}
		for _, e := range ents {
			add("ent", e, allTypes)
			add("below-ent", "nx."+e, []uint16{dns.TypeA, dns.TypeTXT})
		}
		for _, c := range z.cuts {
			add("below-cut", "host."+c, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeDS, dns.TypeSOA}, "udp+edns", "tcp+noedns")
			add("below-cut", "a.b.c.deep."+c, []uint16{dns.TypeA, dns.TypeMX})
		}
		add("missing", "does-not-exist."+z.name, allTypes, "udp+edns", "udp+noedns", "tcp+edns")
	}
	outside := []string{".", "org.", "com.", "example.edu.", "www.example.", "example.", "in-addr.arpa.", "3.0.192.in-addr.arpa.", "xexample.org.", "notexample.net."}
	for _, o := range outside {
		add("outside", o, []uint16{dns.TypeA, dns.TypeSOA, dns.TypeNS}, "udp+edns", "tcp+noedns")
	}
	// Header and EDNS variants, on a few names that give a positive answer,
	// NODATA, NXDOMAIN, a referral, truncation and REFUSED.
	variants := []string{"rd", "cd", "do", "buf512", "buf4096", "ednsv1", "chaos", "notify", "noquestion", "twoquestions"}
	for _, name := range []string{"www.example.org.", "b.example.org.", "nope.example.net.", "host.deleg.example.org.", "huge.example.org.", "www.example."} {
		for _, v := range variants {
			for _, qt := range []uint16{dns.TypeA, dns.TypeTXT} {
				qs = append(qs, query{kind: "variant-" + v, name: name, qtype: qt, net: "udp", edns: true, variant: v})
			}
		}
	}
	// Meta and rarely asked types: zone transfers (not configured, so
	// refused), an unassigned type, DNSSEC types in unsigned zones.
	unusual := []uint16{dns.TypeAXFR, dns.TypeIXFR, 65280, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3PARAM, dns.TypeCDS, dns.TypeMAILB}
	for _, name := range []string{"example.org.", "www.example.org.", "nope.example.org.", "sub.example.org.", "host.deleg.example.org."} {
		add("qtype-unusual", name, unusual, "udp+edns", "tcp+edns")
	}
	// Unusual but valid names: escaped dots and other bytes in labels, the
	// literal wildcard label, a 63-byte label, a 255-byte name.
	label63 := strings.Repeat("l", 63)
	odd := []string{`a\.dot.example.org.`, `\000.example.org.`, `\042.example.org.`, `sp\032ace.example.org.`,
		`*.example.org.`, `*.b.example.org.`, label63 + ".example.org.",
		strings.Repeat(label63+".", 3) + strings.Repeat("a.", 15) + "example.org.", `\046.example.net.`}
	for _, name := range odd {
		add("odd-name", name, []uint16{dns.TypeA, dns.TypeTXT, dns.TypeMX}, "udp+edns", "tcp+noedns")
	}
	if len(qs) > maxQueries {
		qs = qs[:maxQueries]
	}
	return qs
}

// emptyNonTerminals returns the names between the apex and an owner that
// own no records themselves (RFC 8020), in sorted order.
func emptyNonTerminals(z zoneInfo) []string {
	set := map[string]bool{}
	for o := range z.owners {
		labels := dns.SplitDomainName(o)
		for i := 1; i < len(labels); i++ {
			name := dns.Fqdn(strings.Join(labels[i:], "."))
			if !dns.IsSubDomain(z.name, name) || name == z.name {
				break
			}
			if _, ok := z.owners[name]; !ok {
				set[name] = true
			}
		}
	}
	return sortedKeys(set)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mixCase upper-cases every other letter, to check that servers match names
// case-insensitively and echo the question's spelling (RFC 4343).
func mixCase(name string) string {
	b := []byte(name)
	up := true
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			if up {
				b[i] = c - 'a' + 'A'
			}
			up = !up
		}
	}
	return string(b)
}
