// Package cookie is the server side of DNS Cookies (RFC 7873) with the
// interoperable server cookie of RFC 9018: version 1, three reserved
// bytes, a 32-bit timestamp and a SipHash-2-4 (siphash.go) over the
// client cookie, those eight bytes and the client's address, keyed with a
// 128-bit secret that every server of a fleet shares.
//
// Make builds a server cookie; Checker.Check reads a query's COOKIE
// option, says what it showed (Result) and writes the option the reply
// carries: the client cookie with a server cookie, echoed while it is
// fresh and made anew otherwise. A Checker holds the current secret and
// the previous one (accepted during a rollover) and reads time through a
// clock the caller passes in, so tests run at the RFC's examples.
//
// It leaves out everything about messages: finding the option in a
// query, FORMERR, adding the option to a reply, and what rate limiting
// makes of the result are dnslb/answer's. It imports nothing of dnslb.
package cookie
