package zones

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestLoadBad loads one fixture per failure and checks the full error
// text: these messages are what an operator reads.
func TestLoadBad(t *testing.T) {
	const b = "testdata/bad/"
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"bad A address", "bad-a.zone", []string{
			b + `bad-a.zone:6:20: bad A record: "192.0.2.300" is not an IPv4 address`}},
		{"bad TTL", "bad-ttl.zone", []string{
			b + `bad-ttl.zone:6:7: "1x" is neither a TTL nor a known record type`}},
		{"unknown type", "unknown-type.zone", []string{
			b + `unknown-type.zone:6:11: "FOO" is neither a TTL nor a known record type`}},
		{"unterminated parenthesis", "unterminated-paren.zone", []string{
			b + `unterminated-paren.zone:6: unterminated "(": no closing ")" before the end of the file`}},
		{"unterminated quote", "unterminated-quote.zone", []string{
			b + `unterminated-quote.zone:6: unterminated quoted string: no closing quote before the end of the file`}},
		{"several errors in line order", "several.zone", []string{
			b + `several.zone:6:20: bad A record: "192.0.2.300" is not an IPv4 address`,
			b + `several.zone:7: foo.example.net. A: name is outside the zone example.org.`,
			b + `several.zone:8: ftp.example.org. CNAME: a CNAME cannot share its name with other data (A at line 9)`,
			b + `several.zone:10:21: bad AAAA record: "192.0.2.4" is not an IPv6 address`}},
		{"thirteen errors", "many.zone", manyWant(b+"many.zone", 6, 13)},
		{"data below a DNAME", "below-dname.zone", []string{
			b + `below-dname.zone:7: www.old.example.org. A: name below the DNAME at old.example.org., which rewrites every name under it (RFC 6672 section 2.3)`,
			b + `below-dname.zone:8: x.y.old.example.org. TXT: name below the DNAME at old.example.org., which rewrites every name under it (RFC 6672 section 2.3)`}},
		{"absent records beside a syntax error elsewhere", "absent-and-broken.zone", []string{
			b + `absent-and-broken.zone: no SOA record at the zone apex example.org.`,
			b + `absent-and-broken.zone:4: example.org. NS ns2.example.org.: name server inside the zone has no A or AAAA record`,
			b + `absent-and-broken.zone:6:20: bad A record: "192.0.2.300" is not an IPv4 address`}},
		{"a name server's address with a syntax error", "broken-glue.zone", []string{
			b + `broken-glue.zone:7:20: bad A record: "192.0.2.999" is not an IPv4 address`}},
		{"no SOA", "no-soa.zone", []string{
			b + `no-soa.zone: no SOA record at the zone apex example.org.`}},
		{"two SOAs", "two-soa.zone", []string{
			b + `two-soa.zone:6: example.org. SOA: more than one SOA record at the apex (first at line 3)`}},
		{"SOA not at apex", "soa-not-apex.zone", []string{
			b + `soa-not-apex.zone:6: www.example.org. SOA: SOA record not at the zone apex example.org.`}},
		{"no NS at apex", "no-ns.zone", []string{
			b + `no-ns.zone:3: no NS records at the zone apex example.org.`}},
		{"outside the zone", "outside.zone", []string{
			b + `outside.zone:6: www.example.net. A: name is outside the zone example.org.`}},
		{"CNAME and other data", "cname-other.zone", []string{
			b + `cname-other.zone:6: www.example.org. CNAME: a CNAME cannot share its name with other data (TXT at line 7)`}},
		{"two CNAMEs", "two-cnames.zone", []string{
			b + `two-cnames.zone:7: www.example.org. CNAME: more than one CNAME record at one name`}},
		{"missing glue", "missing-glue.zone", []string{
			b + `missing-glue.zone:6: sub.example.org. NS ns.sub.example.org.: glue missing: name server below the delegation has no A or AAAA record`}},
		{"in-zone NS without address", "ns-no-address.zone", []string{
			b + `ns-no-address.zone:6: example.org. NS ns2.example.org.: name server inside the zone has no A or AAAA record`}},
		{"TTL above 2^31-1", "ttl-too-big.zone", []string{
			b + `ttl-too-big.zone:6: www.example.org. A: ttl 2147483648 out of range 0..2147483647`}},
		{"class not IN", "class-ch.zone", []string{
			b + `class-ch.zone:6: www.example.org. A: class CH is not supported, only IN`}},
		{"$INCLUDE missing file", "include-missing.zone", []string{
			b + `include-missing.zone:6: $INCLUDE missing.inc: open testdata/bad/missing.inc: no such file or directory`}},
		{"$INCLUDE loop", "include-loop.zone", []string{
			b + `include-loop.zone:6: $INCLUDE include-loop.zone: nested too deep, at most 7 levels are allowed`}},
		{"errors in an included file", "include-bad.zone", []string{
			b + `include-bad.inc:3:20: bad A record: "192.0.2.256" is not an IPv4 address`,
			b + `include-bad.zone:7:22: bad A record: "192.0.2.300" is not an IPv4 address`}},
		{"$ORIGIN errors", "origin-bad.zone", []string{
			b + `origin-bad.zone:6: $ORIGIN needs one domain name, found 0 words`,
			b + `origin-bad.zone:8: $ORIGIN "a..b" is not a valid domain name`}},
		{"$TTL error", "ttl-directive-bad.zone", []string{
			b + `ttl-directive-bad.zone:6: $TTL "forever" is not a TTL: want seconds or a duration such as 1h30m`}},
		{"record with no data", "no-rdata.zone", []string{
			b + `no-rdata.zone:6: www.example.org. A: record has no data`,
			b + `no-rdata.zone:7: www.example.org. NS: record has no data`}},
		{"last line cut short", "truncated.zone", []string{
			b + `truncated.zone:6:3: unexpected end of line: a record needs an owner, a type and data`}},
		{"multi-line records", "multiline.zone", []string{
			b + `multiline.zone:6:8: the SOA serial and timers must be numbers (the timers may be durations like 1h); found "never"`,
			b + `multiline.zone:14:29: unexpected "192.0.2.5" after the end of the record data`}},
		// BIND and NSD refuse a string over 255 bytes; the zone parser
		// would cut it in two.
		{"strings over 255 bytes", "long-txt.zone", []string{
			b + `long-txt.zone:7: long.example.org. TXT: a string of 256 bytes, more than the 255 a string may hold: split it into several quoted strings`,
			b + `long-txt.zone:8: esc.example.org. TXT: a string of 300 bytes, more than the 255 a string may hold: split it into several quoted strings`,
			b + `long-txt.zone:10: spf.example.org. SPF: a string of 256 bytes, more than the 255 a string may hold: split it into several quoted strings`,
			b + `long-txt.zone:11: $GENERATE: for 1: a string of 256 bytes, more than the 255 a string may hold: split it into several quoted strings`}},
		// named-checkzone refuses each of these lines too.
		{"$GENERATE errors", "generate-bad.zone", []string{
			b + `generate-bad.zone:6: $GENERATE: after the type MX, the record data must be one word or one quoted string (BIND reads no more), found 2 words: quote them all`,
			b + `generate-bad.zone:7: $GENERATE: modifier "${1,2,z}" is not ${offset[,width[,base]]} with base d, o, x, X, n or N`,
			b + `generate-bad.zone:8: $GENERATE: for 256: bad A record: "192.0.2.256" is not an IPv4 address`,
			b + `generate-bad.zone:9: $GENERATE: range "5-1" is not start-stop or start-stop/step, with start <= stop`,
			b + `generate-bad.zone:10: unterminated quoted string: no closing quote before the end of the file`}},
		{"SVCB keyNNNNN values that are not the key's wire format", "svcb-bad.zone", []string{
			b + `svcb-bad.zone:6: a.example.org. SVCB: a parameter in the keyNNNNN form is not valid data for its key: bad svcbalpn: alpn array overflowing`,
			b + `svcb-bad.zone:7: b.example.org. SVCB: a parameter in the keyNNNNN form is not valid data for its key: bad svcbport: port length is not exactly 2 octets`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z, err := Load("example.org", b+tc.file)
			if err == nil {
				t.Fatalf("Load(%s) = %v, nil; want an error", tc.file, z)
			}
			want := strings.Join(tc.want, "\n")
			if got := err.Error(); got != want {
				t.Errorf("Load(%s) error:\n%s\nwant:\n%s", tc.file, got, want)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Load(%s) error is %T, want ErrorList", tc.file, err)
			}
			var one *Error
			if !errors.As(err, &one) {
				t.Errorf("errors.As(%T, *Error) = false, want true", err)
			}
			for _, e := range list {
				if e.Msg != strings.ToLower(e.Msg[:1])+e.Msg[1:] && !strings.HasPrefix(e.Msg, "$") && !strings.HasPrefix(e.Msg, `"`) {
					t.Errorf("message %q does not start in lower case", e.Msg)
				}
				if strings.HasSuffix(e.Msg, ".") && !strings.HasSuffix(e.Msg, "org.") && !strings.HasSuffix(e.Msg, "net.") {
					t.Errorf("message %q ends with a period", e.Msg)
				}
			}
		})
	}
}

