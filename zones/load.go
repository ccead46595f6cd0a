package zones

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// maxIncludeDepth is how deep $INCLUDEs may nest, as in the zone parser.
const maxIncludeDepth = 7

// located is a parsed record and where it came from (Line 0: not known).
type located struct {
	rr   dns.RR
	file string
	line int
}

// Load reads the master file at path and builds the zone named origin.
// $INCLUDE paths are relative to the folder of the file that names them.
// The error, if any, is an ErrorList with every problem found.
func Load(origin, path string) (*Zone, error) { return LoadShared(origin, path, nil) }

// LoadShared is Load for a zone that replaces prev (nil: none), say on a
// reload: the records that did not change (same owner, type, TTL and
// data) are prev's own values, not copies, as are the owner names, so a
// reload of a large zone with a few changes holds little more than one
// copy of it (the records are immutable, and shared by both zones while
// prev still serves). The zone is the same as Load's.
func LoadShared(origin, path string, prev *Zone) (*Zone, error) {
	if z := loadStream(origin, path, prev); z != nil {
		return z, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// The path is already in front: say only what went wrong.
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, ErrorList{{File: path, Msg: err.Error()}}
	}
	return parse(origin, path, data, prev)
}

// Parse builds the zone named origin from master-file text; path names the
// file in errors and anchors relative $INCLUDEs.
func Parse(origin, path string, data []byte) (*Zone, error) { return parse(origin, path, data, nil) }

// parse is Parse sharing records with prev (LoadShared).
func parse(origin, path string, data []byte, prev *Zone) (*Zone, error) {
	origin = Lower(dns.Fqdn(origin))
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, ErrorList{{File: path, Msg: fmt.Sprintf("zone name %q is not a valid domain name", origin)}}
	}
	// The fast path parses the whole file in one go and knows no lines; a
	// file with any problem is parsed again entry by entry, to report every
	// problem at its line.
	// Some files must be read entry by entry even when they are good:
	// those the zone parser reads wrongly (slowOnly), and those whose
	// zone carries warnings or may hold a TXT string too long, which
	// need lines.
	slowOnly := needsSlow(path, data, 0)
	var err error
	var fastErrs ErrorList
	if !slowOnly {
		var z *Zone
		var errs ErrorList
		var long bool
		lines := bytes.Count(data, []byte{'\n'}) + 1
		workers := parseWorkers(lines)
		if zonetext.ContainsFold(data, "$include") {
			workers = 0 // chunks.go: an included file's errors count its own lines
		}
		z, errs, long, err = loadFastIn(origin, path, bytes.NewReader(data), lines, prev, workers, chunkSize)
		if err == nil && !closed(data) {
			err = errUnclosed
		}
		if err == nil {
			if len(errs) == 0 && len(z.warnings) == 0 && !long {
				return z, nil
			}
			fastErrs = errs
		}
	}
	rrs, errs := parseSlow(origin, path, data)
	// Records with syntax errors are missing, so checks for absent records
	// of their types (no SOA, no glue) would only report the same mistake
	// again.
	z, verrs := build(origin, path, rrs, failedTypes(origin, path, data, errs))
	errs = append(errs, verrs...)
	if len(errs) == 0 && (slowOnly || err == nil && len(fastErrs) == 0) {
		return z, nil
	}
	if len(errs) == 0 {
		// The slow path found nothing wrong: never return an empty list.
		if err != nil {
			errs = append(errs, fastError(err, path))
		} else {
			errs = fastErrs
		}
	}
	errs.sort()
	return nil, errs
}

// parseFast returns the records of the zone parser over all of data.
func parseFast(origin, path string, data []byte) ([]located, error) {
	zp := fastParser(origin, path, bytes.NewReader(data))
	out := make([]located, 0, bytes.Count(data, []byte{'\n'})+1)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, located{rr: rr, file: path})
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if !closed(data) {
		// The zone parser accepts a record whose "(" is glued to its last
		// token and never closed, filling the rest with zeros.
		return nil, errUnclosed
	}
	return out, nil
}

