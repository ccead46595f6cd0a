// Package dnslb is the server: the DNS handler and answer building (EDNS,
// truncation, rotation), the load-balancing policies and their GeoIP
// lookups, the live store (go-memdb, published to queries as immutable
// snapshots), config loading, reload, and the admin HTTP listener with
// its status page and metrics.
//
// It leaves zone-file syntax and lookup semantics to package zones, and
// probing to package healthcheck; it connects them. It offers no zone
// transfers and no DNSSEC signing.
package dnslb
