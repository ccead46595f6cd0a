package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/dnssec"
)

const keysUsage = `  dnslb keygen ZONE [-algorithm 13|15] [-role csk|ksk|zsk] [-dir D]
                                 write a DNSSEC key for ZONE in BIND's format:
                                 K<zone>+<alg>+<tag>.key and .private (0600)
  dnslb ds ZONE [-dir D]         print the DS records (SHA-256) of ZONE's KSKs in D,
                                 for the parent zone (the registrar)
`

// cmdKeygen is `dnslb keygen`: a new key, in the files dnssec-keygen
// would write.
func cmdKeygen(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("dnslb keygen", flag.ContinueOnError)
	fset.SetOutput(stderr)
	alg := fset.Int("algorithm", int(dns.ECDSAP256SHA256), "13 (ECDSAP256SHA256) or 15 (ED25519)")
	role := fset.String("role", "csk", "csk (signs everything), ksk (signs the DNSKEY RRset) or zsk (signs the rest)")
	dir := fset.String("dir", ".", "folder to write the key files in")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return exitCode(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: dnslb keygen ZONE [-algorithm 13|15] [-role csk|ksk|zsk] [-dir D]")
		return 2
	}
	if *role != "csk" && *role != "ksk" && *role != "zsk" {
		fmt.Fprintf(stderr, "dnslb keygen: -role %q: csk, ksk or zsk\n", *role)
		return 2
	}
	if _, ok := dns.IsDomainName(pos[0]); !ok {
		fmt.Fprintf(stderr, "dnslb keygen: %q is not a domain name\n", pos[0])
		return 2
	}
	k, err := dnssec.Generate(pos[0], uint8(*alg), *role != "zsk")
	if err != nil {
		fmt.Fprintln(stderr, "dnslb keygen:", err)
		return 2
	}
	base, err := k.Write(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "dnslb keygen:", err)
		return 1
	}
	fmt.Fprintln(stdout, base)
	return 0
}

// cmdDS is `dnslb ds`: the DS records of a zone's KSKs (its CSKs).
func cmdDS(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("dnslb ds", flag.ContinueOnError)
	fset.SetOutput(stderr)
	dir := fset.String("dir", ".", "folder of the key files")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return exitCode(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: dnslb ds ZONE [-dir D]")
		return 2
	}
	keys, errs := dnssec.ReadDir(*dir, pos[0])
	for _, e := range errs {
		fmt.Fprintln(stderr, e)
	}
	if len(errs) > 0 {
		return 1
	}
	if len(keys) == 0 {
		fmt.Fprintf(stderr, "dnslb ds: %s: no key files K%s+*.key\n", *dir, dns.CanonicalName(pos[0]))
		return 1
	}
	s, err := dnssec.NewSigner(pos[0], keys, 0)
	if err != nil {
		fmt.Fprintln(stderr, "dnslb ds:", err)
		return 1
	}
	for _, k := range s.KSKs {
		fmt.Fprintln(stdout, strings.ReplaceAll(k.DS().String(), "\t", " "))
	}
	return 0
}
