// Command genzone writes the synthetic zone and dnsperf query files used by
// the comparison harness in bench/run.sh and bench/memory.sh.
//
// Everything it writes is deterministic (fixed PRNG seed), so two runs with
// the same flags produce byte-identical files and every server answers the
// same questions. It only uses documentation names and address ranges
// (RFC 2606 style .example, RFC 5737, RFC 3849).
//
// It deliberately knows nothing about any server's config syntax: run.sh
// writes those.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Each host name carries 4 A and 2 AAAA records.
const recordsPerName = 6

type options struct {
	origin      string // zone apex, without the trailing dot
	names       int    // host names with 4 A + 2 AAAA each
	records     int    // if > 0, overrides names so the zone holds about this many records
	delegations int    // delegated child zones, each with two glued name servers
	queries     int    // lines per query file
	outDir      string // zone file goes here
	queryDir    string // query files go here; defaults to outDir
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var o options
	fs := flag.NewFlagSet("genzone", flag.ContinueOnError)
	fs.StringVar(&o.origin, "origin", "bench.example", "zone apex")
	fs.IntVar(&o.names, "names", 10000, "host names, each with 4 A and 2 AAAA records")
	fs.IntVar(&o.records, "records", 0, "approximate total record count (overrides -names; e.g. 1000000 for the memory test)")
	fs.IntVar(&o.delegations, "delegations", 10, "delegated subzones, each with 2 NS and glue")
	fs.IntVar(&o.queries, "queries", 200000, "lines in each query file (0 writes no query files)")
	fs.StringVar(&o.outDir, "out", ".", "output directory for the zone file")
	fs.StringVar(&o.queryDir, "query-out", "", "output directory for the query files (default: -out)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.queryDir == "" {
		o.queryDir = o.outDir
	}
	if o.records > 0 {
		o.names = (o.records + recordsPerName - 1) / recordsPerName
	}
	if o.names < 1 || o.delegations < 1 {
		fmt.Fprintln(os.Stderr, "genzone: -names/-records and -delegations must be at least 1")
		return 2
	}
	if err := generate(o); err != nil {
		fmt.Fprintln(os.Stderr, "genzone:", err)
		return 1
	}
	return 0
}

func generate(o options) error {
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	zonePath := filepath.Join(o.outDir, o.origin+".zone")
	if err := writeFile(zonePath, func(w *bufio.Writer) { writeZone(w, o) }); err != nil {
		return err
	}
	if o.queries == 0 {
		return nil
	}
	if err := os.MkdirAll(o.queryDir, 0o755); err != nil {
		return err
	}
	// Separate seeds so that changing one mix does not reshuffle the other.
	mixed := rand.New(rand.NewPCG(1, 2))
	if err := writeFile(filepath.Join(o.queryDir, "queries-mixed.txt"), func(w *bufio.Writer) {
		for range o.queries {
			writeMixedQuery(w, o, mixed)
		}
	}); err != nil {
		return err
	}
	miss := rand.New(rand.NewPCG(3, 4))
	return writeFile(filepath.Join(o.queryDir, "queries-nxdomain.txt"), func(w *bufio.Writer) {
		for range o.queries {
			writeMiss(w, o, miss)
		}
	})
}

func writeFile(path string, fill func(*bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fill(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func writeZone(w *bufio.Writer, o options) {
	fmt.Fprintf(w, "$ORIGIN %s.\n$TTL 300\n", o.origin)
	fmt.Fprintf(w, "@ IN SOA ns1 hostmaster 1 3600 900 604800 300\n")
	fmt.Fprintf(w, "@ IN NS ns1\n@ IN NS ns2\n")
	fmt.Fprintf(w, "@ IN MX 10 mail\n")
	fmt.Fprintf(w, "ns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\nmail IN A 192.0.2.25\n")

	// Delegations: sub<k> with two in-bailiwick name servers, so referrals
	// carry glue in the additional section.
	for k := range o.delegations {
		fmt.Fprintf(w, "sub%d IN NS ns1.sub%d\nsub%d IN NS ns2.sub%d\n", k, k, k, k)
		fmt.Fprintf(w, "ns1.sub%d IN A 198.51.100.%d\n", k, k%254+1)
		fmt.Fprintf(w, "ns2.sub%d IN A 203.0.113.%d\n", k, k%254+1)
	}

	// Host names. Addresses repeat across names (the ranges are small); the
	// fourth A is offset so the four addresses of one RRset stay distinct.
	for i := range o.names {
		x := i%254 + 1
		y := (i+127)%254 + 1
		fmt.Fprintf(w, "h%d IN A 192.0.2.%d\n", i, x)
		fmt.Fprintf(w, "h%d IN A 198.51.100.%d\n", i, x)
		fmt.Fprintf(w, "h%d IN A 203.0.113.%d\n", i, x)
		fmt.Fprintf(w, "h%d IN A 192.0.2.%d\n", i, y)
		fmt.Fprintf(w, "h%d IN AAAA 2001:db8:%x:%x::1\n", i, i>>16, i&0xffff)
		fmt.Fprintf(w, "h%d IN AAAA 2001:db8:%x:%x::2\n", i, i>>16, i&0xffff)
	}
}

// writeMixedQuery writes one line of the default mix: about 80% A/AAAA hits,
// 10% NXDOMAIN, 5% referrals into a delegation, 5% apex NS/SOA/MX.
func writeMixedQuery(w *bufio.Writer, o options, r *rand.Rand) {
	switch p := r.IntN(100); {
	case p < 80:
		qtype := "A"
		if r.IntN(4) == 0 {
			qtype = "AAAA"
		}
		fmt.Fprintf(w, "h%d.%s %s\n", r.IntN(o.names), o.origin, qtype)
	case p < 90:
		writeMiss(w, o, r)
	case p < 95:
		fmt.Fprintf(w, "www.sub%d.%s A\n", r.IntN(o.delegations), o.origin)
	default:
		fmt.Fprintf(w, "%s %s\n", o.origin, [...]string{"NS", "SOA", "MX"}[r.IntN(3)])
	}
}

// writeMiss writes a name under the apex that does not exist. The "miss"
// prefix never collides with h<N>, ns1/ns2, mail or sub<k>.
func writeMiss(w *bufio.Writer, o options, r *rand.Rand) {
	fmt.Fprintf(w, "miss%d.%s A\n", r.IntN(1<<30), o.origin)
}
