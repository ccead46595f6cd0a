package zonetext

import (
	"bytes"
	"io"
	"strings"

	"github.com/miekg/dns"
)

// Chunk is a piece of a master file for a zone parser of its own, with the
// state in force at its first byte.
type Chunk struct {
	Data   []byte
	Origin string
	TTL    uint32
	Line   int // the file's line of Data's first byte
}

// Splitter cuts a master file into chunks, following what the zone parser
// carries from line to line: a cut goes only before a line that starts an
// entry with its own owner (outside parentheses, quotes and comments, as
// the lexer reads them), and each chunk starts in the $ORIGIN and $TTL in
// force there. A directive it cannot read as the parser would, $GENERATE
// included, ends the cutting: the rest of the file is one chunk.
type Splitter struct {
	Origin string
	TTL    uint32
	Line   int         // of the next chunk's first byte
	Free   chan []byte // buffers to reuse (Chunk.Data handed back), or nil
	stuck  bool        // no more cuts: the rest is one chunk

	// Within the chunk being scanned:
	depth              int
	inQuote, inComment bool
	escaped            bool // the byte before was a backslash
	bol                bool // at the start of a line, outside parentheses and quotes
}

// Run reads r and hands emit each chunk of about size bytes in order; it
// stops when emit returns false, and returns a read error.
func (sp *Splitter) Run(r io.Reader, size int, emit func(*Chunk) bool) error {
	const readSize = 64 << 10
	buf := make([]byte, 0, size+readSize)
	i, lines := 0, 0 // scanned up to buf[i]; newlines in buf[:i]
	sp.bol = true
	eof, needRead := false, true
	start := func() *Chunk {
		return &Chunk{Origin: sp.Origin, TTL: sp.TTL, Line: sp.Line}
	}
	c := start()
	for {
		if needRead && !eof {
			if cap(buf)-len(buf) < readSize {
				nb := make([]byte, len(buf), 2*cap(buf)+readSize)
				copy(nb, buf)
				buf = nb
			}
			n, err := r.Read(buf[len(buf) : len(buf)+readSize])
			buf = buf[:len(buf)+n]
			switch {
			case err == io.EOF:
				eof = true
			case err != nil:
				return err
			case n > 0:
				needRead = false
			}
			continue
		}
		stop, nl, more := sp.scan(buf, i, size, eof)
		i, lines = stop, lines+nl
		switch {
		case more:
			needRead = true // a directive's line, to be read whole
		case i < len(buf):
			// A cut at buf[i]: a new chunk starts there, in the state the
			// lines before it leave.
			c.Data = buf[:i:i]
			if !emit(c) {
				return nil
			}
			sp.Line += lines
			rest := buf[i:]
			buf = sp.buffer(len(rest), max(len(rest), size)+readSize)
			copy(buf, rest)
			i, lines = 0, 0
			c = start()
			sp.depth, sp.inQuote, sp.inComment, sp.escaped, sp.bol = 0, false, false, false, true
		case eof:
			c.Data = buf
			emit(c)
			return nil
		default:
			needRead = true
		}
	}
}

// buffer returns a buffer of length n and capacity c or more.
func (sp *Splitter) buffer(n, c int) []byte {
	select {
	case b := <-sp.Free:
		if cap(b) >= c {
			return b[:n]
		}
	default:
	}
	return make([]byte, n, c)
}

// nameStart marks the bytes that start an owner name at which a chunk may
// begin: letters, digits and the usual others. A line starting with
// anything else (a blank, "$", "(", an escape) is never cut at.
var nameStart = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['*'], t['_'], t['@'], t['-'] = true, true, true, true
	return t
}()

// wordEnd marks the bytes that end the first word of a line, or make it
// more than a name.
var wordEnd = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, ';': true, '(': true, ')': true, '"': true, '\\': true}