// loadFast builds the zone from parseFast's records as the zone parser
// reads them, holding none but those the zone keeps (a slice of them all
// was 40 MB of garbage for a zone of a million records). long says that a
// record may hold a string the zone parser cut (zonetext.HasLongString); err is
// parseFast's error, and then there is no zone.
func loadFast(origin, path string, data io.Reader, hint int, prev *Zone) (z *Zone, errs ErrorList, long bool, err error) {
	return loadFastIn(origin, path, data, hint, prev, parseWorkers(hint), chunkSize)
}

// loadFastIn is loadFast with workers zone parsers over chunks of about
// size bytes (chunks.go), or, with workers 0, one parser.
func loadFastIn(origin, path string, data io.Reader, hint int, prev *Zone, workers, size int) (z *Zone, errs ErrorList, long bool, err error) {
	if workers > 0 {
		records, wait := parallelRecords(origin, path, data, workers, size)
		z, errs = buildFrom(origin, path, records, hint, nil, prev)
		if long, err = wait(); err != nil {
			return nil, nil, false, err
		}
		return z, errs, long, nil
	}
	zp := fastParser(origin, path, data)
	// The zone parser runs on a goroutine of its own, ahead of build by
	// a few batches of records: half the load time each, on a zone of a
	// million records, so two cores load it in little more than half.
	batches, free := make(chan []located, fastBatches), make(chan []located, fastBatches+2)
	stop := make(chan struct{})
	parsed := make(chan struct{})
	go func() {
		defer close(parsed)
		defer close(batches)
		b := make([]located, 0, fastBatch)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			if !long && zonetext.HasLongString(rr) {
				long = true
			}
			if b = append(b, located{rr: rr, file: path}); len(b) < fastBatch {
				continue
			}
			select {
			case batches <- b:
			case <-stop:
				return
			}
			select {
			case b = <-free:
			default:
				b = make([]located, 0, fastBatch)
			}
		}
		if len(b) > 0 {
			select {
			case batches <- b:
			case <-stop:
			}
		}
	}()
	records := func(yield func(located) bool) {
		for b := range batches {
			for _, l := range b {
				if !yield(l) {
					return
				}
			}
			clear(b) // no record kept alive from here
			select {
			case free <- b[:0]:
			default:
			}
		}
	}
	z, errs = buildFrom(origin, path, records, hint, nil, prev)
	close(stop)
	<-parsed // long and the parser's error are the goroutine's until here
	if err := zp.Err(); err != nil {
		return nil, nil, false, err
	}
	return z, errs, long, nil
}

// fastBatch is how many records loadFast's parser hands build at a time,
// and fastBatches how many batches it may be ahead.
const fastBatch, fastBatches = 256, 4

// fastParser is the zone parser of the fast path, over all of data.
func fastParser(origin, path string, data io.Reader) *dns.ZoneParser {
	// The zone parser silently drops an incomplete entry at the end of
	// input with no newline (a file cut short, say): end it with one.
	// "$TTL 3600" first: a record without a TTL gets the $TTL in force
	// or defaultTTL, never the TTL of the record before it, which is what
	// the zone parser does without a $TTL (parseSlow does the same).
	r := io.MultiReader(strings.NewReader(fastPrelude), data, strings.NewReader("\n"))
	zp := dns.NewZoneParser(r, origin, path)
	zp.SetIncludeAllowed(true)
	return zp
}

// slowState is what a master file carries from one entry to the next.
type slowState struct {
	origin    string
	ttl       uint32 // from $TTL, or defaultTTL
	prevOwner string
	depth     int
}

// defaultTTL is the TTL of a record written without one before any $TTL:
// 3600, as NSD and Knot DNS load it. (RFC 1035 would take the last TTL
// written on an earlier record, BIND the SOA's MINIMUM; the servers we
// must answer like do neither.)
const defaultTTL = 3600

