package policy

import (
	"testing"
)

func TestCountryTable(t *testing.T) {
	n := 0
	for _, list := range continentCountries {
		n += (len(list) + 1) / 3
	}
	if n != len(countryContinent) {
		t.Errorf("%d codes listed, %d distinct: a code is listed twice", n, len(countryContinent))
	}
	if len(countryContinent) != 250 {
		t.Errorf("%d country codes, want 249 ISO 3166-1 codes plus XK", len(countryContinent))
	}
}
