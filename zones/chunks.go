package zones

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// The fast path's zone parser is most of a large load (57% of it on a
// zone of a million records, build 28%, the collector the rest). With
// more than one core, the file is cut into chunks and each chunk read by
// a zone parser of its own, on as many goroutines as GOMAXPROCS (at most
// maxParseWorkers); build
// takes their records in file order, so the zone is the one a single
// parser gives. A chunk starts only where a new entry starts with its own
// owner name: at a line beginning with a name character and a word ended
// by a blank, outside
// parentheses, quotes and comments, with the rules of the zone parser's
// lexer (a backslash escapes any byte but a newline). What a zone parser
// carries over from earlier lines is then only the origin and the
// default TTL: each chunk's parser starts with the $ORIGIN and $TTL in
// force there (the fast path's $TTL is never replaced by a record's own
// TTL: fastPrelude), the class is IN on every entry that omits it, and
// the previous owner is the chunk's first line's. Files with an $INCLUDE
// (an included file's errors count its own lines) or that need the slow
// path are never cut (parse, loadStream). A line starting with anything
// else the splitter cannot follow ($GENERATE, a directive it cannot read,
// "$word" as an owner name) ends the cutting: the rest of the file is one
// chunk, read as the single parser would, from the state in force there.

// chunkSize is about how many bytes of the file each chunk holds (the
// tests make it tiny).
var chunkSize = 256 << 10

// chunkWorkers, when above 0, is how many parsers read chunks whatever
// GOMAXPROCS says, and every file is cut (the tests).
var chunkWorkers = 0

// parallelMinLines is the size, in lines, from which a file is cut: a
// small one costs less read by one parser than handed around.
const parallelMinLines = 50_000

// maxParseWorkers bounds the chunk parsers: build takes the records on one
// goroutine, at about a third of the parsers' work, so more parsers would
// only hold more chunks waiting for it.
const maxParseWorkers = 4

// parseWorkers returns how many chunk parsers to run for a file of about
// lines lines: 0 to read it with one parser, as before.
func parseWorkers(lines int) int {
	if chunkWorkers > 0 {
		return chunkWorkers
	}
	if n := runtime.GOMAXPROCS(0); n > 1 && lines >= parallelMinLines {
		return min(n, maxParseWorkers)
	}
	return 0
}

// chunk is a piece of the file for one zone parser, with the state in
// force at its first byte.
type chunk struct {
	data   []byte
	origin string
	ttl    uint32
	line   int // the file's line of data's first byte
	done   chan chunkResult
}

// chunkResult is what a chunk's parser read.
type chunkResult struct {
	rrs  []located
	long bool // zonetext.HasLongString of a record
	err  error
}

// shiftedError is a zone parser's error in a chunk, whose lines count
// from the chunk's prelude: the file's line is the parser's plus shift.
type shiftedError struct {
	err   error
	shift int
}

func (e *shiftedError) Error() string { return e.err.Error() }
func (e *shiftedError) Unwrap() error { return e.err }

// fastError is the error of the fast path's parser as an Error at the
// file's line: the parser counted fastPrelude's line, or a chunk's.
func fastError(err error, path string) *Error {
	shift := -1 // fastPrelude's line
	var se *shiftedError
	if errors.As(err, &se) {
		err, shift = se.err, se.shift
	}
	e := fromParseError(err, path, 0)
	if e.File == path && e.Line > 0 {
		e.Line += shift
	}
	return e
}

// parallelRecords starts the chunk parsers over data, n of them on
// chunks of about size bytes, and
// returns the records in file order, for buildFrom, and wait, which
// stops the parsers (if the records were not all taken) and returns
// whether a record may hold a long string and the first parse error.
func parallelRecords(origin, path string, data io.Reader, n, size int) (records func(yield func(located) bool), wait func() (long bool, err error)) {
	order := make(chan *chunk, n+2)
	jobs := make(chan *chunk, n)
	stop := make(chan struct{})
	// The chunks' texts and record lists go round, rather than being
	// made again for each chunk (about 700 KB a chunk).
	bufs, lists := make(chan []byte, n+4), make(chan []located, n+4)
	var wg sync.WaitGroup
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(jobs)
		sp := splitter{origin: origin, ttl: defaultTTL, line: 1, free: bufs}
		readErr = sp.run(data, size, func(c *chunk) bool {
			select {
			case order <- c:
			case <-stop:
				return false
			}
			select {
			case jobs <- c:
				return true
			case <-stop:
				return false
			}
		})
	}()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				select {
				case <-stop:
					c.done <- chunkResult{err: errStopped}
					continue
				default:
				}
				c.done <- parseChunk(path, c, lists)
				select {
				case bufs <- c.data[:0]:
				default:
				}
				c.data = nil
			}
		}()
	}
	var long bool
	var err error
	records = func(yield func(located) bool) {
		for c := range order {
			res := <-c.done
			if res.err != nil {
				err = res.err
				return
			}
			long = long || res.long
			for _, l := range res.rrs {
				if !yield(l) {
					return
				}
			}
			clear(res.rrs) // no record kept alive from here
			select {
			case lists <- res.rrs[:0]:
			default:
			}
		}
	}
	wait = func() (bool, error) {
		close(stop)
		// A chunk sent on order and never taken from jobs: its worker
		// exits on the closed jobs, so no one waits on it.
		wg.Wait()
		if err == nil {
			err = readErr
		}
		return long, err
	}
	return records, wait
}