// fastPrelude is what parseFast reads before the file.
var fastPrelude = "$TTL " + strconv.Itoa(defaultTTL) + "\n"

// parseSlow parses every entry on its own, so a syntax error in one does
// not hide the errors in the others, and every record knows its line.
func parseSlow(origin, path string, data []byte) ([]located, ErrorList) {
	st := &slowState{origin: origin, ttl: defaultTTL}
	return st.parse(path, data)
}

func (st *slowState) parse(path string, data []byte) (rrs []located, errs ErrorList) {
	for _, e := range splitEntries(string(data)) {
		if e.unclosed != "" {
			// The entry runs to the end of the file: the zone parser
			// would report it there, far from the mistake.
			msg := `unterminated "(": no closing ")" before the end of the file`
			if e.unclosed == `"` {
				msg = "unterminated quoted string: no closing quote before the end of the file"
			}
			errs = append(errs, &Error{File: path, Line: e.openLine, Msg: msg})
			continue
		}
		if isDirective(e.text) {
			r, errl := st.directive(path, e, e.text)
			rrs = append(rrs, r...)
			errs = append(errs, errl...)
			continue
		}
		body, shift := e.text, 0
		if body[0] == ' ' || body[0] == '\t' {
			if st.prevOwner == "" {
				errs = append(errs, &Error{File: path, Line: e.line, Msg: "record with no owner name before any owner was given"})
				continue
			}
			body, shift = st.prevOwner+body, len(st.prevOwner)
		} else if o, ok := zonetext.AbsName(zonetext.BlankFields(body)[0], st.origin); ok {
			// The next blank-owner line belongs to this owner even when
			// this entry turns out to be bad.
			st.prevOwner = o
		}
		r, errl := st.parseEntry(path, e.line, body)
		if errl != nil && errl.Line == e.line && errl.Col > shift {
			errl.Col -= shift // columns of the line as written
		}
		if errl != nil {
			errs = append(errs, errl)
			continue
		}
		rrs = append(rrs, r...)
	}
	return rrs, errs
}

// parseEntry runs the zone parser on one entry, with the origin and TTL
// state in force at that point of the file.
func (st *slowState) parseEntry(path string, line int, body string) ([]located, *Error) {
	prelude := "$ORIGIN " + st.origin + "\n$TTL " + strconv.FormatUint(uint64(st.ttl), 10) + "\n"
	parse := func(body string) ([]located, error) {
		zp := dns.NewZoneParser(strings.NewReader(prelude+body+"\n"), st.origin, path)
		var out []located
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			out = append(out, located{rr: rr, file: path, line: line})
		}
		return out, zp.Err()
	}
	out, err := parse(body)
	if err != nil {
		// SVCB parameters in the keyNNNNN form of a named key (svcb.go).
		if text, ph := zonetext.SVCBGeneric(body); ph != nil {
			if o, err2 := parse(text); err2 == nil {
				if err2 = svcbRestore(o, ph); err2 != nil {
					return nil, &Error{File: path, Line: line, Msg: err2.Error()}
				}
				out, err = o, nil
			}
		}
	}
	if err != nil {
		pl := strings.Count(prelude, "\n")
		return nil, fromParseError(err, path, line-1-pl)
	}
	if e := checkLongStrings(path, line, body, out); e != nil {
		return nil, e
	}
	if len(out) > 0 {
		st.prevOwner = out[len(out)-1].rr.Header().Name
	}
	return out, nil
}

// isDirective reports whether an entry is a directive. Like the zone
// parser, only the four known words at the very start of a line count:
// "$other" is an owner name, and " $TTL" a record with a blank owner.
func isDirective(text string) bool {
	if text[0] != '$' {
		return false
	}
	word, _, _ := strings.Cut(zonetext.BlankFields(text)[0], ";")
	switch strings.ToUpper(word) {
	case "$ORIGIN", "$TTL", "$INCLUDE", "$GENERATE":
		return true
	}
	return false
}

