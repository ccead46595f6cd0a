package zones

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// generate expands a $GENERATE entry the way BIND 9 does (named-checkzone
// -D prints the same records), rather than with the zone parser, which
// gives every record TTL 3600 whatever the $TTL and reads the data
// differently:
//
//	$GENERATE start-stop[/step] owner [ttl] [class] type data
//
// The data is one word, or one quoted string whose quotes BIND removes
// before the substitutions, so `TXT "a $"` makes two strings, "a" and
// "1". A record without a TTL gets the $TTL in force. In the owner and
// the data, "$" is the counter, "$$" a "$", "${offset[,width[,base]]}"
// the counter plus offset in base d, o, x, X or n, N (nibbles, for
// ip6.arpa names), at least width characters wide; a backslash keeps the
// character after it, and its own place, for the record's parser.
func (st *slowState) generate(path string, e entry) ([]located, ErrorList) {
	bad := func(format string, args ...any) ([]located, ErrorList) {
		return nil, ErrorList{{File: path, Line: e.line, Msg: "$GENERATE: " + fmt.Sprintf(format, args...)}}
	}
	words, err := zonetext.GenerateWords(zonetext.StripComment(e.text))
	if err != "" {
		return bad("%s", err)
	}
	words = words[1:] // $GENERATE
	if len(words) < 4 {
		return bad("want a range, an owner, a type and the record data, found %d words", len(words))
	}
	start, stop, step, ok := zonetext.GenerateRange(words[0])
	if !ok {
		return bad("range %q is not start-stop or start-stop/step, with start <= stop", words[0])
	}
	if (stop-start)/step >= zonetext.MaxGenerate {
		return bad("range %q makes more than %d records", words[0], zonetext.MaxGenerate)
	}
	lhs, rest := words[1], words[2:]
	ttl := st.ttl
	if t, ok := zonetext.ParseTTL(rest[0]); ok && len(rest) > 2 {
		ttl, rest = t, rest[1:]
	}
	class := "IN"
	if _, ok := dns.StringToClass[strings.ToUpper(rest[0])]; ok && len(rest) > 2 {
		class, rest = rest[0], rest[1:]
	}
	if len(rest) != 2 {
		return bad("after the type %s, the record data must be one word or one quoted string (BIND reads no more), found %d words: quote them all", rest[0], len(rest)-1)
	}
	typ, rhs := rest[0], rest[1]
	if rhs == "" {
		return bad("empty record data")
	}
	var b strings.Builder
	b.WriteString("$ORIGIN " + st.origin + "\n")
	long := int64(-1) // the first counter whose data has a long word
	for i := start; i <= stop; i += step {
		owner, err := zonetext.GenerateName(lhs, i)
		if err == "" {
			var data string
			data, err = zonetext.GenerateName(rhs, i)
			if err == "" {
				if long < 0 && zonetext.LongString(data) > 0 {
					long = i
				}
				fmt.Fprintf(&b, "%s %d %s %s %s\n", owner, ttl, class, typ, data)
				continue
			}
		}
		return bad("%s", err)
	}
	zp := dns.NewZoneParser(strings.NewReader(b.String()), st.origin, path)
	var out []located
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, located{rr: rr, file: path, line: e.line})
	}
	if err := zp.Err(); err != nil {
		pe := fromParseError(err, path, 0)
		n := start + int64(pe.Line-2)*step // the prelude is line 1
		return bad("for %d: %s", n, pe.Msg)
	}
	if long >= 0 && len(out) > 0 && zonetext.CharStrings(out[0].rr) != nil {
		data, _ := zonetext.GenerateName(rhs, long)
		return bad("for %d: a string of %d bytes, more than the %d a string may hold: split it into several quoted strings",
			long, zonetext.LongString(data), zonetext.MaxString)
	}
	return out, nil
}
