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

// TestPlainMessages: the toml library's words are replaced by what to
// write, for syntax errors and values of the wrong kind; a name without
// quotes is one error, and keys below an unknown key are not repeated.
func TestPlainMessages(t *testing.T) {
	const z = "zone_dir = \"z\"\n"
	tests := []struct{ text, want string }{
		{z + "zone_dir = \"y\"\n", `t.toml:2: zone_dir is written twice (first at line 1)`},
		{z + "[server]\nrotate = \"random\"\n[server]\n", `t.toml:4: table [server] is written twice (first at line 2)`},
		{z + "[server]\nrotate = random\n", `t.toml:3: random is not a value: write a string in quotes ("random"), a number, true or false`},
		{z + "[server]\nrotate = \"random\n", `t.toml:3: a string is not closed: the quote that ends it is missing`},
		{z + "[healthcheck.web]\ntype = \"tcp\"\nport = 80\nfall = \"2\"\n", `t.toml:5: healthcheck.web.fall must be a number, like 3; found the string "2"`},
		{z + "[healthcheck.web]\ntype = \"tcp\"\nport = 80\ninterval = 5\n", `t.toml:5: healthcheck.web.interval must be a duration like "10s"; found the number 5`},
		{z + "[healthcheck.web]\nport = 80\n", `t.toml:2: healthcheck "web": type is not set; it must be one of tcp, http, https, icmp, dns, load`},
		{z + "[name.\"www.example.org\"]\nttl = -1\n", `t.toml:3: name."www.example.org".ttl must be a number 0..4294967295; found -1`},
		{z + "[name.\"www.example.org\"]\nchecks = [\"web\", 5]\n", `t.toml:3: name."www.example.org".checks must be a list of strings, like ["a", "b"]; found a list whose entry 2 is the number 5`},
		{z + "[name.\"www.example.org\"]\nmax_answers = 1.5\n", `t.toml:3: name."www.example.org".max_answers must be a whole number, like 3; found the number 1.5`},
		{z + "[log]\nformat = \"jsn\"\n", `t.toml:3: log.format: "jsn" is not one of text, json (did you mean json?)`},
		{z + "[servr.extra]\nlisten = []\n", `t.toml:2: unknown key servr (did you mean server?)`},
		{z + "[name.www.example.org]\npick = \"random\"\n[name.www.example.org.groups.eu]\naddresses = []\n",
			`t.toml:2: name.www.example.org: a name with dots must be in quotes: [name."www.example.org"]`},
	}
	for _, tc := range tests {
		_, err := Parse("t.toml", []byte(tc.text))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q):\n got: %v\nwant: %s", tc.text, err, tc.want)
		}
	}
}
