package zones

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPlainWords: the zone parser's "bad TYPE Field" messages say what the
// field must be and what was found, at the record's line and the parser's column (the end of the word).
func TestPlainWords(t *testing.T) {
	const head = "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n"
	tests := []struct{ rec, want string }{
		{`@ IN MX x mail`, `:6:10: the MX preference must be a number 0..65535; found "x"`},
		{`@ IN MX 70000 mail`, `:6:14: the MX preference must be a number 0..65535; found "70000"`},
		{`_sip._udp IN SRV 10 5 port sip`, `:6:27: the SRV port must be a number 0..65535; found "port"`},
		{`@ IN CAA 300 issue "ca.example"`, `:6:13: the CAA flags must be a number 0..255; found "300"`},
		{`@ IN DS x 8 2 AB`, `:6:10: the DS key tag must be a number 0..65535; found "x"`},
		{`@ IN TLSA 3 9x 1 AB`, `:6:15: the TLSA selector must be a number 0..255; found "9x"`},
		{`@ IN NAPTR 10 x "u" "E2U+sip" "" .`, `:6:16: the NAPTR preference must be a number 0..65535; found "x"`},
		{`sub IN SOA ns1 hostmaster never 1 1 1 1`, `:6:32: the SOA serial and timers must be numbers (the timers may be durations like 1h); found "never"`},
	}
	for _, tc := range tests {
		t.Run(tc.rec, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "example.org.zone")
			if err := os.WriteFile(path, []byte(head+tc.rec+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load("example.org", path)
			if err == nil {
				t.Fatalf("Load(%q) = nil error", tc.rec)
			}
			if got, want := err.Error(), path+tc.want; got != want {
				t.Errorf("Load(%q):\n got: %s\nwant: %s", tc.rec, got, want)
			}
		})
	}
}