func (st *slowState) directive(path string, e entry, text string) ([]located, ErrorList) {
	fields := zonetext.BlankFields(zonetext.StripComment(text))
	bad := func(msg string) ErrorList { return ErrorList{{File: path, Line: e.line, Msg: msg}} }
	switch strings.ToUpper(fields[0]) {
	case "$ORIGIN":
		if len(fields) != 2 {
			return nil, bad(fmt.Sprintf("$ORIGIN needs one domain name, found %d words", len(fields)-1))
		}
		o, ok := zonetext.AbsName(fields[1], st.origin)
		if !ok {
			return nil, bad(fmt.Sprintf("$ORIGIN %q is not a valid domain name", fields[1]))
		}
		st.origin = o
	case "$TTL":
		if len(fields) != 2 {
			return nil, bad(fmt.Sprintf("$TTL needs one value, found %d words", len(fields)-1))
		}
		ttl, ok := zonetext.ParseTTL(fields[1])
		if !ok {
			return nil, bad(fmt.Sprintf("$TTL %q is not a TTL: want seconds or a duration such as 1h30m", fields[1]))
		}
		st.ttl = ttl
	case "$INCLUDE":
		if len(fields) < 2 || len(fields) > 3 {
			return nil, bad(fmt.Sprintf("$INCLUDE needs a file name and an optional origin, found %d words", len(fields)-1))
		}
		if st.depth >= maxIncludeDepth {
			return nil, bad(fmt.Sprintf("$INCLUDE %s: nested too deep, at most %d levels are allowed", fields[1], maxIncludeDepth))
		}
		inc := fields[1]
		if !filepath.IsAbs(inc) {
			inc = filepath.Join(filepath.Dir(path), inc)
		}
		data, err := os.ReadFile(inc)
		if err != nil {
			return nil, bad(fmt.Sprintf("$INCLUDE %s: %v", fields[1], err))
		}
		// Like the zone parser, the included file starts with the TTL state
		// in force here, and changes nothing in this file's state.
		sub := &slowState{origin: st.origin, ttl: st.ttl, depth: st.depth + 1}
		if len(fields) == 3 {
			o, ok := zonetext.AbsName(fields[2], st.origin)
			if !ok {
				return nil, bad(fmt.Sprintf("$INCLUDE origin %q is not a valid domain name", fields[2]))
			}
			sub.origin = o
		}
		return sub.parse(inc, data)
	default:
		// $GENERATE, expanded as BIND does. As in BIND (and the zone
		// parser), the generated records do not change the previous
		// owner of the lines that follow.
		return st.generate(path, e)
	}
	return nil, nil
}

// entry is one logical line of a master file: a record or a directive,
// with parenthesised continuations joined.
type entry struct {
	line int
	text string

	// unclosed is "(" or `"` when the entry runs to the end of the file
	// because that was never closed, at openLine.
	unclosed string
	openLine int
}

// splitEntries cuts master-file text into entries, honouring quotes,
// backslash escapes, ";" comments and parentheses (RFC 1035 section 5.1).
func splitEntries(s string) []entry {
	var out []entry
	line, start, startLine := 1, 0, 1
	depth, parenLine, quoteLine := 0, 0, 0
	inQuote, inComment := false, false
	flush := func(end int) {
		t := s[start:end]
		if strings.TrimSpace(zonetext.StripComment(t)) != "" {
			out = append(out, entry{line: startLine, text: t})
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			inComment = false
			if depth == 0 && !inQuote {
				flush(i)
				start, startLine = i+1, line+1
			}
			line++
		case inComment:
		case c == '\\':
			i++
			if i < len(s) && s[i] == '\n' {
				line++
			}
		case c == '"':
			inQuote, quoteLine = !inQuote, line
		case inQuote:
		case c == ';':
			inComment = true
		case c == '(':
			if depth == 0 {
				parenLine = line
			}
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		}
	}
	if start < len(s) {
		flush(len(s))
		if n := len(out) - 1; n >= 0 && out[n].line == startLine {
			switch {
			case inQuote:
				out[n].unclosed, out[n].openLine = `"`, quoteLine
			case depth > 0:
				out[n].unclosed, out[n].openLine = "(", parenLine
			}
		}
	}
	return out
}

