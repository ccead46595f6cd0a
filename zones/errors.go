package zones

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// maxReported is how many errors an ErrorList prints before summarising the rest.
const maxReported = 100

// Error is one problem in a zone file, at a known place when Line > 0.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return e.Msg
}

// ErrorList is every problem found in one zone, sorted by file and line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i == maxReported {
			fmt.Fprintf(&b, "\n(and %d more errors)", len(l)-maxReported)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find the individual errors.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		if c := cmp.Compare(a.File, b.File); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Col, b.Col)
	})
}

// parseErrRE takes apart miekg/dns's ParseError text:
// `file: dns: bad A A: "192.0.2.300" at line: 7:12`.
var parseErrRE = regexp.MustCompile(`^(?:(.*): )?dns: (.*) at line: (\d+):(\d+)$`)

// fromParseError turns a zone parser error into an Error at an absolute
// position. lineOffset is added to the parser's line (for entries parsed on
// their own); file is used when the parser did not name one.
func fromParseError(err error, file string, lineOffset int) *Error {
	m := parseErrRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "dns: ")}
	}
	line, _ := strconv.Atoi(m[3])
	col, _ := strconv.Atoi(m[4])
	f := file
	if m[1] != "" && lineOffset == 0 {
		f = m[1]
	}
	return &Error{File: f, Line: line + lineOffset, Col: col, Msg: clearer(m[2])}
}

// parserMsgRE takes apart a zone parser message: `bad A A: "192.0.2.300"`.
var parserMsgRE = regexp.MustCompile(`^(.*): ("(?:[^"\\]|\\.)*")$`)

// clearer rewords the zone parser's most common messages to say what was
// found and what is allowed; others pass through.
func clearer(msg string) string {
	m := parserMsgRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	what, tok := m[1], m[2]
	if tok == `"\n"` {
		return "unexpected end of line: a record needs an owner, a type and data"
	}
	switch what {
	case "bad A A":
		return "bad A record: " + tok + " is not an IPv4 address"
	case "bad AAAA AAAA":
		return "bad AAAA record: " + tok + " is not an IPv6 address"
	case "not a TTL":
		// In this place the zone parser takes anything that is not a
		// class or a type it knows for a TTL.
		return tok + " is neither a TTL nor a known record type"
	case "unknown RR type":
		return tok + " is not a known record type"
	case "garbage after rdata":
		return "unexpected " + tok + " after the end of the record data"
	case "bad owner name":
		return tok + " is not a valid owner name"
	}
	return zonetext.PlainWords(what, tok, msg)
}
