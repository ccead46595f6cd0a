package zones

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// chunkZones are master files whose lines carry state a chunk's parser
// must start with, or look like line starts and are not.
var chunkZones = map[string]string{
	"origins and ttls": `$ORIGIN example.org.
@ 600 IN SOA ns1 hostmaster (
        1 7200 ; refresh "quoted (in a comment
        900 1209600 300 )
	NS ns1
ns1 A 192.0.2.1
a 300 A 192.0.2.2
b A 192.0.2.3
$TTL 120
c A 192.0.2.4
	AAAA 2001:db8::4
$ORIGIN sub
d TXT "a (quoted; string" "with \" an escaped quote"
e TXT ( "multi"
  "line" ) ; comment )
$ORIGIN example.org.
$ttl 1h ; comment
f 60 IN A 192.0.2.6
g IN 70 A 192.0.2.7
h TXT "line one
line two (still quoted)
x A 192.0.2.99"
; a comment line
i TXT "\;" \( x
j.example.org. A 192.0.2.10
	TXT "blank owner: j"
@ MX 10 mail
mail A 192.0.2.25
$ORIGIN other.example.org.
k A 192.0.2.11
`,
	"no $TTL": `example.org. 600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 900 1209600 300
example.org. NS ns1.example.org.
ns1.example.org. 500 A 192.0.2.1
a.example.org. A 192.0.2.2
b.example.org. 30 A 192.0.2.3
	A 192.0.2.4
c.example.org. AAAA 2001:db8::3
`,
	"crlf":               "$ORIGIN example.org.\r\n$TTL 300\r\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\r\n\tNS ns1\r\nns1 A 192.0.2.1\r\n\r\na ( A\r\n 192.0.2.2 )\r\nb TXT \"x ( ;\"\r\n$TTL 60\r\nc A 192.0.2.3\r\n",
	"newlines in quotes": "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n\tNS ns1\nns1 A 192.0.2.1\na TXT \"one\nb A 192.0.2.2\n$ORIGIN sub.example.org.\nc A 192.0.2.3\"\nd A 192.0.2.4\n",
	"one word lines":     "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n\tNS ns1\nns1 A 192.0.2.1\nns",
	"escaped newline":    "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n\tNS ns1\nns1 A 192.0.2.1\na TXT foo\\\n$ORIGIN sub.example.org.\nb A 192.0.2.2\n",
	"errors at known lines": `$ORIGIN example.org.
$TTL 300
@ SOA ns1 hostmaster 1 7200 900 1209600 300
	NS ns1
ns1 A 192.0.2.1
a A 192.0.2.2
b A 192.0.2.3
c A 192.0.2.300
d A 192.0.2.4
e AAAA nothing
f A 192.0.2.5
`,
	"unclosed parenthesis": `$ORIGIN example.org.
$TTL 300
@ SOA ns1 hostmaster 1 7200 900 1209600 300
	NS ns1
ns1 A 192.0.2.1
a TXT ( "open"
b A 192.0.2.3
`,
	"extra closing parenthesis": `$ORIGIN example.org.
$TTL 300
@ SOA ns1 hostmaster 1 7200 900 1209600 300
	NS ns1
ns1 A 192.0.2.1
a A 192.0.2.2 )
b A 192.0.2.3
`,
	"no owner before the first line": "\tA 192.0.2.1\nexample.org. SOA ns1.example.org. h.example.org. 1 2 3 4 5\n",
	"unknown directive":              "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n\tNS ns1\nns1 A 192.0.2.1\n$FOO A 192.0.2.9\n$TTL 60\na A 192.0.2.2\n",
	"include":                        "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n\tNS ns1\nns1 A 192.0.2.1\n$INCLUDE inc/hosts.inc sub\nb A 192.0.2.2\n$TTL 60\nc A 192.0.2.3\n",
	"no final newline":               "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n\tNS ns1\nns1 A 192.0.2.1\na A 192.0.2.2",
}

// fastOutcome is everything loadFastIn returns, as text.
func fastOutcome(t *testing.T, path string, data []byte, workers, size int) string {
	t.Helper()
	lines := bytes.Count(data, []byte{'\n'}) + 1
	z, errs, long, err := loadFastIn("example.org.", path, bytes.NewReader(data), lines, nil, workers, size)
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "parse error: %v\n", fastError(err, path))
	}
	fmt.Fprintf(&b, "long: %v\n", long)
	for _, e := range errs {
		fmt.Fprintf(&b, "error: %v\n", e)
	}
	printZone(&b, z)
	return b.String()
}

// printZone writes z's warnings and records to b, a line each (nothing
// for a nil zone): what the chunked and sequential loads must agree on.
func printZone(b *strings.Builder, z *Zone) {
	if z == nil {
		return
	}
	for _, w := range z.Warnings() {
		fmt.Fprintf(b, "warning: %v\n", w)
	}
	for _, rr := range z.Records() {
		fmt.Fprintf(b, "%s\n", rr)
	}
}

// chunkInputs returns chunkZones, the test zone files and a generated
// zone, by name, with the path each is read as.
func chunkInputs(t *testing.T) (names []string, paths map[string]string, data map[string][]byte) {
	paths, data = map[string]string{}, map[string][]byte{}
	for name, text := range chunkZones {
		names = append(names, name)
		paths[name], data[name] = "testdata/good/chunks.zone", []byte(text)
	}
	files, err := filepath.Glob("testdata/*/*.zone")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test zones: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f)
		paths[f], data[f] = f, b
	}
	// An entry longer than a chunk and than the splitter's reads.
	var huge strings.Builder
	huge.WriteString("$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n\tNS ns1\nns1 A 192.0.2.1\nbig TXT (\n")
	for i := range 3000 {
		fmt.Fprintf(&huge, "\t\"%0100d\"\n", i)
	}
	huge.WriteString(")\nafter A 192.0.2.2\n")
	names = append(names, "huge entry")
	paths["huge entry"], data["huge entry"] = "huge.zone", []byte(huge.String())
	names = append(names, "generated")
	paths["generated"], data["generated"] = "big.zone", bigZoneOrigin(3000, "example.org.")
	return names, paths, data
}

