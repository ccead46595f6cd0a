// Package zones parses RFC 1035 master files into immutable, validated zones
// and answers lookups on them with the semantics of RFC 1034 section 4.3.2,
// RFC 2308 (negative answers) and RFC 4592 (wildcards).
//
// It deliberately leaves out everything about sockets, message building,
// EDNS, load-balancing policy and health: a Zone is plain data that many
// goroutines read at once and nobody changes after Load returns.
package zones
