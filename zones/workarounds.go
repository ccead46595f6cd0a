package zones

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
)

// needsSlow reports whether a file (or a file it includes) has entries
// that the zone parser, reading the whole file in one go, reads wrongly,
// so that only parseSlow, which parses each entry on its own and works
// around them, may read it:
//
//   - $GENERATE: the zone parser gives the records TTL 3600 whatever the
//     $TTL, and splits quoted data differently from BIND; generate
//     expands it as BIND does.
//   - IPSECKEY: the zone parser's IPSECKEY reader takes the first word of
//     the next line for garbage after its own record (see below), which
//     an entry parsed on its own does not have.
//   - SVCB and HTTPS parameters written as keyNNNNN for a key the zone
//     parser knows by name (see svcbGeneric).
//
// A false positive (the words in a comment, say) costs only speed.
func needsSlow(path string, data []byte, depth int) bool {
	if containsFold(data, "$generate") || containsFold(data, "ipseckey") || hasGenericKey(data) {
		return true
	}
	if depth >= maxIncludeDepth || !containsFold(data, "$include") {
		return false
	}
	for _, e := range splitEntries(string(data)) {
		fields := blankFields(stripComment(e.text))
		if len(fields) < 2 || !strings.EqualFold(fields[0], "$INCLUDE") {
			continue
		}
		inc := fields[1]
		if !filepath.IsAbs(inc) {
			inc = filepath.Join(filepath.Dir(path), inc)
		}
		if sub, err := os.ReadFile(inc); err == nil && needsSlow(inc, sub, depth+1) {
			return true
		}
	}
	return false
}

// hasGenericKey reports whether text has "key" (in any case) and a digit.
func hasGenericKey(text []byte) bool {
	for i := 0; ; {
		j := indexFold(text[i:], "key")
		if j < 0 {
			return false
		}
		i += j + 3
		if i < len(text) && text[i] >= '0' && text[i] <= '9' {
			return true
		}
	}
}

// containsFold reports whether text holds word (lower case, ASCII) in any
// case, without the lower-case copy of the text that bytes.ToLower makes
// (as large as the zone file).
func containsFold(text []byte, word string) bool { return indexFold(text, word) >= 0 }

// indexFold is the index of the first word (lower case, ASCII, not empty)
// in text in any case, or -1.
func indexFold(text []byte, word string) int {
	end := len(text) - len(word) + 1
	if end <= 0 {
		return -1
	}
	// Candidates are found with IndexByte (fast) for the first byte in
	// each case; each case's next match is kept until passed, so that a
	// case that never occurs is searched for once, not at every candidate.
	next := func(i int, c byte, at *int) int {
		if *at >= i || *at == -1 {
			return *at
		}
		if k := bytes.IndexByte(text[i:end], c); k >= 0 {
			*at = i + k
		} else {
			*at = -1
		}
		return *at
	}
	lo, up := word[0], word[0]
	if lo >= 'a' && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	atLo, atUp := -2, -2
	for i := 0; i < end; i++ {
		a, b := next(i, lo, &atLo), next(i, up, &atUp)
		switch {
		case a < 0 && b < 0:
			return -1
		case a < 0 || b >= 0 && b < a:
			i = b
		default:
			i = a
		}
		if equalFold(text[i:i+len(word)], word) {
			return i
		}
	}
	return -1
}

// equalFold reports whether b is word (lower case, ASCII) in any case.
func equalFold(b []byte, word string) bool {
	for k := range len(word) {
		c := b[k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[k] {
			return false
		}
	}
	return true
}

// IPSECKEY: in miekg/dns v1.1.73 (scan_rr.go), (*IPSECKEY).parse reads
// the public key with endingToString, which consumes the end of the line,
// and then calls slurpRemainder, which reads on into the next line: the
// next record fails with "garbage after rdata" on its first word unless
// the line after the IPSECKEY is empty or the end of the file. The other
// readers that end with endingToString do not call slurpRemainder. To be
// fixed upstream (github.com/miekg/dns, no issue found for it yet); until
// then files with an IPSECKEY go through parseSlow, whose entries are
// parsed one at a time, each at the end of its input.

// maxString is the most bytes a <character-string> holds (RFC 1035 section
// 3.3).
const maxString = 255

// charStrings returns the <character-string>s of the types whose data are
// made of them, as the zone parser keeps them (escaped): it cuts a longer
// string into pieces of 255 without a word, where BIND and NSD refuse it.
func charStrings(rr dns.RR) []string {
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

// hasLongString reports whether a record holds a string of exactly 255
// bytes, which may be the first piece of a longer one the zone parser cut.
func hasLongString(rr dns.RR) bool {
	for _, s := range charStrings(rr) {
		if len(s) >= maxString && unescapedLen(s) == maxString {
			return true
		}
	}
	return false
}

// longString returns the length of the first word of an entry (a quoted
// string or not) longer than 255 bytes once its escapes are decoded, or 0.
// No other word of a record with character-strings can be that long: a
// name has at most 255 bytes.
func longString(text string) int {
	text = stripComment(text)
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
		if n := unescapedLen(text[start:end]); n > maxString {
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

// checkLongStrings reports a character-string of more than 255 bytes in an
// entry, which the zone parser has silently cut in pieces.
func checkLongStrings(path string, line int, text string, rrs []located) *Error {
	for _, l := range rrs {
		if charStrings(l.rr) == nil {
			continue
		}
		if n := longString(text); n > 0 {
			h := l.rr.Header()
			return &Error{File: path, Line: line, Msg: fmt.Sprintf(
				"%s %s: a string of %d bytes, more than the %d a string may hold: split it into several quoted strings",
				h.Name, dns.TypeToString[h.Rrtype], n, maxString)}
		}
	}
	return nil
}