// TestLoadManyErrors: past maxReported errors the rest are counted.
func TestLoadManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("$ORIGIN example.org.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n  IN NS ns1\nns1 IN A 192.0.2.1\n")
	for i := range maxReported + 20 {
		fmt.Fprintf(&b, "h%d IN A 192.0.2.%d\n", i, 256+i)
	}
	_, err := Parse("example.org", "many.zone", []byte(b.String()))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxReported+1 || lines[maxReported] != "(and 20 more errors)" {
		t.Errorf("%d lines, the last %q; want %d errors and (and 20 more errors)", len(lines), lines[len(lines)-1], maxReported)
	}
}

func manyWant(file string, first, n int) []string {
	var out []string
	for i := range n {
		col := 18 + len(fmt.Sprint(i)) // the address starts later as the name grows
		out = append(out, fmt.Sprintf(`%s:%d:%d: bad A record: "192.0.2.%d" is not an IPv4 address`, file, first+i, col, 256+i))
	}
	return out
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("example.org", "testdata/bad/nonexistent.zone")
	want := "testdata/bad/nonexistent.zone: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("Load(nonexistent) error = %v, want %s", err, want)
	}
}

func TestLoadDirectory(t *testing.T) {
	_, err := Load("example.org", "testdata/bad")
	want := "testdata/bad: is a directory"
	if err == nil || err.Error() != want {
		t.Errorf("Load(directory) error = %v, want %s", err, want)
	}
}

func TestParseBadOrigin(t *testing.T) {
	_, err := Parse("a..b", "x.zone", nil)
	want := `x.zone: zone name "a..b." is not a valid domain name`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(a..b) error = %v, want %s", err, want)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "f", Line: 3, Col: 4, Msg: "m"}, "f:3:4: m"},
		{Error{File: "f", Line: 3, Msg: "m"}, "f:3: m"},
		{Error{File: "f", Msg: "m"}, "f: m"},
		{Error{Msg: "m"}, "m"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%#v.Error() = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestSplitEntries(t *testing.T) {
	text := "a A 1\n; comment only\n\nb TXT \"x;y\" ( 1\n 2 ) ; c\n c \"multi\nline\"\nd A \\\n 2\n"
	got := splitEntries(text)
	want := []entry{
		{line: 1, text: "a A 1"},
		{line: 4, text: "b TXT \"x;y\" ( 1\n 2 ) ; c"},
		{line: 6, text: " c \"multi\nline\""},
		{line: 8, text: "d A \\\n 2"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("splitEntries = %+v, want %+v", got, want)
	}
}
