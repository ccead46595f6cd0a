package policy

import "testing"

func TestHaversine(t *testing.T) {
	// Frankfurt to New York is about 6,200 km.
	km := haversine(radians(50.11), radians(8.68), radians(40.71), radians(-74.01))
	if km < 6150 || km > 6250 {
		t.Errorf("haversine(FRA, NYC) = %.0f km, want about 6200", km)
	}
	if km := haversine(1, 2, 1, 2); km != 0 {
		t.Errorf("haversine(p, p) = %v, want 0", km)
	}
}