var errStopped = errors.New("stopped")

// parseChunk reads one chunk with a zone parser of its own, into a list
// from free if one is there.
func parseChunk(path string, c *chunk, free chan []located) chunkResult {
	prelude := "$TTL " + strconv.FormatUint(uint64(c.ttl), 10) + "\n"
	// The final newline, as fastParser's: every chunk but the last ends
	// with one already.
	r := io.MultiReader(strings.NewReader(prelude), bytes.NewReader(c.data), strings.NewReader("\n"))
	zp := dns.NewZoneParser(r, c.origin, path)
	zp.SetIncludeAllowed(true)
	var res chunkResult
	select {
	case res.rrs = <-free:
	default:
		res.rrs = make([]located, 0, bytes.Count(c.data, []byte{'\n'})+1)
	}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if !res.long && zonetext.HasLongString(rr) {
			res.long = true
		}
		res.rrs = append(res.rrs, located{rr: rr, file: path})
	}
	if err := zp.Err(); err != nil {
		// Parser line 1 is the prelude, line 2 the chunk's first.
		res.rrs, res.err = nil, &shiftedError{err: err, shift: c.line - 2}
	}
	return res
}

// splitter cuts a master file into chunks, following what the zone
// parser carries from line to line.
type splitter struct {
	origin string
	ttl    uint32
	line   int         // of the next chunk's first byte
	stuck  bool        // no more cuts: the rest is one chunk
	free   chan []byte // buffers to reuse

	// Within the chunk being scanned:
	depth              int
	inQuote, inComment bool
	escaped            bool // the byte before was a backslash
	bol                bool // at the start of a line, outside parentheses and quotes
}

// run reads r and hands emit each chunk of about size bytes in order; it
// stops when emit returns false, and returns a read error.
func (sp *splitter) run(r io.Reader, size int, emit func(*chunk) bool) error {
	const readSize = 64 << 10
	buf := make([]byte, 0, size+readSize)
	i, lines := 0, 0 // scanned up to buf[i]; newlines in buf[:i]
	sp.bol = true
	eof, needRead := false, true
	start := func() *chunk {
		return &chunk{origin: sp.origin, ttl: sp.ttl, line: sp.line, done: make(chan chunkResult, 1)}
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
			c.data = buf[:i:i]
			if !emit(c) {
				return nil
			}
			sp.line += lines
			rest := buf[i:]
			buf = sp.buffer(len(rest), max(len(rest), size)+readSize)
			copy(buf, rest)
			i, lines = 0, 0
			c = start()
			sp.depth, sp.inQuote, sp.inComment, sp.escaped, sp.bol = 0, false, false, false, true
		case eof:
			c.data = buf
			emit(c)
			return nil
		default:
			needRead = true
		}
	}
}

// buffer returns a buffer of length n and capacity c or more.
func (sp *splitter) buffer(n, c int) []byte {
	select {
	case b := <-sp.free:
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
func (sp *splitter) scan(buf []byte, i, size int, eof bool) (stop, nl int, more bool) {
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
		if !closeSpecial[c] {
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
func (sp *splitter) directive(line []byte) {
	if bytes.ContainsAny(line, "()\"\\") {
		sp.stuck = true
		return
	}
	fields := blankFields(zonetext.StripComment(string(line)))
	if len(fields) != 2 {
		sp.stuck = true
		return
	}
	switch strings.ToUpper(fields[0]) {
	case "$ORIGIN":
		o, ok := absName(fields[1], sp.origin)
		if !ok {
			sp.stuck = true
			return
		}
		sp.origin = o
	case "$TTL":
		ttl, ok := parseTTL(fields[1])
		if !ok {
			sp.stuck = true
			return
		}
		sp.ttl = ttl
	default:
		sp.stuck = true
	}
}
