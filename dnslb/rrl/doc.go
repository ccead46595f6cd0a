// Package rrl is response rate limiting (RRL) for an authoritative server,
// with the semantics operators know from BIND 9's rate-limit and NSD's
// rrl-* options: the table of accounts and its rules, and nothing else.
//
// An account is a (client prefix, response class, name): the client's
// address masked to /24 (IPv4) or /56 (IPv6) by default, so that a
// reflection attack spoofing one victim's network shares one account,
// and the name that identifies "the same response" for the class:
//
//   - positive: the query name, or the wildcard (or DNAME) owner a
//     synthesised answer came from (RFC 4592), so that random names under
//     a wildcard share one account;
//   - nodata: the query name, or the wildcard owner;
//   - nxdomain: the zone (BIND's and NSD's rule), so that a
//     random-subdomain flood shares one account;
//   - referral: the delegation point;
//   - error (REFUSED, FORMERR, SERVFAIL, NOTIMP, …): no name: all of one
//     prefix's errors are one account, as in BIND.
//
// Each account is BIND's credit scheme ("token bucket"): it earns the
// class's rate of credits each second, up to the rate; a response debits
// one; while the balance is negative responses are dropped (or slipped),
// and the balance cannot go below -window*rate, so a client that flooded
// must stay quiet (or slow) for up to window seconds before it is
// answered again. Of the dropped responses, the first and then every
// slip-th is "slipped" (the caller sends a minimal TC=1 reply instead, so
// that a real client behind a spoofed address retries over TCP, which
// cannot be spoofed); slip 0 drops all, slip 1 slips all. With LogOnly
// the table counts what it would do and the caller sends everything.
//
// Time is whole seconds, given by the caller with each response (the
// serving loops read the clock once per batch; tests pass a fake one).
// The table is bounded (MaxAccounts, the least recently used account
// evicted first) and sharded, each shard under its own lock, for the
// serving goroutines that share it.
//
// Left out, and the caller's: which transports and clients are exempt
// (TCP; a client with a valid server cookie), building the slipped
// reply, and metrics.
package rrl
