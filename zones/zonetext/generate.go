package zonetext

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxGenerate is how many records one $GENERATE may make, as in the zone
// parser.
const MaxGenerate = 65536

// GenerateWords splits a $GENERATE line into words as BIND's lexer does:
// at blanks, a quoted string being one word, its quotes removed and \"
// turned into ", other escapes kept as written.
func GenerateWords(s string) ([]string, string) {
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

// GenerateRange reads start-stop[/step].
func GenerateRange(s string) (start, stop, step int64, ok bool) {
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

// GenerateName substitutes the counter i into an owner or data template.
func GenerateName(tmpl string, i int64) (string, string) {
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
