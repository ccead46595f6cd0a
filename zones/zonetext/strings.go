package zonetext

import "github.com/miekg/dns"

// MaxString is the most bytes a <character-string> holds (RFC 1035 section
// 3.3).
const MaxString = 255

// CharStrings returns the <character-string>s of the types whose data are
// made of them, as the zone parser keeps them (escaped): it cuts a longer
// string into pieces of 255 without a word, where BIND and NSD refuse it.
func CharStrings(rr dns.RR) []string {
	switch r := rr.(type) {
	case *dns.TXT:
		return r.Txt
	case *dns.SPF:
		return r.Txt
	case *dns.AVC:
		return r.Txt
	case *dns.NINFO:
		return r.ZSData
	case *dns.RESINFO:
		return r.Txt
	case *dns.HINFO:
		return []string{r.Cpu, r.Os}
	case *dns.ISDN:
		return []string{r.Address, r.SubAddress}
	}
	return nil
}

// HasLongString reports whether a record holds a string of exactly 255
// bytes, which may be the first piece of a longer one the zone parser cut.
func HasLongString(rr dns.RR) bool {
	for _, s := range CharStrings(rr) {
		if len(s) >= MaxString && unescapedLen(s) == MaxString {
			return true
		}
	}
	return false
}

// LongString returns the length of the first word of an entry (a quoted
// string or not) longer than 255 bytes once its escapes are decoded, or 0.
// No other word of a record with character-strings can be that long: a
// name has at most 255 bytes.
func LongString(text string) int {
	text = StripComment(text)
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')':
			i++
			continue
		case c == ';':
			// A comment on an earlier line of a multi-line entry.
			for i < len(text) && text[i] != '\n' {
				i++
			}
			continue
		}
		start, quoted := i, c == '"'
		if quoted {
			i++
			start = i
		}
		for i < len(text) {
			c := text[i]
			if c == '\\' {
				i += 2
				continue
			}
			if quoted && c == '"' || !quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')' || c == '"' || c == ';') {
				break
			}
			i++
		}
		end := min(i, len(text))
		if n := unescapedLen(text[start:end]); n > MaxString {
			return n
		}
		if quoted {
			i++
		}
	}
	return 0
}

// unescapedLen is the number of bytes s stands for: "\DDD" and "\X" are
// one each.
func unescapedLen(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
				i += 3
			} else {
				i++
			}
		}
		n++
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// StripComment drops a trailing ";" comment that is not inside quotes.
func StripComment(s string) string {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				return s[:i]
			}
		}
	}
	return s
}
