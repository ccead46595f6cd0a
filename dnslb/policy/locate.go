package policy

import "net/netip"

// Location is what a Locator knows about a client address. Empty strings and
// zero numbers mean "unknown".
type Location struct {
	Country      string    // ISO 3166-1 alpha-2, upper case ("DE")
	Continent    string    // AF AN AS EU NA OC SA
	Subdivisions [2]string // ISO 3166-2 ("US-CA"), most general first; "" when absent
	ASN          uint32
	Lat, Lon     float64
	HasCoords    bool
	// Prefix is the length of the most specific database network that was
	// consulted for the address, counted in the address's own family (0..32
	// for IPv4). The answer for every address inside that network is the
	// same, so it is the ECS scope a GeoIP-based decision depends on.
	Prefix int
}

// Locator maps a client address to a Location. ok is false when no database
// had data for the address; loc.Prefix is still meaningful then. need says
// which fields the caller reads: a Locator may leave the others empty, and
// then Prefix counts only the networks that told the needed fields (a
// decision on the country does not depend on the ASN's network).
type Locator interface {
	Lookup(addr netip.Addr, need Fields) (loc Location, ok bool)
}

// Fields is a set of Location fields.
type Fields uint8

const (
	FieldCountry     Fields = 1 << iota // Country, and Continent derived from it
	FieldContinent                      // Continent
	FieldSubdivision                    // Subdivisions
	FieldASN                            // ASN
	FieldCoords                         // Lat, Lon, HasCoords
	AllFields        = FieldCountry | FieldContinent | FieldSubdivision | FieldASN | FieldCoords
)

// continentCountries lists the ISO 3166-1 alpha-2 codes (plus XK, Kosovo, as
// GeoIP databases use it) by continent, following the continent codes GeoIP2
// databases use. It validates country codes in rules and gives the continent
// for databases that only carry a country code.
var continentCountries = map[string]string{
	"AF": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
	"AN": "AQ BV GS HM TF",
	"AS": "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
	"EU": "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
	"NA": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI",
	"OC": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
	"SA": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
}

// countryContinent maps a country code to its continent code.
var countryContinent = func() map[string]string {
	m := make(map[string]string, 256)
	for cont, list := range continentCountries {
		for i := 0; i+2 <= len(list); i += 3 {
			m[list[i:i+2]] = cont
		}
	}
	return m
}()

// ContinentOf is the continent code of an ISO 3166-1 alpha-2 country
// code (XK included), and whether the code is known.
func ContinentOf(cc string) (string, bool) {
	c, ok := countryContinent[cc]
	return c, ok
}
