package zones

import (
	"bufio"
	"bytes"
	"io"
	"os"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// streamPiece is how much of a file loadStream reads at a time.
const streamPiece = 256 << 10

// loadStream is LoadShared's fast path without the file in memory: a large
// zone's text (27 MB for a million records) would otherwise be live beside
// the zone being built, and on a reload beside the old zone as well. It
// reads the file twice in pieces: once for what Parse looks at in the
// whole text (the words that need the slow path, unclosed parentheses,
// the number of lines), once through the zone parser. It returns nil when
// the file must go the way of Parse: it cannot be read, it needs the slow
// path or includes files, or the fast path found any error, warning or
// long string (Parse then reads it again, and reports it at its lines).
func loadStream(origin, path string, prev *Zone) *Zone {
	origin = Lower(dns.Fqdn(origin))
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	lines, ok := scanStream(f, streamPiece)
	if !ok {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	z, errs, long, err := loadFast(origin, path, bufio.NewReaderSize(f, 64<<10), lines, prev)
	if err != nil || len(errs) > 0 || len(z.warnings) > 0 || long {
		return nil
	}
	return z
}

// scanStream reads r in pieces of size piece and returns its number of lines (plus one),
// and whether the fast path may read it alone: no word of needsSlow, no
// $INCLUDE, every "(" and quote closed.
func scanStream(r io.Reader, piece int) (lines int, ok bool) {
	// The words are looked for in each piece with the end of the one
	// before it, so that one cut in two is found.
	const keep = len("$generate") + 1
	buf := make([]byte, keep+piece)
	carry := 0
	var cs closeState
	lines = 1
	for {
		n, err := io.ReadFull(r, buf[carry:carry+piece])
		piece := buf[carry : carry+n]
		lines += bytes.Count(piece, []byte{'\n'})
		cs.feed(piece)
		window := buf[:carry+n]
		if zonetext.ContainsFold(window, "$generate") || zonetext.ContainsFold(window, "ipseckey") || zonetext.HasGenericKey(window) || zonetext.ContainsFold(window, "$include") {
			return 0, false
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return lines, cs.closed()
		}
		if err != nil {
			return 0, false
		}
		carry = min(keep, len(window))
		copy(buf, window[len(window)-carry:])
	}
}
