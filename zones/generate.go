package zones

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// maxGenerate is how many records one $GENERATE may make, as in the zone
// parser.
const maxGenerate = 65536

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
	words, err := generateWords(stripComment(e.text))
	if err != "" {
		return bad("%s", err)
	}
	words = words[1:] // $GENERATE
	if len(words) < 4 {
		return bad("want a range, an owner, a type and the record data, found %d words", len(words))
	}
	start, stop, step, ok := generateRange(words[0])
	if !ok {
		return bad("range %q is not start-stop or start-stop/step, with start <= stop", words[0])
	}
	if (stop-start)/step >= maxGenerate {
		return bad("range %q makes more than %d records", words[0], maxGenerate)
	}
	lhs, rest := words[1], words[2:]
	ttl := st.ttl
	if t, ok := parseTTL(rest[0]); ok && len(rest) > 2 {
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
		owner, err := generateName(lhs, i)
		if err == "" {
			var data string
			data, err = generateName(rhs, i)
			if err == "" {
				if long < 0 && longString(data) > 0 {
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
	if long >= 0 && len(out) > 0 && charStrings(out[0].rr) != nil {
		data, _ := generateName(rhs, long)
		return bad("for %d: a string of %d bytes, more than the %d a string may hold: split it into several quoted strings",
			long, longString(data), maxString)
	}
	return out, nil
}

// generateWords splits a $GENERATE line into words as BIND's lexer does:
// at blanks, a quoted string being one word, its quotes removed and \"
// turned into ", other escapes kept as written.
func generateWords(s string) ([]string, string) {
	var out []string
	for i := 0; i < len(s); {
		switch s[i] {
		case ' ', '\t', '\r', '\n', '(', ')':
			i++
			continue
		}
		var w strings.Builder
		if s[i] == '"' {
			i++
			for {
				if i >= len(s) {
					return nil, "unterminated quoted string"
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' && i+1 < len(s) {
					if s[i+1] != '"' {
						w.WriteByte('\\')
					}
					w.WriteByte(s[i+1])
					i += 2
					continue
				}
				w.WriteByte(c)
				i++
			}
			if i < len(s) && !isBlank(s[i]) {
				return nil, fmt.Sprintf("quoted string %q is followed by %q without a blank", w.String(), s[i:i+1])
			}
			out = append(out, w.String())
			continue
		}
		for i < len(s) && !isBlank(s[i]) && s[i] != '(' && s[i] != ')' {
			if s[i] == '\\' && i+1 < len(s) {
				w.WriteByte(s[i])
				i++
			}
			w.WriteByte(s[i])
			i++
		}
		out = append(out, w.String())
	}
	return out, ""
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// generateRange reads start-stop[/step].
func generateRange(s string) (start, stop, step int64, ok bool) {
	step = 1
	if r, st, found := strings.Cut(s, "/"); found {
		n, err := strconv.ParseInt(st, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, 0, false
		}
		s, step = r, n
	}
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	stop, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || stop < start || stop > 1<<31-1 {
		return 0, 0, 0, false
	}
	return start, stop, step, true
}

// generateName substitutes the counter i into an owner or data template.
func generateName(tmpl string, i int64) (string, string) {
	var b strings.Builder
	for p := 0; p < len(tmpl); p++ {
		c := tmpl[p]
		switch {
		case c == '\\':
			b.WriteByte(c)
			if p+1 < len(tmpl) {
				p++
				b.WriteByte(tmpl[p])
			}
		case c == '$' && p+1 < len(tmpl) && tmpl[p+1] == '$':
			b.WriteByte('$')
			p++
		case c == '$' && p+1 < len(tmpl) && tmpl[p+1] == '{':
			end := strings.IndexByte(tmpl[p:], '}')
			if end < 0 {
				return "", fmt.Sprintf("modifier %q has no closing }", tmpl[p:])
			}
			mod := tmpl[p+2 : p+end]
			s, ok := generateModifier(mod, i)
			if !ok {
				return "", fmt.Sprintf("modifier %q is not ${offset[,width[,base]]} with base d, o, x, X, n or N", tmpl[p:p+end+1])
			}
			b.WriteString(s)
			p += end
		case c == '$':
			b.WriteString(strconv.FormatInt(i, 10))
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// generateModifier formats i for the modifier text between "${" and "}".
func generateModifier(mod string, i int64) (string, bool) {
	parts := strings.Split(mod, ",")
	if len(parts) > 3 {
		return "", false
	}
	offset, err := strconv.ParseInt(parts[0], 10, 32)
	if err != nil {
		return "", false
	}
	width, base := uint64(0), "d"
	if len(parts) > 1 {
		if width, err = strconv.ParseUint(parts[1], 10, 8); err != nil {
			return "", false
		}
	}
	if len(parts) > 2 {
		base = parts[2]
	}
	v := i + offset
	switch base {
	case "d", "o", "x", "X":
		return fmt.Sprintf("%0*"+base, int(width), v), true
	case "n", "N":
		if v < 0 {
			return "", false
		}
		return nibbles(uint64(v), int(width), base == "N"), true
	}
	return "", false
}

// nibbles writes v as BIND's nibble mode does: hexadecimal digits, least
// significant first, separated by dots, padded with zero nibbles until
// the text (dots counted) is width characters long.
func nibbles(v uint64, width int, upper bool) string {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	var b strings.Builder
	for {
		b.WriteByte(digits[v&0xf])
		v >>= 4
		if width > 0 {
			width--
		}
		if width > 0 || v != 0 {
			b.WriteByte('.')
			if width > 0 {
				width--
			}
		}
		if v == 0 && width <= 0 {
			return b.String()
		}
	}
}
