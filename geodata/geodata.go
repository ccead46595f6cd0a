// Package geodata embeds the free IP-to-country database that ships with
// dnslb (see README.md and LICENSE here), so GeoIP country and continent
// rules work without downloading anything. It holds data only.
package geodata

import _ "embed"

// CountryName is the file name of the built-in database.
const CountryName = "geo-whois-asn-country.mmdb"

// Country is the built-in database: MaxMind DB format, IPv4 and IPv6, one
// country_code field per network. Callers must not modify it.
//
//go:embed geo-whois-asn-country.mmdb
var Country []byte
