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

// chunk is a piece of the file for one zone parser (zonetext.Splitter's),
// and where its parser's result goes.
type chunk struct {
	zonetext.Chunk
	done chan chunkResult
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
		sp := zonetext.Splitter{Origin: origin, TTL: defaultTTL, Line: 1, Free: bufs}
		readErr = sp.Run(data, size, func(tc *zonetext.Chunk) bool {
			c := &chunk{Chunk: *tc, done: make(chan chunkResult, 1)}
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
				case bufs <- c.Data[:0]:
				default:
				}
				c.Data = nil
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
	prelude := "$TTL " + strconv.FormatUint(uint64(c.TTL), 10) + "\n"
	// The final newline, as fastParser's: every chunk but the last ends
	// with one already.
	r := io.MultiReader(strings.NewReader(prelude), bytes.NewReader(c.Data), strings.NewReader("\n"))
	zp := dns.NewZoneParser(r, c.Origin, path)
	zp.SetIncludeAllowed(true)
	var res chunkResult
	select {
	case res.rrs = <-free:
	default:
		res.rrs = make([]located, 0, bytes.Count(c.Data, []byte{'\n'})+1)
	}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if !res.long && zonetext.HasLongString(rr) {
			res.long = true
		}
		res.rrs = append(res.rrs, located{rr: rr, file: path})
	}
	if err := zp.Err(); err != nil {
		// Parser line 1 is the prelude, line 2 the chunk's first.
		res.rrs, res.err = nil, &shiftedError{err: err, shift: c.Line - 2}
	}
	return res
}
