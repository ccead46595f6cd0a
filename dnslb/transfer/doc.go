// Package transfer serves what secondaries need of a primary: zone
// transfers out (AXFR, IXFR with no history: the whole zone or our SOA),
// NOTIFY to the secondaries when a zone's serial changes, and TSIG
// (RFC 8945) on both and on any signed query, as the answer path's TSIG
// stage (Server.Signed, an answer.TSIG).
//
// It reads zones from the store's current snapshot and [transfer] and
// [tsig] from the Settings its owner applies after each load. It leaves
// out how answers are made (a signed query's answer comes from the
// answer path, then is signed here) and the sockets: dnslb/serve hands
// it TCP queries through serve.Env.Transfer.
package transfer