var errUnclosed = errors.New(`unterminated "(" or quoted string`)

// closed reports whether every "(" and quote in s is closed, with the
// rules of splitEntries but without building entries.
func closed(s []byte) bool {
	var c closeState
	c.feed(s)
	return c.closed()
}

// closeState is closed's reading, fed a file piece by piece.
type closeState struct {
	depth              int
	inQuote, inComment bool
	skip               bool // the piece ended in a "\": the next byte is escaped
}

func (st *closeState) feed(s []byte) {
	i := 0
	if st.skip && len(s) > 0 {
		st.skip, i = false, 1
	}
	for ; i < len(s); i++ {
		if !zonetext.CloseSpecial[s[i]] {
			continue // most bytes: one table lookup (this loop reads the whole file)
		}
		switch c := s[i]; {
		case c == '\n':
			st.inComment = false
		case st.inComment:
		case c == '\\':
			if i++; i == len(s) {
				st.skip = true
			}
		case c == '"':
			st.inQuote = !st.inQuote
		case st.inQuote:
		case c == ';':
			st.inComment = true
		case c == '(':
			st.depth++
		case c == ')' && st.depth > 0:
			st.depth--
		}
	}
}

func (st *closeState) closed() bool { return st.depth == 0 && !st.inQuote }

// failedTypes returns whether a record of a type and owner may be among
// the entries that errs (syntax errors) left out: whether the type's name
// is a word of an entry with an error (from the line its parentheses
// opened on to the line of the error) whose owner is that owner, or is not
// written (the previous line's) or not known. An error in another file (an
// $INCLUDE) or without a line could have held anything.
func failedTypes(origin, path string, data []byte, errs ErrorList) func(rrtype uint16, owner string) bool {
	if len(errs) == 0 {
		return nil
	}
	lines := strings.Split(string(data), "\n")
	// start[i] is the line (0-based) where the entry holding line i began.
	start := make([]int, len(lines))
	depth, open := 0, 0
	for i, l := range lines {
		if depth == 0 {
			open = i
		}
		start[i] = open
		if c := strings.IndexByte(l, ';'); c >= 0 && !strings.Contains(l[:c], `"`) {
			l = l[:c]
		}
		depth = max(0, depth+strings.Count(l, "(")-strings.Count(l, ")"))
	}
	type entry struct {
		owner string // "" when not written or not known
		words map[string]bool
	}
	var failed []entry
	for _, e := range errs {
		if e.File != path || e.Line < 1 || e.Line > len(lines) {
			return func(uint16, string) bool { return true }
		}
		first := lines[start[e.Line-1]]
		en := entry{words: map[string]bool{}}
		if f := strings.Fields(first); len(f) > 0 && first[0] != ' ' && first[0] != '\t' && !strings.HasPrefix(f[0], "$") {
			switch {
			case f[0] == "@":
				en.owner = origin
			case strings.HasSuffix(f[0], "."):
				en.owner = Lower(f[0])
			default:
				en.owner = Lower(f[0]) + "." + origin
			}
		}
		for _, l := range lines[start[e.Line-1]:e.Line] {
			for _, w := range strings.Fields(l) {
				en.words[strings.ToUpper(w)] = true
			}
		}
		failed = append(failed, en)
	}
	return func(rrtype uint16, owner string) bool {
		for _, en := range failed {
			if en.words[dns.TypeToString[rrtype]] && (en.owner == "" || en.owner == Lower(owner)) {
				return true
			}
		}
		return false
	}
}