// scan reads buf from i and returns where it stopped: at a cut (a line
// start from size bytes on where a chunk may begin), at the end of buf,
// or (more) at a line whose first word or directive does not end in buf. nl is the
// newlines it passed.
func (sp *Splitter) scan(buf []byte, i, size int, eof bool) (stop, nl int, more bool) {
	for ; i < len(buf); i++ {
		c := buf[i]
		if sp.bol {
			sp.bol = false
			if i >= size && !sp.stuck && nameStart[c] {
				// The lexer takes the line's first word for an owner
				// only when a blank ends it: "ns" alone on a line is an
				// NS record of the previous owner.
				j := i + 1
				for j < len(buf) && !wordEnd[buf[j]] {
					j++
				}
				if j == len(buf) && !eof {
					sp.bol = true
					return i, nl, true
				}
				if j < len(buf) && (buf[j] == ' ' || buf[j] == '\t') {
					return i, nl, false
				}
			}
			if c == '$' && !sp.stuck {
				end := bytes.IndexByte(buf[i:], '\n')
				if end < 0 && !eof {
					sp.bol = true
					return i, nl, true
				}
				if end < 0 {
					end = len(buf) - i
				}
				sp.directive(buf[i : i+end])
			}
		}
		if sp.escaped && c != '\n' {
			// As the zone parser's lexer reads it: a backslash escapes
			// the next byte, but never a newline, which still ends the
			// entry (outside parentheses and quotes).
			sp.escaped = false
			continue
		}
		if !CloseSpecial[c] {
			continue
		}
		switch {
		case c == '\n':
			nl++
			sp.inComment, sp.escaped = false, false
			sp.bol = sp.depth == 0 && !sp.inQuote
		case sp.inComment:
		case c == '\\':
			sp.escaped = true
		case c == '"':
			sp.inQuote = !sp.inQuote
		case sp.inQuote:
		case c == ';':
			sp.inComment = true
		case c == '(':
			sp.depth++
		case c == ')' && sp.depth > 0:
			sp.depth--
		}
	}
	return i, nl, false
}

// directive follows a line starting with "$": $ORIGIN and $TTL change the
// state of the chunks after it; anything else, or anything it cannot
// read as the zone parser would, ends the cutting.
func (sp *Splitter) directive(line []byte) {
	if bytes.ContainsAny(line, "()\"\\") {
		sp.stuck = true
		return
	}
	fields := BlankFields(StripComment(string(line)))
	if len(fields) != 2 {
		sp.stuck = true
		return
	}
	switch strings.ToUpper(fields[0]) {
	case "$ORIGIN":
		o, ok := AbsName(fields[1], sp.Origin)
		if !ok {
			sp.stuck = true
			return
		}
		sp.Origin = o
	case "$TTL":
		ttl, ok := ParseTTL(fields[1])
		if !ok {
			sp.stuck = true
			return
		}
		sp.TTL = ttl
	default:
		sp.stuck = true
	}
}

// CloseSpecial marks the bytes that change what the lexer is inside of:
// newline, backslash, quote, semicolon and parentheses.
var CloseSpecial = [256]bool{'\n': true, '\\': true, '"': true, ';': true, '(': true, ')': true}

// BlankFields splits s where the zone parser does: at spaces and tabs
// only. Like the zone parser, it drops carriage returns.
func BlankFields(s string) []string {
	s = strings.ReplaceAll(s, "\r", "")
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

// ParseTTL reads a TTL in seconds or with BIND unit suffixes (1h30m),
// accepting exactly what the zone parser accepts.
func ParseTTL(s string) (uint32, bool) {
	var total, cur uint64
	for _, c := range strings.ToLower(s) {
		switch c {
		case 's':
			total, cur = total+cur, 0
		case 'm':
			total, cur = total+cur*60, 0
		case 'h':
			total, cur = total+cur*3600, 0
		case 'd':
			total, cur = total+cur*86400, 0
		case 'w':
			total, cur = total+cur*604800, 0
		default:
			if c < '0' || c > '9' {
				return 0, false
			}
			cur = cur*10 + uint64(c-'0')
		}
		if cur > 1<<32 || total > 1<<32 {
			return 0, false // stop before the sums can wrap
		}
	}
	total += cur
	if total > 1<<32-1 {
		return 0, false
	}
	return uint32(total), true
}

// AbsName makes a directive's name absolute the way the zone parser does:
// "@" is the origin, and a name without a final dot is relative to it.
func AbsName(name, origin string) (string, bool) {
	if name == "@" {
		return origin, true
	}
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return "", false
	}
	switch {
	case dns.IsFqdn(name):
	case origin == ".":
		name += "."
	default:
		name += "." + origin
	}
	return name, true
}
