// Package metrics is dnslb's Prometheus registry (Registry): query
// counters by zone, qtype, rcode, policy and transport with bounded
// labels, durations in a histogram that takes a batch at once, health,
// reload and GeoIP gauges; and the sampled query log (QueryLog).
//
// It counts what it is told: the answer path's account stage (the
// server's Answered and Counter) calls it. It knows nothing of plans,
// sockets or zones beyond their names, and is the only importer of the
// Prometheus client.
package metrics
