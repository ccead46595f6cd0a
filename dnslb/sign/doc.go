// Package sign is the answer path's sign stage (an answer.Sign): for a
// zone with DNSSEC keys it adds the DNSKEY, CDS and CDNSKEY RRsets at the
// apex (RFC 7344, RFC 8078) and, when the query has DO, the RRSIGs of every authoritative RRset in the answer
// and authority sections, the DS (or the signed proof of no DS) at a
// referral, and compact denial of existence (RFC 9824) for NXDOMAIN and
// NODATA. Load reads the keys [dnssec] names (every problem at its config
// line), and the Stage's owner applies them after each load.
//
// It leaves the cryptography, the key files and the signature cache to
// dnslb/dnssec, and deciding the reply to dnslb/answer: it only adds to
// the plan decide made, before it is encoded.
package sign
