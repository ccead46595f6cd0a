// Package policy decides which addresses of a load-balanced name a client
// gets: it compiles a [name."…"] table against the name's addresses into
// a Policy, and Policy.Select chooses a group (geo rules, nearest data
// centre, failover order) and orders it (round-robin, random, weighted,
// sticky), skipping what Health says is down; Explain traces the same
// decision in words.
//
// It works on netip addresses and groups only: no DNS messages, no
// sockets, no GeoIP reader (a Locator, defined here, is passed in; package
// geo implements it). The round-robin counters of a rotation are the
// caller's (Query.Pinned, Policy.NextRotation).
package policy
