// Package zones parses RFC 1035 master files into immutable, validated zones
// and answers lookups on them with the semantics of RFC 1034 section 4.3.2,
// RFC 2308 (negative answers) and RFC 4592 (wildcards). A and AAAA RRsets
// hold their addresses packed, not records: RRset.AppendRR makes the
// records a reply needs (into a Scratch, without allocating), RRset.RRs
// the rest; the other types keep miekg/dns records.
//
// It deliberately leaves out everything about sockets, message building,
// EDNS, load-balancing policy and health: a Zone is plain data that many
// goroutines read at once and nobody changes after Load returns.
package zones
