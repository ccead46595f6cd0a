package config

import "testing"

func TestSuggest(t *testing.T) {
	picks := []string{"round-robin", "random", "weighted", "sticky"}
	tests := []struct {
		s       string
		options []string
		want    string
	}{
		{"weigthed", picks, " (did you mean weighted?)"}, // a swap is one edit
		{"intervall", []string{"type", "interval", "timeout"}, " (did you mean interval?)"},
		{"randon", picks, " (did you mean random?)"},
		{"fail", []string{"serve-all", "servfail", "nodata"}, " (did you mean servfail?)"}, // contained
		{"htp", []string{"tcp", "http", "https"}, " (did you mean http?)"},
		{"ue", []string{"eu", "us"}, " (did you mean eu?)"},
		{"Weighted", picks, ""}, // only the case differs: no guess
		{"hash", picks, ""},
		{"x", []string{"y"}, ""},
		{"explode", []string{"serve-all", "servfail", "nodata"}, ""},
	}
	for _, tc := range tests {
		if got := Suggest(tc.s, tc.options); got != tc.want {
			t.Errorf("Suggest(%q, %q) = %q, want %q", tc.s, tc.options, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3},
		{"ab", "ba", 1}, {"weigthed", "weighted", 1}, {"ca", "abc", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
