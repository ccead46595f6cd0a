package zonefile

import (
	"regexp"
	"slices"
	"testing"
)

// TestIncludesMatchesRegexp checks includes against the one regexp over
// the whole file that it replaces.
func TestIncludesMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`(?mi)^\$INCLUDE[ \t]+("[^"]*"|\S+)`)
	for _, in := range []string{
		"",
		"$INCLUDE a.zone\n",
		"$include\tb.zone origin.\nwww A 192.0.2.1\n$INCLUDE \"c d.zone\"\n",
		"www TXT \"$INCLUDE no\"\n $INCLUDE no\n$INCLUDEx no\n$INCLUDE\n$",
		"$TTL 300\n$ORIGIN x.\n$$INCLUDE no\n$INCLUDE \"multi\n$INCLUDE line\"\n$INCLUDE last",
		"$INCLUDE a\r\n$INCLUDE b\n",
	} {
		var want []string
		for _, m := range re.FindAllSubmatch([]byte(in), -1) {
			want = append(want, string(m[1]))
		}
		var got []string
		for _, m := range includes([]byte(in)) {
			got = append(got, string(m))
		}
		if !slices.Equal(got, want) {
			t.Errorf("includes(%q) = %q, want %q", in, got, want)
		}
	}
}
