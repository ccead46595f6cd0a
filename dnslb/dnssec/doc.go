// Package dnssec holds the zone keys and signs RRsets online: BIND-format
// key files (K<zone>+<alg>+<tag>.key and .private, what dnssec-keygen
// writes and miekg/dns reads and writes), the Signer of one zone (its
// DNSKEY RRset, the KSK/ZSK roles, a bounded cache of signatures keyed by
// key, canonical RRset and validity window), and compact denial of
// existence (RFC 9824): one NSEC record per negative answer. It imports
// nothing of dnslb (rank 0): the answer path's sign stage (dnslb/sign)
// calls it.
package dnssec
