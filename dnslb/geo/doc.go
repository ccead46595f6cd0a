// Package geo reads MaxMind-format GeoIP databases (GeoIP2/GeoLite2,
// DB-IP Lite, ip-location-db) into policy.Location values, merges several
// files field by field, caches decoded records, and reloads files that
// change on disk (DB.Run), publishing each new Set through OnChange.
// Open compiles each file as it loads (compiled.go): its search tree
// walked once into sorted ranges, so that a lookup reads two flat arrays
// instead of some 24 tree nodes, with the same network and record.
//
// It is the only importer of maxminddb. It knows nothing of policies,
// names or DNS: package policy defines the Locator it implements.
package geo