// bigZoneOrigin is bigZone for the zone origin, with its $TTL changed and
// its origin moved every few hundred lines.
func bigZoneOrigin(n int, origin string) []byte {
	var b bytes.Buffer
	for i, line := range strings.SplitAfter(strings.ReplaceAll(string(bigZone(n)), "example.org.", origin), "\n") {
		switch {
		case i > 10 && i%700 == 0:
			fmt.Fprintf(&b, "$TTL %d\n", 60+i)
		case i > 10 && i%500 == 0:
			fmt.Fprintf(&b, "$ORIGIN s%d.%s\n", i, origin)
		case i > 10 && i%501 == 0:
			fmt.Fprintf(&b, "$ORIGIN %s\n", origin)
		}
		b.WriteString(line)
	}
	return b.Bytes()
}

// TestChunksMatchSequential checks that the zone parsers over chunks
// (forced on, in chunks down to one line) read every file exactly as one
// parser does: the same records, warnings and errors, the parse error at
// the same line of the file.
func TestChunksMatchSequential(t *testing.T) {
	names, paths, data := chunkInputs(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if needsSlow(paths[name], data[name], 0) || zonetext.ContainsFold(data[name], "$include") {
				t.Skip("never read in chunks: Parse reads it with one parser")
			}
			want := fastOutcome(t, paths[name], data[name], 0, 0)
			for _, size := range []int{1, 40, 300, 5000} {
				for _, workers := range []int{1, 3} {
					if got := fastOutcome(t, paths[name], data[name], workers, size); got != want {
						t.Errorf("%d parsers, chunks of %d bytes:\n%s\none parser:\n%s", workers, size, got, want)
					}
				}
			}
		})
	}
}

// TestChunksErrorLines checks the parse error of a chunk that does not
// start the file at its line in the file.
func TestChunksErrorLines(t *testing.T) {
	data := []byte(chunkZones["errors at known lines"])
	for _, size := range []int{1, 40} {
		_, _, _, err := loadFastIn("example.org.", "x.zone", bytes.NewReader(data), 12, nil, 2, size)
		if err == nil {
			t.Fatalf("chunks of %d: no error", size)
		}
		if e := fastError(err, "x.zone"); e.Line != 8 || !strings.Contains(e.Error(), "x.zone:8:") {
			t.Errorf("chunks of %d: error %v, want it at x.zone:8", size, e)
		}
	}
}

// TestParseChunked checks Parse and Load with every file cut into
// chunks as small as they go against the same with one parser: the same
// zone, or the same error list, in file order at the file's lines.
func TestParseChunked(t *testing.T) {
	names, paths, data := chunkInputs(t)
	outcome := func(z *Zone, err error) string {
		var b strings.Builder
		if err != nil {
			fmt.Fprintf(&b, "%v\n", err)
		}
		printZone(&b, z)
		return b.String()
	}
	seqParse, seqLoad := map[string]string{}, map[string]string{}
	for _, name := range names {
		seqParse[name] = outcome(Parse("example.org.", paths[name], data[name]))
		if paths[name] == name { // a file of testdata: Load reads it in pieces
			seqLoad[name] = outcome(Load("example.org.", name))
		}
	}
	defer func(w, s int) { chunkWorkers, chunkSize = w, s }(chunkWorkers, chunkSize)
	chunkWorkers, chunkSize = 3, 1
	for _, name := range names {
		if got := outcome(Parse("example.org.", paths[name], data[name])); got != seqParse[name] {
			t.Errorf("%s: Parse in chunks:\n%s\nwith one parser:\n%s", name, got, seqParse[name])
		}
		if want, ok := seqLoad[name]; ok {
			if got := outcome(Load("example.org.", name)); got != want {
				t.Errorf("%s: Load in chunks:\n%s\nwith one parser:\n%s", name, got, want)
			}
		}
	}
}

// FuzzChunks checks that zone parsers over chunks read any text the fast
// path may cut as one parser does: the same records, warnings and
// errors, or both a parse error.
func FuzzChunks(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.zone")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, text := range chunkZones {
		f.Add([]byte(text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "testdata/good/fuzz.zone"
		if needsSlow(path, data, 0) || zonetext.ContainsFold(data, "$include") {
			t.Skip()
		}
		if shortSOA(data) {
			// One parser reads a short SOA on from the next line
			// (fuzz_test.go); a chunk that ends after it fails, as the
			// slow parser (and BIND) do. Known, not fixed here.
			t.Skip()
		}
		want := fastOutcome(t, path, data, 0, 0)
		for _, size := range []int{1, 24} {
			got := fastOutcome(t, path, data, 2, size)
			if strings.HasPrefix(got, "parse error: ") && strings.HasPrefix(want, "parse error: ") {
				// Where a record's data runs into the next line, the
				// zone parser may fail at another place than in the
				// whole file (the first entry ended by the chunk's end,
				// as the slow path's): it fails, and Parse reports the
				// slow path's errors.
				continue
			}
			if got != want {
				t.Fatalf("chunks of %d bytes:\n%s\none parser:\n%s", size, got, want)
			}
		}
	})
}
