// Package geo reads MaxMind-format GeoIP databases (GeoIP2/GeoLite2,
// DB-IP Lite, ip-location-db) into policy.Location values, merges several
// files field by field, caches decoded records, and reloads files that
// change on disk (DB.Run), publishing each new Set through OnChange.
//
// It is the only importer of maxminddb. It knows nothing of policies,
// names or DNS: package policy defines the Locator it implements.
package geo
